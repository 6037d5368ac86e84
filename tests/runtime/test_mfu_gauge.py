"""The mlcost.mfu gauge: each running training run's MFU since warm-up, refreshed from the slow
path, labelled like mlcost.cost plus the run name, and gone when the run ends."""

from __future__ import annotations

import pytest

import mlcost_sdk as mlcost
from mlcost_sdk import conventions as c
from mlcost_sdk.runtime.clock import ManualClock
from mlcost_sdk.testing import capture
from tests.conftest import FULL_TAGS


def test_mfu_gauge_while_the_run_goes_on_and_none_after() -> None:
    clock = ManualClock()
    with capture(tags=FULL_TAGS, price=3.6, clock=clock, warmup_steps=2) as cap:
        with mlcost.training_run("ft", tags={"experiment_id": "e"}, params=1e6,
                                 peak_flops_per_s=1e12) as run:
            for _ in range(20):
                clock.advance(0.5)
                run.step(tokens=1000)  # 6e9 FLOPs in 0.5 s: 1.2e10 FLOP/s, MFU 1.2%
            points = cap.metric_points(c.METRIC_MFU)
            assert len(points) == 1
            assert points[0].value == pytest.approx(0.012)
            attrs = dict(points[0].attributes)
            assert attrs[c.RUN_NAME] == "ft" and attrs[c.KIND] == c.KIND_TRAINING_RUN
            assert attrs[c.tag_attribute("team")] == "search"
        assert cap.metric_points(c.METRIC_MFU) == []
