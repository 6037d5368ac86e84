"""Shared fixtures. Everything is real except NVML/GPU hardware (tests/sampling/fake_nvml.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from mlcost_sdk.testing import Capture, capture

FULL_TAGS = {"team": "search", "model": "bert", "environment": "dev", "cost_center": "cc-1",
             "owner": "ana"}


@pytest.fixture
def cap() -> Iterator[Capture]:
    """mlcost routed to in-memory providers, with all required tags set and a $3.60/h price."""
    with capture(tags=FULL_TAGS, price=3.6, sample_interval_s=0.05) as c:
        yield c
