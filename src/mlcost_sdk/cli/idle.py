"""``mlcost idle``: models, endpoints and runs with no activity for N days (the 30/60-day rule)."""

from __future__ import annotations

import argparse
from typing import Any

from ..reports.idle import IdleFinder
from ..reports.text import money, table, utc
from .report import add_input_arguments, open_inputs, parse_now, read_into, to_json, write_output


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "idle", help="resources unused for N days and what they still cost",
        description="Models, endpoints (http.route) and runs (experiment_id tag or run name) "
                    "with no inference, training or LLM activity for N days, with their owner "
                    "tag, their idle cost over those days, and what the idle policy says: alert "
                    "the owner at 30 days, warn 7 days ahead, stop after 60 days.")
    add_input_arguments(p)
    p.add_argument("--days", type=float, default=30.0, help="days without activity (default 30)")
    p.add_argument("--now", help="judge as of this ISO 8601 time (default: now)")
    p.add_argument("--json", action="store_true", help="JSON instead of a table")
    p.add_argument("-o", "--output", metavar="PATH", help="write to PATH instead of stdout")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    finder = IdleFinder(now_ns=parse_now(args.now), days=args.days)
    now_ns = finder.now_ns
    meta = read_into(open_inputs(args), finder)
    found = finder.found()
    if args.json:
        records = [{"kind": r.kind, "name": r.name, "owner": r.owner,
                    "last_active": utc(r.last_active_ns) if r.last_active_ns else None,
                    "idle_days": r.idle_days, "idle_cost_usd": r.idle_cost_usd,
                    "action": r.action} for r in found]
        text = to_json({"days": args.days, "now": utc(now_ns), **meta, "idle": records})
    elif found:
        text = table(["kind", "name", "owner", "last active", "idle days",
                      f"idle cost ({args.days:g} d)", "action"],
                     [[r.kind, r.name, r.owner or "-", utc(r.last_active_ns),
                       f"{r.idle_days:.1f}", money(r.idle_cost_usd), r.action] for r in found],
                     "llllrrl") + "\n"
    else:
        text = f"nothing unused for {args.days:g} days as of {utc(now_ns)}\n"
    write_output(text, args.output)
    return 0
