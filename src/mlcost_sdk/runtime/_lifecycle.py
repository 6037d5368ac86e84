"""How a process ends without losing its cost or holding its exit: atexit, multiprocessing
children, SIGTERM, fork.

- One exit path (``shutdown``) for all of them, inside one shared deadline
  (``shutdown_timeout_s``): the final idle span, then every provider's flush and shutdown at
  once, each on a daemon thread, so a dead or hung collector costs exit at most that bound.
- ``multiprocessing`` children started by fork leave through ``os._exit``, which skips atexit:
  a forked child registers a ``multiprocessing.util.Finalize`` (run by the child's bootstrap).
- SIGTERM (Kubernetes, Slurm, torchrun tearing down): a handler is installed only where the
  disposition is the default, from the main thread. It ends this process's training runs with
  an error status, flushes within the bound, restores the default and re-raises the signal, so
  the exit status is what it would have been.
"""

from __future__ import annotations

import functools
import os
import signal
import sys
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

from .. import _deadline
from ..guard import capture_internal_exceptions


class Terminated(BaseException):
    """What a training run ended by SIGTERM records as its error."""


_done_in_pid: int | None = None  # the exit path runs once per process


def shutdown(*, end_runs: BaseException | None = None) -> None:
    """The exit path: idle span, then flush and shut down every provider, all within one
    shared deadline. ``end_runs``: end this process's open training runs with that error."""
    global _done_in_pid
    if _done_in_pid == os.getpid():
        return
    _done_in_pid = os.getpid()
    from . import inference, providers, training

    with _deadline.shared():
        works: list[Callable[[], object]] = []
        if end_runs is not None:
            works.extend(functools.partial(run._abort, end_runs) for run in training.open_runs())
        # Runs end and the idle span is emitted first, on bounded threads too: a signal may
        # have interrupted the main thread while it held one of their locks.
        _deadline.run_bounded([*works, inference.shutdown_meter], _deadline.remaining())
        providers.shutdown()
        from ..exporters.pipeline import abandon_all

        abandon_all()  # whatever did not get out in time is counted, by reason


def _at_exit() -> None:
    shutdown()


# ---- multiprocessing children -----------------------------------------------------------------
class _Marker:
    """The object multiprocessing's after-fork registry is keyed by (it keeps a weak ref)."""


_MARKER = _Marker()


def _register_mp_finalizer() -> None:
    # A multiprocessing child clears the finalizers it inherited, then runs the after-fork
    # registry: registering there puts the finalizer in after the clear.
    util = sys.modules.get("multiprocessing.util")
    if util is not None:  # no multiprocessing imported: not one of its children
        util.register_after_fork(_MARKER, _add_finalizer)


def _add_finalizer(_: object) -> None:
    util = sys.modules["multiprocessing.util"]
    util.Finalize(None, _at_exit, exitpriority=100)


# ---- SIGTERM ------------------------------------------------------------------------------------
def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    with capture_internal_exceptions("sigterm"):
        shutdown(end_runs=Terminated("SIGTERM"))
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)  # the exit status stays "killed by SIGTERM"


def install_sigterm_handler(enabled: bool) -> None:
    """Install (or, when disabled, remove) mlcost's SIGTERM handler; never replaces another."""
    if threading.current_thread() is not threading.main_thread():
        return  # signal.signal works only there; a worker thread's configure() leaves it be
    with capture_internal_exceptions("sigterm.install"):
        current: Any = signal.getsignal(signal.SIGTERM)
        if enabled and current is signal.SIG_DFL:
            signal.signal(signal.SIGTERM, _on_sigterm)
        elif not enabled and current is _on_sigterm:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)


# ---- fork ---------------------------------------------------------------------------------------
def _after_fork_in_child() -> None:
    global _done_in_pid
    _done_in_pid = None
    with capture_internal_exceptions("fork.finalizer"):
        _register_mp_finalizer()


os.register_at_fork(after_in_child=_after_fork_in_child)
