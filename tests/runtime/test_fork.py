"""Fork while threads make calls (gunicorn --preload, DataLoader workers): no child hangs, every
child's spans are written, and a child's idle starts at the fork. Real forks of a real
subprocess; the parent's 4 threads are mid-call at every fork."""

from __future__ import annotations

import collections
import json
import subprocess
import sys
from pathlib import Path

import pytest

APPS = Path(__file__).parent / "apps"


@pytest.mark.slow
def test_fifty_forks_under_four_calling_threads_hang_no_child(tmp_path: Path) -> None:
    spans = tmp_path / "spans.jsonl"
    forks = 50
    done = subprocess.run([sys.executable, str(APPS / "fork_storm.py"), str(spans), str(forks)],
                          capture_output=True, text=True, timeout=600, check=True)
    lines = [line for line in done.stdout.splitlines() if line.startswith('{"hung"')]
    assert lines, (done.stdout, done.stderr)
    report = json.loads(lines[-1])
    assert report["hung"] == 0
    assert len(report["children"]) == forks
    # The parent idled 1,000 s (manual clock) before forking: no child re-counts it.
    assert all(ch["idle_usd"] == 0.0 and ch["elapsed_s"] == 0.0 for ch in report["children"])
    names = collections.Counter(json.loads(line)["name"]
                                for line in spans.read_text().splitlines())
    for i in range(forks):  # every child's calls and run reached the file at its exit
        assert names[f"child-{i}"] == 5 and names[f"child-run-{i}"] == 1, i
