"""CLI polish (issue 12 item 6): a --by typo is rejected with the valid keys, anomalies on
short history says it needs two full weeks, the report table splits cost by kind, errors name
the flag, and long training estimates show days."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlcost_sdk.cli import main
from tests.reports.fleet import write_fleet

ESTIMATE = ["estimate", "training", "--params", "7e9", "--tokens", "1e12", "--gpus", "8",
            "--mfu", "0.4", "--peak-tflops", "312"]


@pytest.fixture
def fleet(tmp_path: Path) -> Path:
    path = tmp_path / "mlcost-spans.jsonl"
    write_fleet(path)
    return path


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("command", ["report", "anomalies"])
def test_a_by_typo_is_rejected_with_the_valid_keys(fleet: Path, command: str,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(capsys, command, str(fleet), "--by", "team,teem")
    assert code == 2 and out == ""
    assert err.startswith("mlcost: error: --by='teem' is invalid: must be tag keys among: ")
    for key in ("cost_center", "team", "model", "environment", "experiment_id", "owner"):
        assert key in err


def test_a_tag_only_the_records_carry_is_accepted(fleet: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "report", str(fleet), "--by", "team,owner", "--json")
    assert code == 0 and json.loads(out)["by"] == ["team", "owner"]


def test_report_table_has_a_column_per_kind(fleet: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, "report", str(fleet), "--by", "team")
    header = out.splitlines()[0].split()
    assert code == 0 and header[:6] == ["team", "cost", "training", "serving", "idle", "LLM"]
    _, js, _ = _run(capsys, "report", str(fleet), "--by", "team", "--json")
    total = json.loads(js)["rows"][0]
    cells = next(ln for ln in out.splitlines() if ln.startswith("TOTAL")).split()
    from mlcost_sdk.reports.text import money

    assert cells[1:6] == [money(total[k]) for k in ("cost_usd", "training_usd",
                                                    "inference_usd", "idle_usd", "llm_usd")]


def test_anomalies_on_short_history_say_two_full_weeks_are_needed(
        fleet: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # the fleet starts 2025-03-03: ten days later there is not yet a week to compare with
    code, out, _ = _run(capsys, "anomalies", str(fleet), "--now", "2025-03-13T00:00:00Z")
    assert code == 0 and out.startswith("not enough history:")
    assert "two full weeks" in out and "no group" not in out
    code, out, _ = _run(capsys, "anomalies", str(fleet), "--now", "2025-03-13T00:00:00Z",
                        "--json")
    assert code == 0 and json.loads(out)["enough_history"] is False
    code, out, _ = _run(capsys, "anomalies", str(fleet), "--now", "2025-03-24T00:00:00Z",
                        "--json")
    assert json.loads(out)["enough_history"] is True
    empty = fleet.parent / "empty.jsonl"
    empty.write_text("")
    code, out, _ = _run(capsys, "anomalies", str(empty))
    assert code == 0 and "no records" in out


def test_estimate_errors_name_the_flag(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(capsys, *ESTIMATE, "--gpu-hour-usd", "-3")
    assert code == 2 and "--gpu-hour-usd=-3.0 is invalid" in err and "gpu_hour_usd" not in err
    code, _, err = _run(capsys, *ESTIMATE)
    assert code == 2 and err.startswith("mlcost: error: --gpu-hour-usd is missing")


def test_estimate_training_shows_days_past_48_hours(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(capsys, *ESTIMATE, "--gpu-hour-usd", "3")
    wall = next(ln for ln in out.splitlines() if "wall_clock_hours" in ln)
    # cost-model.md: 4.207e7 s = 11,685 h, about 487 days
    assert code == 0 and wall.split()[1:] == ["11,685.36", "h", "(486.9", "days)"]
    code, out, _ = _run(capsys, *ESTIMATE[:5], "1e9", *ESTIMATE[6:], "--gpu-hour-usd", "3")
    wall = next(ln for ln in out.splitlines() if "wall_clock_hours" in ln)
    assert "days" not in wall
