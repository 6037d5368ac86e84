"""Forks while 4 threads make inference calls (gunicorn --preload, DataLoader workers).

usage: fork_storm.py SPANS_PATH FORKS. Prints one JSON line: hung children, child spans
expected, each child's idle at the fork."""

from __future__ import annotations

import json
import os
import sys
import threading
import time

import mlcost_sdk as mlcost
from mlcost_sdk.exporters.jsonl import JsonlSpanExporter
from mlcost_sdk.runtime import inference
from mlcost_sdk.runtime.clock import ManualClock

TAGS = {"team": "t", "model": "m", "environment": "dev", "cost_center": "c", "owner": "o"}
CHILD_CALLS = 5


def child(i: int, report_fd: int) -> None:
    summary = inference.inference_summary()
    for _ in range(CHILD_CALLS):
        with mlcost.inference(f"child-{i}"):
            pass
    with mlcost.training_run(f"child-run-{i}", tags={"experiment_id": "e"}) as run:
        run.step(tokens=1)
    os.write(report_fd, json.dumps({"i": i, "idle_usd": summary.idle_cost_usd if summary else None,
                                    "elapsed_s": summary.elapsed_s if summary else None})
             .encode() + b"\n")
    sys.exit(0)  # through atexit: mlcost's bounded exit path flushes the child's spans


def main() -> None:
    path, forks = sys.argv[1], int(sys.argv[2])
    clock = ManualClock()
    # No rotation: the parent's threads write ~100 MB while the children come and go.
    mlcost.configure(tags=TAGS, price=3.6, clock=clock,
                     exporters=[JsonlSpanExporter(path, max_bytes=1 << 40)])
    with mlcost.inference("warm"):
        pass
    clock.advance(1000.0)  # the parent's idle before any fork: a child must not re-count it
    stop = threading.Event()

    def caller() -> None:
        while not stop.wait(0.0002):  # calls in flight at every fork, the GIL still shared
            with mlcost.inference("parent"):
                pass

    threads = [threading.Thread(target=caller) for _ in range(4)]
    for t in threads:
        t.start()
    read_fd, write_fd = os.pipe()
    hung = 0
    for i in range(forks):
        pid = os.fork()
        if pid == 0:
            os.close(read_fd)
            child(i, write_fd)  # leaves through sys.exit: the normal exit path
        deadline = time.monotonic() + 60.0
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                if os.waitstatus_to_exitcode(status) != 0:
                    hung += 1
                break
            if time.monotonic() > deadline:
                hung += 1
                os.kill(pid, 9)
                os.waitpid(pid, 0)
                break
            time.sleep(0.01)
    stop.set()
    for t in threads:
        t.join()
    os.close(write_fd)
    with os.fdopen(read_fd) as reports:
        children = [json.loads(line) for line in reports]
    print(json.dumps({"hung": hung, "children": children}))


if __name__ == "__main__":
    main()
