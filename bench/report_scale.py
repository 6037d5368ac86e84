"""`mlcost report --json` at fleet scale, against the floor of parsing every line.

    python bench/report_scale.py 100000 1000000        # CPU and peak RSS, best of --rounds
    python bench/report_scale.py 10000000 --rounds 1    # memory at 1e7 (a 14 GB file)

Writes N span records shaped as the JSONL exporter writes them (real spans from
``mlcost.inference()``/idle/LLM calls/training runs, re-stamped with fresh ids, times, costs and
one of 24 tag sets) to a temporary file, then runs, as child processes, alternating within each
round: ``mlcost report FILE --json`` and the floor, a bare ``json.loads`` of every line (the
stdlib parser; an ``orjson.loads`` floor is shown too, the parser the report uses). CPU is the
child's user + system time, memory its peak RSS (both from GNU time). The machine is shared: best of
``--rounds`` rounds.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

FLOOR_JSON = "import json,sys\nfor line in open(sys.argv[1],'rb'):\n    json.loads(line)\n"
FLOOR_ORJSON = "import orjson,sys\nfor line in open(sys.argv[1],'rb'):\n    orjson.loads(line)\n"
TEAMS, MODELS, ENVIRONMENTS = ("search", "ads", "feed", "mail"), ("bert", "ranker", "llama"), \
    ("prod", "dev")


def _templates() -> list[dict[str, Any]]:
    """One real record of each kind, from the SDK through the exporter's converter."""
    import mlcost_sdk as mlcost
    from mlcost_sdk import conventions as c
    from mlcost_sdk.exporters.jsonl import span_to_record
    from mlcost_sdk.testing import capture

    tags = {"team": "t", "model": "m", "environment": "dev", "cost_center": "cc", "owner": "o"}
    with capture(tags=tags, price=2.5) as cap:
        with mlcost.training_run("finetune", params=1e6, tags={"experiment_id": "e"}) as run:
            run.step(tokens=100)
        with mlcost.inference("predict", model="bert", params=110e6) as call:
            call.add(tokens=128)
        mlcost.record_llm_call(provider="openai", model="gpt-4o", input_tokens=900,
                               output_tokens=100)
    spans = {kind: cap.spans(kind) for kind in (c.KIND_INFERENCE, c.KIND_IDLE,
                                                 c.KIND_LLM_CALL, c.KIND_TRAINING_RUN)}
    return [span_to_record(found[0]) for found in spans.values() if found]


def _line_format(template: dict[str, Any]) -> bytes:
    """The template's JSON line with %-placeholders for what varies from record to record."""
    from mlcost_sdk import conventions as c

    attributes = {**template["attributes"], c.COST_USD: "@COST@",
                  c.tag_attribute("team"): "@TEAM@", c.tag_attribute("model"): "@MODEL@",
                  c.tag_attribute("environment"): "@ENV@"}
    if c.RUN_ID in attributes:
        attributes[c.RUN_ID] = "@RUN@"
    record = {**template, "trace_id": "@TRACE@", "span_id": "@SPAN@", "parent_span_id": None,
              "start_time_unix_nano": "@START@", "end_time_unix_nano": "@END@",
              "attributes": attributes}
    line = orjson.dumps(record, option=orjson.OPT_APPEND_NEWLINE).replace(b"%", b"%%")
    for name, spec in (("TRACE", b'"%(trace)032x"'), ("SPAN", b'"%(span)016x"'),
                       ("START", b"%(start)d"), ("END", b"%(end)d"), ("COST", b"%(cost)r"),
                       ("TEAM", b'"%(team)s"'), ("MODEL", b'"%(model)s"'),
                       ("ENV", b'"%(env)s"'), ("RUN", b'"run-%(i)d"')):
        line = line.replace(f'"@{name}@"'.encode(), spec)
    return line


def write_spans(path: Path, n: int, seed: int = 1) -> None:
    from mlcost_sdk import conventions as c

    rng = random.Random(seed)
    lines = {t["attributes"][c.KIND]: _line_format(t) for t in _templates()}
    t0 = 1_767_225_600 * 10**9  # 2026-01-01
    with path.open("wb", buffering=1 << 20) as f:
        for i in range(n):
            # a serving fleet: requests, an idle period every 100 records, an LLM call every
            # 50, a training run every 10,000 (each run is held until the end: its ranks)
            kind = c.KIND_TRAINING_RUN if i % 10_000 == 5_000 else c.KIND_IDLE \
                if i % 100 == 99 else c.KIND_LLM_CALL if i % 50 == 24 else c.KIND_INFERENCE
            start = t0 + i * 5_000_000  # a request every 5 ms
            seconds = 0.002 + rng.random() * 0.02 if kind == c.KIND_INFERENCE else 8.0
            f.write(lines[kind] % {
                b"trace": rng.getrandbits(128), b"span": rng.getrandbits(64), b"start": start,
                b"end": start + int(seconds * 1e9), b"cost": rng.random() * 1e-5,
                b"team": TEAMS[i % 4].encode(), b"model": MODELS[i // 4 % 3].encode(),
                b"env": ENVIRONMENTS[i // 12 % 2].encode(), b"i": i})


def measure(argv: list[str]) -> tuple[float, float]:
    """CPU seconds and peak RSS (MB) of one child process running argv. GNU time starts it:
    a child forked from this (large) process would count this process's pages in its peak."""
    with tempfile.NamedTemporaryFile("r") as out:
        subprocess.run(["/usr/bin/time", "-f", "%M %U %S", "-o", out.name, *argv], check=True,
                       stdout=subprocess.DEVNULL)
        kb, user, system = out.read().split()[-3:]
    return float(user) + float(system), int(kb) / 1024


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("sizes", nargs="+", type=int)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--report-only", action="store_true",
                        help="skip the floors (for the memory figure at 1e7)")
    args = parser.parse_args()
    print(f"load average at start: {os.getloadavg()[0]:.1f} ({os.cpu_count()} CPUs)")
    for n in args.sizes:
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "spans.jsonl"
            started = time.perf_counter()
            write_spans(path, n)
            size = path.stat().st_size
            print(f"\n{n:,} spans, {size / 1e6:,.0f} MB ({size / n:.0f} bytes a line; written "
                  f"in {time.perf_counter() - started:.0f} s)")
            runs = {"mlcost report --json": [sys.executable, "-m", "mlcost_sdk", "report",
                                             str(path), "--json"],
                    "floor: json.loads per line": [sys.executable, "-c", FLOOR_JSON, str(path)],
                    "floor: orjson.loads per line": [sys.executable, "-c", FLOOR_ORJSON,
                                                     str(path)]}
            if args.report_only:
                runs = {"mlcost report --json": runs["mlcost report --json"]}
            best = {name: (float("inf"), float("inf")) for name in runs}
            for _ in range(args.rounds):
                for name, argv in runs.items():
                    cpu, rss = measure(argv)
                    best[name] = (min(best[name][0], cpu), min(best[name][1], rss))
            floor = best.get("floor: json.loads per line", (math.nan, 0))[0]
            for name, (cpu, rss) in best.items():
                print(f"  {name:30s} CPU {cpu:7.2f} s ({cpu / floor:4.2f}x the json.loads "
                      f"floor)  peak RSS {rss:7.1f} MB")
    print(f"load average at end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
