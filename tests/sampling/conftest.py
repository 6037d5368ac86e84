from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from mlcost_sdk.sampling import Sampler


@pytest.fixture(autouse=True)
def _no_cuda_visible_devices(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)


@pytest.fixture
def new_sampler() -> Iterator[Callable[..., Sampler]]:
    """Makes private Samplers (not the shared one); stops their threads after the test."""
    made: list[Sampler] = []

    def make(**kwargs: Any) -> Sampler:
        made.append(Sampler(**kwargs))
        return made[-1]

    yield make
    for s in made:
        while s.running:
            s.release()
