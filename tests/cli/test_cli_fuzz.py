"""Fuzzing the command line and the record reader with what a hostile or broken file, or a
finger slip, gives them: every run ends with exit 0 or 2, never a traceback; an error is one
line; ``--json`` output is strict JSON (no NaN or Infinity); a record is yielded in range or
skipped and counted. Bounded in examples so the quick tier stays quick."""

from __future__ import annotations

import contextlib
import io
import json
import math
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlcost_sdk import conventions as c
from mlcost_sdk.cli import main
from mlcost_sdk.reports.records import MAX_COST_USD, MAX_NS, MAX_SPAN_NS, read

EXTREME_INTS = st.sampled_from([0, 1, -1, 10**9, 1_740_000_000 * 10**9, 2**63 - 1, 2**63, 2**64,
                                10**30, -(10**30), 2**70])
TIMES = st.one_of(EXTREME_INTS, st.integers(min_value=1_700_000_000 * 10**9,
                                            max_value=1_800_000_000 * 10**9))
NUMBERS = st.one_of(st.floats(allow_nan=True, allow_infinity=True), EXTREME_INTS,
                    st.sampled_from([1e308, -1e308, 5e-324, 0.0, 0.5, 1.5]))
KINDS = st.sampled_from([c.KIND_INFERENCE, c.KIND_IDLE, c.KIND_TRAINING_RUN, c.KIND_LLM_CALL,
                         c.KIND_TRAINING_WINDOW, "x", ""])
FLAG_NUMBERS = st.sampled_from(["1e308", "-1e308", "inf", "-inf", "nan", "0", "-0", "-5",
                                "1e-308", "5e-324", "0.5", "3", "1e20", "abc"])
NOWS = st.sampled_from(["9999-12-31T23:59:59", "0001-01-01", "1970-01-01T00:00:00Z",
                        "2025-03-20T00:00:00+14:00", "2262-04-11", "not-a-date"])
TAGS = st.dictionaries(st.sampled_from(["team", "model", "environment", "owner",
                                        "auto_shutdown", "experiment_id", "product"]),
                       st.sampled_from(["a", "b", "", "true", "production", "\u2603"]),
                       max_size=4)


@st.composite
def records(draw: st.DrawFn) -> dict[str, Any]:
    attributes: dict[str, Any] = {c.KIND: draw(KINDS)}
    for name in (c.COST_USD, c.PRICE_USD_PER_HOUR, c.HW_COUNT, c.TOKENS, c.MFU,
                 c.UTILIZATION_MEAN, c.DIST_JOB_MFU):
        if draw(st.booleans()):
            attributes[name] = draw(NUMBERS)
    attributes.update({c.tag_attribute(k): v for k, v in draw(TAGS).items()})
    if draw(st.booleans()):
        attributes[c.RUN_ID] = draw(st.sampled_from(["r1", "r2", 3, None]))
    if draw(st.booleans()):
        attributes[c.HW_KIND] = draw(st.sampled_from(["gpu", "cpu", 7]))
    return {"name": "s", "trace_id": draw(st.sampled_from(["t1", "t2", "", 5])),
            "span_id": draw(st.sampled_from(["a", "b", "c", "d", "e"])),
            "start_time_unix_nano": draw(TIMES), "end_time_unix_nano": draw(TIMES),
            "attributes": attributes,
            "resource": draw(st.sampled_from([{}, {"service.name": "svc"}, [], None]))}


JUNK = st.sampled_from([b"", b"not json", b"[" * 5000 + b"]" * 5000, b"\xff\xfe", b"{}",
                        b'{"trace_id": "t", "span_id": "s"', b"1e999", b"null",
                        b'{"a": NaN}'])
LINES = st.lists(st.one_of(records().map(lambda r: json.dumps(r).encode()), JUNK),
                 max_size=12)


def _flags(draw: st.DrawFn, command: str) -> list[str]:
    if command == "report":
        fmt = draw(st.sampled_from([["--json"], ["--csv"], ["--format", "focus"], []]))
        return fmt + draw(st.sampled_from([[], ["--by", "team,model"], ["--by", "x,,y"]]))
    if command == "idle":
        return ["--json", "--days", draw(FLAG_NUMBERS), "--now", draw(NOWS)]
    return ["--json", "--threshold", draw(FLAG_NUMBERS), "--now", draw(NOWS)]


