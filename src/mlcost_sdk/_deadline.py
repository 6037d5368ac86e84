"""One deadline shared by every flush and shutdown, so exit waits at most ``shutdown_timeout_s``
in all, whatever the collector does.

Flushes in series each with its own timeout add up (span flush + metric flush + metric shutdown
+ span shutdown held exit for 28-41 s on a hung collector). Instead the exit path opens one
``shared()`` window; everything inside asks ``remaining()`` how long it may still wait, and
blocking work (an exporter stuck on a socket) runs on a daemon helper thread the caller stops
waiting for (``run_bounded``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

from . import _validate as v
from .guard import capture_internal_exceptions

DEFAULT_SHUTDOWN_TIMEOUT_S = 1.5

_timeout_s = DEFAULT_SHUTDOWN_TIMEOUT_S
_until: float | None = None  # monotonic instant of the open shared window, if any


def set_timeout_s(seconds: float) -> None:
    """The bound of one flush or shutdown window (``configure(shutdown_timeout_s=...)``)."""
    global _timeout_s
    _timeout_s = v.in_range("shutdown_timeout_s", seconds, 0, 600, "seconds")


def timeout_s() -> float:
    return _timeout_s


def remaining(at_most: float | None = None) -> float:
    """Seconds this caller may still wait: inside a shared window, what is left of it; outside,
    the configured bound; never more than ``at_most``."""
    left = _timeout_s if _until is None else max(0.0, _until - time.monotonic())
    return left if at_most is None else max(0.0, min(left, at_most))


@contextmanager
def shared(seconds: float | None = None) -> Iterator[None]:
    """Open one window for everything inside; a nested window never extends the outer one.
    Only the exit path opens one (once per process): the window is process-wide, so that the
    helper threads doing the work see it too."""
    global _until
    outer = _until
    mine = time.monotonic() + (_timeout_s if seconds is None else max(0.0, seconds))
    _until = mine if outer is None else min(outer, mine)
    try:
        yield
    finally:
        _until = outer


def run_bounded(works: Sequence[Callable[[], object]], timeout: float,
                name: str = "mlcost-flush") -> bool:
    """Run ``works`` concurrently on daemon threads and wait for all of them at most ``timeout``
    seconds together (so one hung exporter does not eat the others' time). True if all ended.
    A work that outlives the wait is abandoned: at exit, daemon threads do not hold the
    interpreter."""
    deadline = time.monotonic() + max(0.0, timeout)
    threads = []
    for work in works:
        t = threading.Thread(target=_quiet(work), name=name, daemon=True)
        try:
            t.start()
        except RuntimeError:  # interpreter shutting down: no new threads, run it here
            _quiet(work)()
            continue
        threads.append(t)
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))
    return not any(t.is_alive() for t in threads)


def _quiet(work: Callable[[], object]) -> Callable[[], None]:
    def run() -> None:
        with capture_internal_exceptions("flush"):
            work()
    return run
