"""Waiting for a forked child in a test: a generous deadline, and a child that hangs is killed
(so a fork-safety bug fails the test instead of hanging the run)."""

from __future__ import annotations

import os
import signal
import time

import pytest

DEADLINE_S = 60.0


def child_exit_code(pid: int, what: str, timeout: float = DEADLINE_S) -> int:
    """The exit code of child ``pid``; fails the test (``what`` hung) past ``timeout``."""
    deadline = time.monotonic() + timeout
    while (done := os.waitpid(pid, os.WNOHANG))[0] == 0:
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            pytest.fail(f"the forked child hung on {what}")
        time.sleep(0.02)
    return os.waitstatus_to_exitcode(done[1])
