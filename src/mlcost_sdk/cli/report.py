"""``mlcost report FILE...``: cost roll-ups as a table, JSON, CSV, FOCUS CSV or an HTML page.

Also home of what the three report commands (report, idle, anomalies) share: reading their
inputs, with one warning line per skipped record, and ``--now``.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import sys
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..errors import InvalidParameterError
from ..reports import focus, page
from ..reports.focus import Focus
from ..reports.records import Records, SpanRecord, read
from ..reports.rollup import DEFAULT_BY, Rollup, Row, parse_by
from ..reports.text import money, percent, quantity, table
from ..reports.usage import Sink, Usage, feed, stream_usages
from ..runtime.tags import DEFAULT_REQUIRED_TAGS

_MAX_WARNINGS = 10


def add_input_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("inputs", nargs="*", metavar="FILE",
                   help="JSONL span files (rotated siblings FILE.1, FILE.2... are read too), "
                        "folders, or a Phoenix URL; default: $MLCOST_SPANS_PATH or "
                        "./mlcost-spans.jsonl")
    p.add_argument("--project", default="default",
                   help="Phoenix project to read when an input is a URL (default: default)")


def open_inputs(args: argparse.Namespace) -> Records:
    """The command's inputs, streamed (nothing is read until they are iterated)."""
    from mlcost_sdk.exporters.jsonl import DEFAULT_PATH, PATH_ENV

    return read(args.inputs or [os.environ.get(PATH_ENV) or DEFAULT_PATH], project=args.project)


def read_into(records: Records, *sinks: Sink, page_data: page.PageData | None = None,
              ) -> dict[str, Any]:
    """One pass over the records' usages into ``sinks`` (and ``page_data``, which also takes
    the training windows); then the skipped records on stderr, one line each (the first few),
    never a traceback; returns what was read (for --json)."""
    stream: Iterable[SpanRecord] = records
    if page_data is not None:
        stream = page_data.tap(records)
        sinks = (*sinks, page_data)
    feed(stream_usages(stream), *sinks)
    for problem in records.problems[:_MAX_WARNINGS]:
        print(f"mlcost: warning: skipped {problem}", file=sys.stderr)
    if records.skipped > _MAX_WARNINGS:
        print(f"mlcost: warning: skipped {records.skipped} malformed records in all",
              file=sys.stderr)
    return {"sources": records.sources, "skipped_records": records.skipped,
            "duplicate_records": records.duplicates}


def to_json(data: Any) -> str:
    """Strict JSON (no NaN or Infinity, which most parsers refuse): a figure that overflowed is
    the user's one-line error, not output."""
    try:
        return json.dumps(data, indent=2, allow_nan=False) + "\n"
    except ValueError:
        raise ValueError("a figure is out of range (a sum overflowed to infinity): check the "
                         "records' numbers") from None


# Attribution keys a report may group by even when no record carries them (yet).
_KNOWN_KEYS = (*DEFAULT_BY, *DEFAULT_REQUIRED_TAGS, "auto_shutdown")


class TagKeys:
    """The tag keys the usages carry (for check_by), gathered in the one pass."""

    def __init__(self) -> None:
        self.keys: set[str] = set()

    def add(self, u: Usage) -> None:
        self.keys.update(u.tags)


def tag_keys_for(by: Sequence[str]) -> list[TagKeys]:
    """A TagKeys sink when ``--by`` names a key that is not a known attribution key (to tell a
    typo from a custom tag); none otherwise, so the usual report pays nothing for the check."""
    return [TagKeys()] if any(k not in _KNOWN_KEYS for k in by) else []


def check_by(by: Sequence[str], tag_keys: set[str]) -> None:
    """``--by`` keys must be attribution keys or tags some record carries: a typo (``teem``)
    would otherwise roll everything into one "(none)" group."""
    valid = set(_KNOWN_KEYS) | tag_keys
    unknown = [k for k in by if k not in valid]
    if unknown:
        raise InvalidParameterError("--by", ",".join(unknown),
                                    "tag keys among: " + ", ".join(sorted(valid)))


