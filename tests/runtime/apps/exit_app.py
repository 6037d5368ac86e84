"""A small application for the failure tests, run as a real subprocess.

usage: exit_app.py MODE SPANS_PATH [N]
  collector  N inference calls to the OTLP collector the environment names; at the very end
             (an atexit handler registered before mlcost's, so it runs after them) prints
             {"ended": spans ended, "dropped": {reason: n}, "exit_path_s": seconds from the
             app's last line to the end of mlcost's exit path}
  sigterm    a training run stepping until it is killed; prints "ready" once it steps
  own_handler  like sigterm, but the app set its own SIGTERM handler first (exits 0 in it)
  mp         N multiprocessing.Process children and a Pool of 2 mapping N tasks, each making
             inference calls (fork start method); prints {"expected": spans the children made}
"""

from __future__ import annotations

import atexit
import json
import logging
import multiprocessing
import os
import signal
import sys
import time
from typing import Any

import mlcost_sdk as mlcost
from mlcost_sdk.guard import dropped_spans_by_reason

TAGS = {"team": "t", "model": "m", "environment": "dev", "cost_center": "c", "owner": "o",
        "experiment_id": "e"}
CALLS_PER_CHILD = 30


class _Ended:
    """Counts the spans mlcost's provider ended (what could be delivered at most)."""

    ended = 0

    def on_start(self, span: Any, parent_context: Any = None) -> None:
        pass

    def on_end(self, span: Any) -> None:
        _Ended.ended += 1

    def _on_ending(self, span: Any) -> None:
        pass

    def shutdown(self) -> None:
        pass

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


def collector(n: int) -> None:
    last_line: list[float] = []

    def report() -> None:  # registered before mlcost's exit handler: runs after it
        print(json.dumps({"ended": _Ended.ended, "dropped": dropped_spans_by_reason(),
                          "exit_path_s": time.monotonic() - last_line[0]}), flush=True)

    atexit.register(report)
    mlcost.configure(tags=TAGS, price=3.6, exporters=["otlp"])
    from mlcost_sdk.runtime import config

    config.tracer_provider().add_span_processor(_Ended())
    for _ in range(n):
        with mlcost.inference("call"):
            pass
    last_line.append(time.monotonic())  # the application's last line


def _steps_until_killed() -> None:
    with mlcost.training_run("doomed", params=1e6) as run:
        for i in range(10**9):
            run.step(tokens=10)
            if i == 100:
                print("ready", flush=True)


def _child_calls(i: int) -> int:
    for _ in range(CALLS_PER_CHILD):
        with mlcost.inference(f"child-{i}"):
            pass
    return i


def mp(n: int) -> None:
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_child_calls, args=(i,)) for i in range(n)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    pool = ctx.Pool(2)
    assert pool.map(_child_calls, range(n, 2 * n)) == list(range(n, 2 * n))
    pool.close()  # the workers leave through os._exit, after multiprocessing's finalizers
    pool.join()
    print(json.dumps({"expected": 2 * n * CALLS_PER_CHILD}), flush=True)


def main() -> None:
    logging.basicConfig(level=logging.WARNING)  # so that any library's log line shows
    mode, path = sys.argv[1], sys.argv[2]
    n = int(sys.argv[3]) if len(sys.argv) > 3 else 0
    os.environ["MLCOST_SPANS_PATH"] = path
    if mode == "collector":
        collector(n)
        return
    if mode == "own_handler":
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    mlcost.configure(tags=TAGS, price=3.6, exporters=["jsonl"])
    if mode == "mp":
        mp(n)
    else:
        _steps_until_killed()


if __name__ == "__main__":
    main()
