"""The one guard: errors inside mlcost are counted, logged once per site, in bounded memory, and
its locks survive a fork."""

from __future__ import annotations

import logging
import os
import threading

import pytest

from mlcost_sdk import guard
from mlcost_sdk.errors import InvalidParameterError
from mlcost_sdk.guard import Lazy, OnceLog
from tests.forking import child_exit_code


def test_first_hit_per_site_only() -> None:
    log = OnceLog()
    assert [log.hit("a"), log.hit("a"), log.hit("b", 3), log.hit("a")] == [True, False, True,
                                                                          False]
    assert log.counts() == {"a": 3, "b": 3} and log.total == 6


def test_remembered_sites_are_bounded() -> None:
    log = OnceLog(max_sites=4)
    firsts = [log.hit(f"device {i}") for i in range(1000)]
    assert sum(firsts) == 4 and len(log.counts()) == 4
    assert log.total == 1000  # every occurrence still counted
    assert not log.hit("device 999")  # past the bound: never logged


def test_capture_swallows_counts_and_logs_once(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="mlcost_sdk")
    before = guard.internal_error_count()
    for _ in range(5):
        with guard.capture_internal_exceptions("test_guard.site"):
            raise ValueError("boom")
    assert guard.internal_error_count() - before == 5
    lines = [r.getMessage() for r in caplog.records if "test_guard.site" in r.getMessage()]
    assert len(lines) == 1 and "internal error" in lines[0]


def test_user_error_is_logged_as_the_users(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="mlcost_sdk")
    guard.record_internal_error("test_guard.user", InvalidParameterError("gpus", -1, "> 0"))
    (record,) = [r for r in caplog.records if "test_guard.user" in r.getMessage()]
    assert "internal" not in record.getMessage() and record.exc_info is None


def test_base_exceptions_pass_through() -> None:
    with pytest.raises(KeyboardInterrupt), guard.capture_internal_exceptions("test_guard.kbd"):
        raise KeyboardInterrupt


def test_dropped_spans_by_reason_add_up() -> None:
    before, by_reason = guard.dropped_spans(), guard.dropped_spans_by_reason()
    guard.count_dropped_spans("test_guard_reason", 7)
    assert not guard.count_dropped_spans("test_guard_reason", 2)
    assert guard.dropped_spans() - before == 9
    assert guard.dropped_spans_by_reason()["test_guard_reason"] \
        - by_reason.get("test_guard_reason", 0) == 9


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_does_not_hang_on_a_lock_the_parent_held() -> None:
    log = OnceLog()
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        with log._lock:
            held.set()
            release.wait(60)

    holder = threading.Thread(target=hold)
    holder.start()
    assert held.wait(60)
    pid = os.fork()
    if pid == 0:  # the child: the lock the parent's thread holds is not ours
        code = 1
        try:
            code = 0 if log.hit("child") and log.total == 1 else 2
        finally:
            os._exit(code)
    release.set()
    holder.join(60)
    assert child_exit_code(pid, "the guard's lock") == 0


def test_lazy_makes_one_object_for_racing_threads() -> None:
    made: list[object] = []
    start = threading.Barrier(8)

    def make() -> object:
        made.append(object())
        return made[-1]

    lazy: Lazy[object] = Lazy(make)
    assert lazy.peek() is None
    got: list[object] = []

    def ask() -> None:
        start.wait(60)
        got.append(lazy.get())

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(made) == 1 and got == made * 8 and lazy.peek() is made[0]
    assert lazy.take() is made[0] and lazy.peek() is None
    assert lazy.get() is made[1]  # made again after take()