def parse_now(text: str | None) -> int:
    """``--now`` (ISO 8601; UTC when no offset is given) in Unix nanoseconds; default: now."""
    if text is None:
        return int(datetime.now(UTC).timestamp() * 10**9)
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidParameterError("--now", text, "an ISO 8601 date/time, e.g. "
                                    "2025-06-01T00:00:00Z") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return int(when.timestamp()) * 10**9 + when.microsecond * 1000


def write_output(text: str, output: str | None, option: str = "--output") -> None:
    """``text`` to stdout, or to the file ``output`` (a bad path names ``option``)."""
    if output is None:
        sys.stdout.write(text)
        return
    try:
        Path(output).write_text(text, encoding="utf-8")
    except OSError as e:
        raise InvalidParameterError(option, output, f"a writable file path ({e.strerror})") from e


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "report", help="cost roll-ups from exported spans",
        description="Roll costs up along tags (default: " + " > ".join(DEFAULT_BY) + "): "
                    "cost, requests, realized cost per prediction (idle included), idle share, "
                    "cost-weighted MFU and utilization, GPU-hours, tokens.")
    add_input_arguments(p)
    p.add_argument("--by", default=",".join(DEFAULT_BY),
                   help="tag keys to roll up along, outermost first (e.g. team,model)")
    formats = p.add_mutually_exclusive_group()
    formats.add_argument("--format", choices=("table", "json", "csv", "focus"), default="table",
                         help="output format; focus: FinOps FOCUS 1.2 CSV rows (see docs/focus.md)")
    formats.add_argument("--json", dest="format", action="store_const", const="json",
                         help="same as --format json")
    formats.add_argument("--csv", dest="format", action="store_const", const="csv",
                         help="same as --format csv")
    p.add_argument("--html", metavar="OUT.html",
                   help="also write a self-contained HTML page with plots")
    p.add_argument("-o", "--output", metavar="PATH", help="write to PATH instead of stdout")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    by = parse_by(args.by)
    records = open_inputs(args)
    data = page.PageData(by) if args.html else None
    rows = Focus() if args.format == "focus" else Rollup(by)
    keys = tag_keys_for(by)
    meta = read_into(records, rows, *keys, page_data=data)
    check_by(by, keys[0].keys if keys else set())
    if data is not None:
        write_output(page.render_data(data, sources=meta["sources"]), args.html, "--html")
        print(f"mlcost: wrote {args.html}", file=sys.stderr)
    if isinstance(rows, Focus):
        out = io.StringIO()
        focus.write_csv(rows.rows(), out)
        write_output(out.getvalue(), args.output)
        return 0
    roll = rows.rows()
    if args.format == "json":
        text = to_json({"by": list(by), **meta, "rows": [_record(r, by) for r in roll]})
    elif args.format == "csv":
        text = _csv(roll, by)
    else:
        text = _table(roll, by) + "\n"
    write_output(text, args.output)
    return 0


def _record(row: Row, by: Sequence[str]) -> dict[str, Any]:
    return {"level": row.level, "group": dict(zip(by, row.path, strict=False)),
            **row.stats.as_dict()}


def _csv(rows: Sequence[Row], by: Sequence[str]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    stat_names = list(rows[0].stats.as_dict())
    writer.writerow(["level", *by, *stat_names])
    for r in rows:
        values = ["" if v is None else v for v in r.stats.as_dict().values()]
        writer.writerow([r.level, *r.path, *[""] * (len(by) - r.level), *values])
    return out.getvalue()


def _table(rows: Sequence[Row], by: Sequence[str]) -> str:
    headers = [" > ".join(by), "cost", "training", "serving", "idle", "LLM", "requests",
               "cost/pred", "idle share", "MFU", "util", "GPU-h", "CPU core-h", "tokens"]
    body = []
    for r in rows:
        s = r.stats
        label = "  " * (r.level - 1) + r.path[-1] if r.path else "TOTAL"
        body.append([label, money(s.cost_usd), money(s.training_usd), money(s.inference_usd),
                     money(s.idle_usd), money(s.llm_usd), quantity(s.requests),
                     money(s.cost_per_prediction), percent(s.idle_share), percent(s.mfu),
                     percent(s.utilization), quantity(s.gpu_hours), quantity(s.cpu_hours),
                     quantity(s.tokens)])
    return table(headers, body, "l" + "r" * (len(headers) - 1))
