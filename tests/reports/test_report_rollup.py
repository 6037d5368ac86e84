"""Roll-ups read back from JSONL written by the real SDK, checked against sums of what was
written (computed here from the specs, not by the report code)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from mlcost_sdk import conventions as c
from mlcost_sdk.errors import InvalidParameterError
from mlcost_sdk.reports.records import load
from mlcost_sdk.reports.rollup import DEFAULT_BY, Row, parse_by, rollup
from mlcost_sdk.reports.usage import usages

from .fleet import ADS_TRAIN, SEARCH_PROD, counted, write_fleet
from .spans import Spec

Fleet = tuple[Path, list[Spec]]


@pytest.fixture
def fleet(tmp_path: Path) -> Fleet:
    path = tmp_path / "spans.jsonl"
    return path, write_fleet(path)


def _cost(specs: list[Spec], kinds: tuple[str, ...] = (), **tags: str) -> float:
    return math.fsum(s.cost or 0.0 for s in counted(specs)
                     if (not kinds or s.kind in kinds)
                     and all(s.tags.get(k) == v for k, v in tags.items()))


def _row(rows: list[Row], *path: str) -> Row:
    (row,) = [r for r in rows if r.path == path]
    return row


def test_totals_match_what_was_written_and_windows_are_not_counted(fleet: Fleet) -> None:
    path, specs = fleet
    loaded = load([str(path)])
    assert not loaded.problems
    assert len(loaded.records) == len(specs)  # windows are read...
    total = rollup(usages(loaded.records))[0].stats
    assert total.cost_usd == pytest.approx(_cost(specs))  # ...but never added to their runs
    assert total.cost_usd != pytest.approx(_cost(specs) + sum(
        s.cost or 0 for s in specs if s.kind == c.KIND_TRAINING_WINDOW))
    assert total.requests == sum(1 for s in specs
                                 if s.kind in (c.KIND_INFERENCE, c.KIND_LLM_CALL))
    assert total.runs == 3  # the two torchrun ranks are one run
    gpu_hours = sum(s.attrs[c.HW_COUNT] * s.seconds / 3600 for s in counted(specs)
                    if s.attrs.get(c.HW_KIND) == "gpu")
    assert total.gpu_hours == pytest.approx(gpu_hours)
    assert total.cpu_hours == pytest.approx(8 * (5 + 15))
    tokens = sum(s.attrs.get(c.TOKENS, 0) + s.attrs.get(c.GEN_AI_INPUT_TOKENS, 0)
                 + s.attrs.get(c.GEN_AI_OUTPUT_TOKENS, 0) for s in counted(specs))
    assert total.tokens == pytest.approx(tokens)


def test_every_group_is_the_sum_of_its_subgroups(fleet: Fleet) -> None:
    path, specs = fleet
    rows = rollup(usages(load([str(path)]).records))
    assert [r.level for r in rows][:2] == [0, 1]
    for parent in rows:
        children = [r for r in rows if r.level == parent.level + 1
                    and r.path[:parent.level] == parent.path]
        if parent.level < len(DEFAULT_BY):
            assert math.fsum(ch.stats.cost_usd for ch in children) == pytest.approx(
                parent.stats.cost_usd)
    for team in ("search", "ads"):
        cc = SEARCH_PROD["cost_center"] if team == "search" else ADS_TRAIN["cost_center"]
        assert _row(rows, cc, team).stats.cost_usd == pytest.approx(_cost(specs, team=team))


def test_realized_cost_per_prediction_includes_idle(fleet: Fleet) -> None:
    path, specs = fleet
    rows = rollup(usages(load([str(path)]).records), ("team", "model", "environment"))
    served = _row(rows, "search", "bert", "prod").stats
    inference = _cost(specs, (c.KIND_INFERENCE,), **SEARCH_PROD)
    idle = _cost(specs, (c.KIND_IDLE,), **SEARCH_PROD)
    n = sum(1 for s in specs if s.kind == c.KIND_INFERENCE)
    assert served.requests == n
    assert served.cost_per_prediction == pytest.approx((inference + idle) / n)
    assert served.idle_share == pytest.approx(idle / (inference + idle))
    assert served.idle_usd == pytest.approx(idle)
    assert _row(rows, "search", "bert", "dev").stats.cost_per_prediction is None  # training only


def test_mfu_comes_from_the_job_span_and_is_weighted_by_cost(fleet: Fleet) -> None:
    path, _ = fleet
    rows = rollup(usages(load([str(path)]).records), ("team",))
    search = _row(rows, "search").stats
    assert search.mfu == pytest.approx(0.42)  # rank 0's whole-job MFU, not the ranks' mean
    ads = _row(rows, "ads").stats
    assert ads.mfu == pytest.approx((4.0 * 0.2 + 12.0 * 0.5) / 16.0)  # unweighted: 0.35
    job = [u for u in usages(load([str(path)]).records) if u.ranks == 2]
    assert len(job) == 1 and job[0].cost_usd == pytest.approx(20.0)
    assert job[0].utilization == pytest.approx(0.8)


def test_by_accepts_any_subset_in_any_order(fleet: Fleet) -> None:
    path, specs = fleet
    rows = rollup(usages(load([str(path)]).records), parse_by("model,team"))
    assert {r.path for r in rows if r.level == 1} == {("bert",), ("ranker",), ("gpt-4o-mini",)}
    assert _row(rows, "bert", "search").stats.cost_usd == pytest.approx(
        _cost(specs, model="bert"))
    rows = rollup(usages(load([str(path)]).records), parse_by("experiment_id"))
    assert _row(rows, "(none)").stats.cost_usd == pytest.approx(
        _cost(specs) - _cost(specs, experiment_id="exp-1") - _cost(specs, experiment_id="exp-7"))
    assert _row(rows, "exp-1").stats.cost_usd == pytest.approx(_cost(specs, experiment_id="exp-1"))


@pytest.mark.parametrize("bad", ["", "team,,model", "team,team", "te am"])
def test_bad_by_names_the_option(bad: str) -> None:
    with pytest.raises(InvalidParameterError, match="--by"):
        parse_by(bad)
