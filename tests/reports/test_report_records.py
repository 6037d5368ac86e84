"""Reading records: rotated files once each, malformed lines skipped and named, never raised."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from mlcost_sdk import conventions as c
from mlcost_sdk.errors import InvalidParameterError
from mlcost_sdk.reports.records import load

from .spans import T0, Writer, cpu


def _write(path: Path, n: int, **exporter_kwargs: object) -> None:
    w = Writer(path, "svc", **exporter_kwargs)
    for i in range(n):
        w.span(c.KIND_INFERENCE, T0 + timedelta(minutes=i), 1.0, cost=0.01,
               tags={"team": "t"}, **cpu(1, 36.0))
    w.close()


def test_rotated_files_are_read_once_each(tmp_path: Path) -> None:
    path = tmp_path / "mlcost-spans.jsonl"
    _write(path, 40, max_bytes=4000, backup_count=20)
    rotated = sorted(tmp_path.glob("mlcost-spans.jsonl.*"))
    assert len(rotated) >= 2  # the exporter really rotated
    for inputs in ([path], [path, *rotated], [tmp_path]):
        loaded = load([str(p) for p in inputs])
        assert len(loaded.records) == 40 and not loaded.problems
    assert load([str(path), str(path)]).duplicates == 0  # the same file is read once
    copy = tmp_path / "copy.jsonl"
    copy.write_bytes(path.read_bytes())
    assert load([str(path), str(copy)]).duplicates > 0  # the same span twice counts once


def test_malformed_lines_are_skipped_with_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "spans.jsonl"
    _write(path, 3)
    good = json.loads(path.read_text().splitlines()[0])
    bad = [
        b"this is not json",
        b"[1, 2, 3]",
        json.dumps({"trace_id": "ab"}).encode(),
        json.dumps({**good, "span_id": "x1",
                    "attributes": {**good["attributes"], c.COST_USD: -1.0}}).encode(),
        json.dumps({**good, "span_id": "x2", "end_time_unix_nano": 0}).encode(),
        b"\xff\xfe not utf-8",
    ]
    with path.open("ab") as f:
        f.write(b"\n".join(bad) + b"\n" + b'{"name": "torn", "trace_id": "a')  # a cut write
    loaded = load([str(path)])
    assert len(loaded.records) == 3
    assert [p.line for p in loaded.problems] == [4, 5, 6, 7, 8, 9, 10]
    assert all(p.source == str(path) for p in loaded.problems)
    reasons = [p.reason for p in loaded.problems]
    assert "not valid JSON" in reasons[0] and reasons[1] == "not a JSON object"
    assert "'span_id'" in reasons[2] and c.COST_USD in reasons[3]
    assert "end_time_unix_nano" in reasons[4]
    assert str(loaded.problems[0]).startswith(f"{path}:4: ")


def test_a_missing_input_is_one_typed_error(tmp_path: Path) -> None:
    with pytest.raises(InvalidParameterError, match="FILE"):
        load([str(tmp_path / "nope.jsonl")])


def test_resent_spans_count_once_within_a_bounded_window(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A batch written again soon after (a re-send) counts once; memory stays bounded, so a
    span repeated further back than the window is read again (the documented trade-off)."""
    from mlcost_sdk.reports import records

    monkeypatch.setattr(records, "DEDUP_GENERATION", 8)  # remembers the last 8 to 16 keys
    path = tmp_path / "spans.jsonl"
    _write(path, 40)
    lines = path.read_bytes().splitlines(keepends=True)
    with path.open("ab") as f:
        f.writelines(lines[-5:])  # the last batch, re-sent
        f.writelines(lines[:3])  # spans from long ago
    stream = records.read([str(path)])
    assert len(list(stream)) == 43 and stream.duplicates == 5
