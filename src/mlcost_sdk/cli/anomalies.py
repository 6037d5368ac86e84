"""``mlcost anomalies``: tag groups whose weekly cost rose more than 50% week over week."""

from __future__ import annotations

import argparse
from typing import Any

from ..reports.anomalies import NS_PER_WEEK, WeeklyCosts, check_threshold
from ..reports.rollup import DEFAULT_BY, parse_by
from ..reports.text import money, percent, table, utc
from .report import (
    add_input_arguments,
    check_by,
    open_inputs,
    parse_now,
    read_into,
    tag_keys_for,
    to_json,
    write_output,
)


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "anomalies", help="tag groups whose weekly cost rose more than 50%% week over week",
        description="Compares each group's cost over the 7-day windows ending at --now, "
                    "week after week; a group with no cost the week before is new spend.")
    add_input_arguments(p)
    p.add_argument("--threshold", type=float, default=0.5,
                   help="relative rise that counts (default 0.5 = 50%%)")
    p.add_argument("--by", default=",".join(DEFAULT_BY),
                   help="tag keys that define a group (default: %(default)s)")
    p.add_argument("--now", help="weeks end at this ISO 8601 time (default: now)")
    p.add_argument("--json", action="store_true", help="JSON instead of a table")
    p.add_argument("-o", "--output", metavar="PATH", help="write to PATH instead of stdout")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    by = parse_by(args.by)
    now_ns = parse_now(args.now)
    check_threshold(args.threshold)
    weeks, keys = WeeklyCosts(by, now_ns=now_ns), tag_keys_for(by)
    meta = read_into(open_inputs(args), weeks, *keys)
    check_by(by, keys[0].keys if keys else set())
    earliest = weeks.earliest_ns
    # Weeks are compared whole: with less than two of them there is nothing to compare, and
    # "no group rose" would be an answer the data cannot give.
    enough = earliest is not None and now_ns - earliest >= 2 * NS_PER_WEEK
    found = weeks.anomalies(args.threshold) if enough else []
    if args.json:
        records = [{"group": dict(zip(by, a.group, strict=True)),
                    "week_start": utc(a.week_start_ns), "previous_usd": a.previous_usd,
                    "current_usd": a.current_usd, "rise": a.rise} for a in found]
        text = to_json({"by": list(by), "threshold": args.threshold, "now": utc(now_ns),
                        "enough_history": enough, **meta, "anomalies": records})
    elif not enough:
        since = "there are no records" if earliest is None else \
            f"the records start {utc(earliest)}, {(now_ns - earliest) / 86_400e9:.1f} days ago"
        text = ("not enough history: anomalies compare whole weeks, so they need two full weeks "
                f"of records before {utc(now_ns)}; {since}\n")
    elif found:
        text = table(["week from", *by, "previous week", "this week", "rise"],
                     [[utc(a.week_start_ns), *a.group, money(a.previous_usd),
                       money(a.current_usd), "new" if a.rise is None else f"+{percent(a.rise)}"]
                      for a in found], "l" * (1 + len(by)) + "rrr") + "\n"
    else:
        text = f"no group's weekly cost rose more than {percent(args.threshold)}\n"
    write_output(text, args.output)
    return 0
