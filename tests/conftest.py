"""Shared fixtures. Everything is real except NVML/GPU hardware (tests/sampling/fake_nvml.py)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, settings

from mlcost_sdk.testing import Capture, capture

# A loaded machine makes any example slow: no per-example deadline, no too-slow health check.
# CI also runs the same examples every time (a red CI must mean a regression, not a new draw).
settings.register_profile("mlcost", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("mlcost-ci", settings.get_profile("mlcost"), derandomize=True,
                          database=None)
settings.load_profile("mlcost-ci" if os.environ.get("CI", "").lower() == "true" else "mlcost")

# Tests on a session-wide real server (tests/backends/conftest.py) share one xdist worker, so
# each server starts once per run however many workers there are (`--dist loadgroup`).
SHARED_SERVER_FIXTURES = ("phoenix", "prometheus")

FULL_TAGS = {"team": "search", "model": "bert", "environment": "dev", "cost_center": "cc-1",
             "owner": "ana"}


@pytest.fixture
def cap() -> Iterator[Capture]:
    """mlcost routed to in-memory providers, with all required tags set and a $3.60/h price."""
    with capture(tags=FULL_TAGS, price=3.6, sample_interval_s=0.05) as c:
        yield c


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if any(name in getattr(item, "fixturenames", ()) for name in SHARED_SERVER_FIXTURES):
            item.add_marker(pytest.mark.xdist_group("backend-servers"))
