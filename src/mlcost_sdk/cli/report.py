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
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..errors import InvalidParameterError
from ..reports import focus, page
from ..reports.records import load
from ..reports.rollup import DEFAULT_BY, Row, parse_by, rollup
from ..reports.text import money, percent, quantity, table
from ..reports.usage import Usage, usages
from ..runtime.tags import DEFAULT_REQUIRED_TAGS

_MAX_WARNINGS = 10


def add_input_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("inputs", nargs="*", metavar="FILE",
                   help="JSONL span files (rotated siblings FILE.1, FILE.2... are read too), "
                        "folders, or a Phoenix URL; default: $MLCOST_SPANS_PATH or "
                        "./mlcost-spans.jsonl")
    p.add_argument("--project", default="default",
                   help="Phoenix project to read when an input is a URL (default: default)")


def read_usages(args: argparse.Namespace) -> tuple[list[Usage], dict[str, Any]]:
    """The usages of the command's inputs, and what was read (for --json output); skipped
    records are reported on stderr, one line each (the first few), never as a traceback."""
    from mlcost_sdk.exporters.jsonl import DEFAULT_PATH, PATH_ENV

    loaded = load(args.inputs or [os.environ.get(PATH_ENV) or DEFAULT_PATH],
                  project=args.project)
    for problem in loaded.problems[:_MAX_WARNINGS]:
        print(f"mlcost: warning: skipped {problem}", file=sys.stderr)
    if len(loaded.problems) > _MAX_WARNINGS:
        print(f"mlcost: warning: skipped {len(loaded.problems)} malformed records in all",
              file=sys.stderr)
    meta = {"sources": loaded.sources, "skipped_records": len(loaded.problems),
            "duplicate_records": loaded.duplicates}
    return usages(loaded.records), meta


# Attribution keys a report may group by even when no record carries them (yet).
_KNOWN_KEYS = (*DEFAULT_BY, *DEFAULT_REQUIRED_TAGS, "auto_shutdown")


def check_by(by: Sequence[str], items: Sequence[Usage]) -> None:
    """``--by`` keys must be attribution keys or tags some record carries: a typo (``teem``)
    would otherwise roll everything into one "(none)" group."""
    valid = set(_KNOWN_KEYS).union(*(u.tags for u in items))
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
                         help="output format; focus: FinOps FOCUS 1.x CSV rows (see docs/focus.md)")
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
    items, meta = read_usages(args)
    check_by(by, items)
    if args.html:
        write_output(page.render(items, sources=meta["sources"]), args.html, "--html")
        print(f"mlcost: wrote {args.html}", file=sys.stderr)
    if args.format == "focus":
        write_output(_focus_csv(items), args.output)
        return 0
    rows = rollup(items, by)
    if args.format == "json":
        text = json.dumps({"by": list(by), **meta, "rows": [_record(r, by) for r in rows]},
                          indent=2) + "\n"
    elif args.format == "csv":
        text = _csv(rows, by)
    else:
        text = _table(rows, by) + "\n"
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


def _focus_csv(items: Sequence[Usage]) -> str:
    out = io.StringIO()
    focus.write_csv(focus.focus_rows(items), out)
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