ESTIMATES = [
    ["training", "--params", "P", "--tokens", "P", "--mfu", "0.4", "--gpu", "h100-sxm",
     "--gpu-hour-usd", "P"],
    ["inference", "--instance-hour-usd", "P", "--rps-per-instance", "P",
     "--monthly-requests", "P"],
    ["llm", "--requests-per-day", "P", "--input-tokens", "P", "--output-tokens", "P",
     "--input-usd-per-1k", "P", "--output-usd-per-1k", "P"],
    ["tco", "--compute-monthly-usd", "P", "--managed-premium", "P", "--engineer-annual-usd",
     "P", "--self-hosted-hours-per-week", "P", "--managed-hours-per-week", "P"],
    ["storage", "--params", "P", "--checkpoints", "P"],
]


def _strict(text: str) -> Any:
    def refuse(constant: str) -> Any:
        raise AssertionError(f"not strict JSON: {constant}")
    return json.loads(text, parse_constant=refuse)


def _run(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)  # an exception escaping here fails the test: that is a traceback
    return code, out.getvalue(), err.getvalue()


def _check(code: int, out: str, err: str, json_out: bool) -> None:
    assert code in (0, 2), (code, err)
    errors = [line for line in err.splitlines() if line.startswith("mlcost: error:")]
    assert (code == 2) == (len(errors) == 1), err
    assert all(line.startswith("mlcost: ") for line in err.splitlines()), err
    if code == 0 and json_out:
        _strict(out)


@pytest.mark.slow  # a fuzz run: dozens of whole reports
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lines=LINES, command=st.sampled_from(["report", "idle", "anomalies"]), data=st.data())
def test_report_commands_survive_any_file(lines: list[bytes], command: str,
                                          data: st.DataObject) -> None:
    argv_flags = data.draw(st.composite(lambda draw: _flags(draw, command))())
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "spans.jsonl"
        path.write_bytes(b"\n".join(lines) + b"\n")
        code, out, err = _run([command, str(path), *argv_flags])
    _check(code, out, err, "--json" in argv_flags)


@settings(max_examples=60, deadline=None)
@given(kind=st.sampled_from(ESTIMATES), values=st.lists(FLAG_NUMBERS, min_size=6, max_size=6),
       json_out=st.booleans(), scenarios=st.booleans())
def test_estimates_survive_any_number(kind: list[str], values: list[str], json_out: bool,
                                      scenarios: bool) -> None:
    given_values = iter(values)
    argv = ["estimate", *(next(given_values) if a == "P" else a for a in kind)]
    argv += ["--json"] * json_out + ["--scenarios"] * scenarios
    _check(*_run(argv), json_out)


@pytest.mark.slow  # a fuzz run: dozens of whole reports
@settings(max_examples=80, deadline=None)
@given(lines=LINES)
def test_the_reader_yields_records_in_range_or_counts_them(lines: list[bytes]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "spans.jsonl"
        path.write_bytes(b"\n".join(lines) + b"\n")
        stream = read([str(path)])
        got = list(stream)
    for r in got:
        assert 0 <= r.start_ns <= r.end_ns <= MAX_NS and r.end_ns - r.start_ns <= MAX_SPAN_NS
        cost = r.attributes.get(c.COST_USD)
        assert cost is None or (math.isfinite(cost) and 0 <= cost <= MAX_COST_USD)
    assert len(got) + stream.skipped + stream.duplicates == sum(1 for x in lines if x.strip())


def test_the_fuzz_findings_stay_fixed(tmp_path: Path) -> None:
    """What the first fuzz run found: a record ending at 1e30 ns or starting before 1970 hung
    `report --format focus` and `anomalies`; `--params 1e308` printed Infinity."""
    good = {"name": "s", "trace_id": "t", "span_id": "a", "start_time_unix_nano": 10**18,
            "end_time_unix_nano": 10**18 + 10**9,
            "attributes": {c.KIND: c.KIND_INFERENCE, c.COST_USD: 0.5}}
    path = tmp_path / "spans.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in (
        good, {**good, "span_id": "b", "end_time_unix_nano": 10**30},
        {**good, "span_id": "c", "start_time_unix_nano": -5},
        {**good, "span_id": "d", "end_time_unix_nano": 10**18 + 400 * 86_400 * 10**9})) + "\n")
    for argv in (["report", "--format", "focus"], ["anomalies", "--json"], ["report", "--json"],
                 ["idle", "--json", "--days", "1e308"]):
        code, out, err = _run([argv[0], str(path), *argv[1:]])
        assert code == 0 and err.count("mlcost: warning: skipped") == 3, (argv, err)
    assert _strict(out)["skipped_records"] == 3
    code, out, err = _run(["estimate", "training", "--params", "1e308", "--tokens", "1e12",
                           "--mfu", "0.4", "--gpu", "h100-sxm", "--gpu-hour-usd", "2", "--json"])
    assert code == 2 and out == "" and err.count("\n") == 1 and "out of range" in err
