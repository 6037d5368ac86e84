"""No price configured: the first run or serving call warns once, saying how to set one, and
the summary says the cost is unknown instead of leaving it out."""

from __future__ import annotations

import warnings

import pytest

import mlcost_sdk as mlcost
from mlcost_sdk import conventions as c
from mlcost_sdk.guard import OnceLog
from mlcost_sdk.runtime import price
from mlcost_sdk.runtime.console_summary import summary_rows
from mlcost_sdk.testing import capture, shutdown_meter
from tests.conftest import FULL_TAGS

HOW = "configure(price=...) or MLCOST_PRICE_USD_PER_HOUR or MLCOST_INSTANCE"


@pytest.fixture(autouse=True)
def _no_price_anywhere(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("MLCOST_PRICE_USD_PER_HOUR", "MLCOST_INSTANCE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(price, "_no_price", OnceLog(max_sites=1))


def _no_price_warnings(record: list[warnings.WarningMessage]) -> list[str]:
    return [str(w.message) for w in record if issubclass(w.category, mlcost.NoPriceWarning)]


def test_first_run_warns_once_and_summary_says_cost_unknown() -> None:
    with capture(tags=FULL_TAGS) as cap, warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        for _ in range(2):
            with mlcost.training_run("t", tags={"experiment_id": "e"}) as run:
                run.step()
        with mlcost.inference("predict"):
            pass
    found = _no_price_warnings(record)
    assert len(found) == 1 and "training run 't' has no price" in found[0] and HOW in found[0]
    assert all(c.COST_USD not in s.attributes for s in cap.spans(c.KIND_TRAINING_RUN))
    assert str(run.summary).count(f"unknown — no price set ({HOW})") == 1
    assert run.summary.cost_usd is None


def test_serving_warns_and_its_exit_summary_says_cost_unknown(
        capsys: pytest.CaptureFixture[str]) -> None:
    with capture(tags=FULL_TAGS, console_summary=True), \
            warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        with mlcost.inference("predict"):
            pass
        shutdown_meter()
    assert "serving (inference) has no price" in _no_price_warnings(record)[0]
    err = capsys.readouterr().err
    assert f"unknown — no price set ({HOW})" in err and "$0.00" not in err


def test_a_priced_run_neither_warns_nor_says_unknown() -> None:
    with capture(tags=FULL_TAGS, price=1.0), warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        with mlcost.training_run("t", tags={"experiment_id": "e"}) as run:
            run.step()
    assert _no_price_warnings(record) == [] and "unknown" not in str(run.summary)


def test_warnings_as_errors_never_reach_the_application() -> None:
    with capture(tags=FULL_TAGS), warnings.catch_warnings():
        warnings.simplefilter("error")
        with mlcost.training_run("t", tags={"experiment_id": "e"}) as run:
            run.step()
    assert run.summary.steps == 1 and run.summary.duration_s >= 0


def test_summary_row_only_when_the_price_source_is_none() -> None:
    assert dict(summary_rows({c.PRICE_SOURCE: "none"}))["cost"].startswith("unknown — no price")
    assert "cost" not in dict(summary_rows({c.PRICE_SOURCE: "user"}))


def test_the_warning_points_at_the_application_line() -> None:
    with capture(tags=FULL_TAGS), warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        with mlcost.training_run("t", tags={"experiment_id": "e"}):  # <- this line
            pass
    found = [w for w in record if issubclass(w.category, mlcost.NoPriceWarning)]
    assert found[0].filename == __file__


def test_an_unpriced_llm_model_warns_once_with_how_to_price_it(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(price, "_unpriced_models", OnceLog(max_sites=100))
    with capture(tags=FULL_TAGS), warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        for _ in range(3):
            cost = mlcost.record_llm_call(provider="openai", model="no-such-model-xyz",
                                          input_tokens=10, output_tokens=5)
            assert cost is None
        mlcost.record_llm_call(provider="openai", model="no-such-model-xyz",
                               input_tokens=10, output_tokens=5,
                               input_usd_per_1k=1.0, output_usd_per_1k=2.0)
    found = _no_price_warnings(record)
    assert len(found) == 1 and "openai/no-such-model-xyz" in found[0]
    assert "input_usd_per_1k=" in found[0] and "output_usd_per_1k=" in found[0]
