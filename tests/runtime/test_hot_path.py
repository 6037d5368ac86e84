"""Nonsense on the hot path never raises into user code and never reaches a figure; mlcost's
own attributes survive the span attribute limit whatever the user's tags."""

from __future__ import annotations

import math
import warnings

import mlcost_sdk as mlcost
from mlcost_sdk import conventions as c
from mlcost_sdk.guard import OnceLog
from mlcost_sdk.runtime import dropped_values
from mlcost_sdk.runtime import tags as tags_module
from mlcost_sdk.runtime.clock import ManualClock
from mlcost_sdk.testing import capture
from tests.conftest import FULL_TAGS

EXP = {"experiment_id": "e"}


def test_bad_counts_are_dropped_counted_and_the_run_stays_sane() -> None:
    clock = ManualClock()
    before = dropped_values().get("run.step.tokens", 0)
    with capture(tags=FULL_TAGS, price=3.6, clock=clock, warmup_steps=0) as cap:
        with mlcost.training_run("t", tags=EXP, params=1e6) as run:
            for bad in (-5, float("nan"), float("inf"), "x", None):
                clock.advance(1.0)
                run.step(tokens=bad)  # type: ignore[arg-type]
            clock.advance(1.0)
            run.step(tokens=100)
    attrs = cap.span(c.KIND_TRAINING_RUN).attributes or {}
    assert attrs[c.STEPS] == 6 and attrs[c.TOKENS] == 100
    assert all(math.isfinite(v) and v >= 0 for v in attrs.values()
               if isinstance(v, float))
    assert dropped_values()["run.step.tokens"] - before == 5


def test_bad_work_on_an_inference_call_is_dropped() -> None:
    with capture(tags=FULL_TAGS, price=3.6) as cap:
        with mlcost.inference("p", model="m", params=1e6) as call:
            call.add(tokens=-3, flops=float("nan"))
            call.add(tokens=7)
    attrs = cap.span(c.KIND_INFERENCE).attributes or {}
    assert attrs[c.TOKENS] == 7


def test_user_tags_are_capped_so_mlcost_attributes_survive() -> None:
    many = {**FULL_TAGS, **{f"t{i:03d}": "v" for i in range(200)}}
    tags_module._capped_warned = OnceLog(max_sites=1)
    with capture(price=3.6) as cap, warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        with mlcost.training_run("t", tags={**many, **EXP}) as run:
            run.step()
    attrs = cap.span(c.KIND_TRAINING_RUN).attributes or {}
    assert attrs[c.KIND] == c.KIND_TRAINING_RUN and c.COST_USD in attrs
    assert attrs[c.tag_attribute("team")] == "search"  # required tags kept first
    assert sum(1 for k in attrs if k.startswith("mlcost.tag.")) == tags_module.MAX_TAGS
    assert sum("tags on one span" in str(w.message) for w in seen) == 1
