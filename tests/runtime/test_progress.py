"""The live progress line: its text, and what a real terminal (a pty), a pipe and a pipe that
asked for it (progress=True) receive from a real training run in a subprocess."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mlcost_sdk.runtime.progress import Snapshot, format_line

ROOT = Path(__file__).resolve().parents[2]
RUN = """
import sys, time
if {block_rich}:
    sys.modules["rich"] = None  # as if the console extra were not installed
import mlcost_sdk as mlcost
mlcost.configure(exporters=["none"], price=3.6, on_missing_tags="ignore"{progress})
with mlcost.training_run("demo", params=1e6, total_steps=30, budget_usd=50,
                         peak_flops_per_s=1e12) as run:
    for _ in range(30):
        time.sleep(0.01)
        run.step(tokens=1000)
print("trained", flush=True)
"""


def _script(block_rich: bool = False, progress: str = "") -> list[str]:
    return [sys.executable, "-c", RUN.format(block_rich=block_rich, progress=progress)]


def _run_in_pty(argv: list[str], deadline_s: float = 120.0) -> str:
    """Run with stdout and stderr on a real pseudo-terminal; everything it wrote."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=slave, stderr=slave,
                            cwd=ROOT, env={**os.environ, "COLUMNS": "200", "TERM": "xterm"})
    os.close(slave)
    out = bytearray()
    end = time.monotonic() + deadline_s
    try:
        while time.monotonic() < end:
            ready, _, _ = select.select([master], [], [], 1.0)
            if ready:
                try:
                    chunk = os.read(master, 65536)
                except OSError:  # EIO: the child closed the terminal
                    break
                if not chunk:
                    break
                out += chunk
            elif proc.poll() is not None:
                break
        assert proc.wait(timeout=max(1.0, end - time.monotonic())) == 0, out.decode()
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
    return out.decode("utf-8", "replace")


def test_line_shows_every_figure() -> None:
    line = format_line(Snapshot("ft", 3725.0, 1234, 10_000, 12345.6, 0.3125, 1.5, 12.25, 50.0))
    assert line == ("mlcost ft | 1:02:05 | step 1,234/10,000 (12%) | 12,346 tok/s | MFU 31.2% | "
                    "cost $1.50 | projected $12.25 of $50.00 budget")


def test_line_leaves_out_what_it_does_not_know_and_flags_overspend() -> None:
    assert format_line(Snapshot("ft", 5, 3, None, None, None, None, None, None)) == \
        "mlcost ft | 0:00:05 | step 3 | cost unknown (no price)"
    assert format_line(Snapshot("ft", 5, 3, None, None, None, 2.0, 80.0, 50.0)).endswith(
        "projected $80.00 of $50.00 budget  OVER BUDGET")


@pytest.mark.slow
@pytest.mark.parametrize("block_rich", [False, True], ids=["rich", "plain"])
def test_a_terminal_gets_a_live_line(block_rich: bool) -> None:
    out = _run_in_pty(_script(block_rich))
    assert "trained" in out
    final = "step 30/30 (100%)"
    assert final in out and "tok/s" in out and "MFU " in out and "cost $" in out
    assert "of $50.00 budget" in out
    # redrawn in place: at least the first figures and the final ones, on one line
    assert out.count("mlcost demo | ") >= 2
    assert "\r" in out.split(final)[0]
    # the line ends before the program's own output
    assert out.index(final) < out.index("trained")


@pytest.mark.slow
def test_a_pipe_gets_nothing_unless_asked() -> None:
    quiet = subprocess.run(_script(), capture_output=True, text=True, cwd=ROOT, timeout=120,
                           check=True)
    assert "mlcost demo" not in quiet.stderr and quiet.stdout == "trained\n"
    asked = subprocess.run(_script(progress=", progress=True"), capture_output=True, text=True,
                           cwd=ROOT, timeout=120, check=True)
    lines = [ln for ln in asked.stderr.splitlines() if ln.startswith("mlcost demo | ")]
    assert lines and "step 30/30 (100%)" in lines[-1]
    assert "\r" not in asked.stderr and "\x1b[" not in asked.stderr  # log-friendly lines


def test_a_nested_run_leaves_the_line_to_the_outer_one(
        capsys: pytest.CaptureFixture[str]) -> None:
    import mlcost_sdk as mlcost
    from mlcost_sdk.testing import capture
    from tests.conftest import FULL_TAGS

    with capture(tags=FULL_TAGS, price=1.0, progress=True):
        with mlcost.training_run("outer", tags={"experiment_id": "e"}) as outer:
            with mlcost.training_run("inner", tags={"experiment_id": "e"}) as inner:
                inner.step()
            outer.step()
    err = capsys.readouterr().err
    assert "mlcost outer | " in err and "mlcost inner" not in err
