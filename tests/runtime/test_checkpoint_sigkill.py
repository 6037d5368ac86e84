"""SIGKILL mid-run loses at most one ledger window of cost: a real training process is killed
once its checkpoints are on disk, and `mlcost report` reads the cost from the latest one."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from mlcost_sdk import conventions as c
from mlcost_sdk.reports import load, usages
from mlcost_sdk.runtime.config import Settings

SCRIPT = textwrap.dedent("""
    import sys, time
    import mlcost_sdk as mlcost

    mlcost.configure(price=3.6, ledger_window_s=0.2, exporters=["jsonl"],
                     tags={"team": "t", "model": "m", "environment": "dev",
                           "cost_center": "cc", "owner": "o", "experiment_id": "e"})
    with mlcost.training_run("doomed") as run:
        while True:
            run.step(tokens=1)
            time.sleep(0.001)
            if sys.argv[1] == "end" and open(sys.argv[2]).read().count('"checkpoint"') >= 2:
                break
""")


def checkpoints(path: Path) -> list[dict[str, object]]:
    if not path.exists():
        return []
    out = []
    for line in path.read_bytes().splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue  # a line being written
        if record["attributes"].get(c.RECORD) == c.RECORD_CHECKPOINT:
            out.append(record)
    return out


def start(tmp_path: Path, mode: str) -> tuple[subprocess.Popen[bytes], Path]:
    path = tmp_path / "spans.jsonl"
    path.touch()
    script = tmp_path / "train.py"
    script.write_text(SCRIPT)
    env = {**os.environ, "MLCOST_SPANS_PATH": str(path)}
    proc = subprocess.Popen([sys.executable, str(script), mode, str(path)], env=env)
    return proc, path


def wait_checkpoints(proc: subprocess.Popen[bytes], path: Path, n: int) -> None:
    deadline = time.monotonic() + 120
    while len(checkpoints(path)) < n:
        assert proc.poll() is None or proc.returncode == 0, "the training process died"
        assert time.monotonic() < deadline, "no checkpoint written within 120 s"
        time.sleep(0.05)


def test_checkpoints_are_on_by_default_every_ten_seconds() -> None:
    assert Settings().ledger_window_s == 10.0


@pytest.mark.slow
def test_sigkill_loses_only_the_last_window(tmp_path: Path) -> None:
    proc, path = start(tmp_path, "kill")
    try:
        wait_checkpoints(proc, path, 2)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(60)
    assert proc.returncode == -signal.SIGKILL
    written = checkpoints(path)
    loaded = load([str(path)])
    assert not [r for r in loaded.records if r.kind == c.KIND_TRAINING_RUN
                and r.attributes.get(c.RECORD) is None]  # the run span died with the process
    (run,) = usages(loaded.records)
    latest = max(written, key=lambda r: int(str(r["end_time_unix_nano"])))
    attrs = latest["attributes"]
    assert isinstance(attrs, dict)
    assert run.cost_usd == pytest.approx(attrs[c.COST_USD], rel=1e-12) and run.cost_usd > 0
    # Cumulative: every checkpoint starts at the run's start, under the (lost) run span.
    assert len({r["start_time_unix_nano"] for r in written}) == 1
    assert len({r["parent_span_id"] for r in written}) == 1
    costs = sorted(float(r["attributes"][c.COST_USD]) for r in written)  # type: ignore[index]
    assert costs[0] < costs[-1]


@pytest.mark.slow
def test_a_run_that_ends_counts_its_final_span_once(tmp_path: Path) -> None:
    proc, path = start(tmp_path, "end")
    assert proc.wait(120) == 0
    loaded = load([str(path)])
    (final,) = [r for r in loaded.records if r.kind == c.KIND_TRAINING_RUN
                and r.attributes.get(c.RECORD) is None]
    assert len(checkpoints(path)) >= 2
    (run,) = usages(loaded.records)
    assert run.cost_usd == pytest.approx(final.cost_usd, rel=1e-12)
