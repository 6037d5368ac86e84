"""`mlcost report | idle | anomalies` through the real command line entry point."""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path

import pytest

from mlcost_sdk.cli import main
from mlcost_sdk.reports.text import money

from .fleet import counted, write_fleet
from .spans import Spec

Run = tuple[int, str, str]


@pytest.fixture
def fleet(tmp_path: Path) -> tuple[Path, list[Spec]]:
    path = tmp_path / "mlcost-spans.jsonl"
    return path, write_fleet(path)


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> Run:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _total(specs: list[Spec]) -> float:
    return math.fsum(s.cost or 0 for s in counted(specs))


def test_table_json_and_csv_agree(fleet: tuple[Path, list[Spec]],
                                  capsys: pytest.CaptureFixture[str]) -> None:
    path, specs = fleet
    code, out, err = _run(capsys, "report", str(path))
    assert code == 0 and err == ""
    total_line = next(line for line in out.splitlines() if line.startswith("TOTAL"))
    assert money(_total(specs)) in total_line
    code, out, _ = _run(capsys, "report", str(path), "--json", "--by", "team,model")
    report = json.loads(out)
    assert code == 0 and report["by"] == ["team", "model"] and report["skipped_records"] == 0
    assert report["rows"][0]["cost_usd"] == pytest.approx(_total(specs))
    teams = {r["group"]["team"]: r["cost_usd"] for r in report["rows"] if r["level"] == 1}
    assert teams == pytest.approx({t: math.fsum(s.cost or 0 for s in counted(specs)
                                                if s.tags["team"] == t)
                                   for t in ("search", "ads")})
    code, out, _ = _run(capsys, "report", str(path), "--csv", "--by", "team,model")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert code == 0 and len(rows) == len(report["rows"])
    assert [float(r["cost_usd"]) for r in rows] == pytest.approx(
        [r["cost_usd"] for r in report["rows"]])


def test_focus_and_html_files(fleet: tuple[Path, list[Spec]], tmp_path: Path,
                              capsys: pytest.CaptureFixture[str]) -> None:
    path, specs = fleet
    out_csv, out_html = tmp_path / "focus.csv", tmp_path / "report.html"
    code, out, err = _run(capsys, "report", str(path), "--format", "focus", "-o", str(out_csv),
                          "--html", str(out_html))
    assert code == 0 and out == "" and str(out_html) in err
    rows = list(csv.DictReader(out_csv.open()))
    assert math.fsum(float(r["BilledCost"]) for r in rows) == pytest.approx(_total(specs))
    assert out_html.read_text().startswith("<!doctype html>")


def test_malformed_lines_warn_with_file_and_line(fleet: tuple[Path, list[Spec]],
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    path, specs = fleet
    lines = len(path.read_text().splitlines())
    with path.open("a") as f:
        f.write("{not json\n")
    code, out, err = _run(capsys, "report", str(path), "--json")
    assert code == 0 and "Traceback" not in err
    assert err.splitlines() == [
        f"mlcost: warning: skipped {path}:{lines + 1}: not valid JSON (Expecting property name "
        "enclosed in double quotes)"]
    assert json.loads(out)["rows"][0]["cost_usd"] == pytest.approx(_total(specs))


def test_default_input_is_the_exporters_file(fleet: tuple[Path, list[Spec]],
                                             monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    path, specs = fleet
    monkeypatch.setenv("MLCOST_SPANS_PATH", str(path))
    code, out, _ = _run(capsys, "report", "--json")
    assert code == 0 and json.loads(out)["rows"][0]["cost_usd"] == pytest.approx(_total(specs))


@pytest.mark.parametrize(("argv", "names"), [
    (["report", "/nonexistent/spans.jsonl"], "FILE"),
    (["report", "{path}", "--by", "team,,model"], "--by"),
    (["report", "{path}", "--json", "--csv"], "--csv"),
    (["idle", "{path}", "--days", "-3"], "--days"),
    (["idle", "{path}", "--now", "yesterday"], "--now"),
    (["anomalies", "{path}", "--threshold", "0"], "--threshold"),
    (["report", "{path}", "--html", "/nonexistent/dir/r.html"], "--html"),
    (["report", "{path}", "-o", "/nonexistent/dir/r.txt"], "--output"),
])
def test_bad_input_is_one_line_and_exit_2(fleet: tuple[Path, list[Spec]], argv: list[str],
                                          names: str,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    path, _ = fleet
    code, out, err = _run(capsys, *[a.format(path=path) for a in argv])
    assert code == 2 and out == ""
    assert len(err.splitlines()) == 1 and err.startswith("mlcost: error: ") and names in err


def test_idle_and_anomalies_commands(fleet: tuple[Path, list[Spec]],
                                     capsys: pytest.CaptureFixture[str]) -> None:
    path, _ = fleet
    # the last request ended on day 13 (2025-03-16) at 10:05:02; LLM calls ran on day 17
    code, out, _ = _run(capsys, "idle", str(path), "--days", "30", "--now",
                        "2025-04-20T00:00:00Z", "--json")
    found = {(r["kind"], r["name"]): r for r in json.loads(out)["idle"]}
    assert code == 0 and found[("model", "bert")]["owner"] == "ana"
    assert found[("model", "bert")]["action"] == "alert owner"
    assert found[("endpoint", "bert-api /predict")]["idle_days"] == pytest.approx(
        35 - (10 * 3600 + 5 * 60 + 2) / 86400)
    code, out, _ = _run(capsys, "idle", str(path), "--now", "2025-03-18T00:00:00Z")
    assert code == 0 and out.startswith("nothing unused for 30 days")
    code, out, _ = _run(capsys, "anomalies", str(path), "--by", "team", "--now",
                        "2025-03-24T00:00:00Z", "--json")
    anomalies = json.loads(out)["anomalies"]
    # ads: week 2 (LLM $0.20) -> week 3 (LLM $0.80 + the $12 run), +6300%
    assert code == 0 and [a["group"] for a in anomalies] == [{"team": "ads"}]
    assert anomalies[0]["current_usd"] == pytest.approx(12.8)
    code, out, _ = _run(capsys, "anomalies", str(path), "--by", "team", "--now",
                        "2025-03-24T00:00:00Z")
    assert code == 0 and "ads" in out and "+6300.0%" in out
