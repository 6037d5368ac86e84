"""Telemetry fails closed and quiet: what goes wrong inside mlcost is counted, and logged once
per site (in the spirit of sentry-python's ``capture_internal_exceptions``).

The process-wide objects mlcost makes on first use (the sampler, the inference meter) are
:class:`Lazy`: made once under a lock that, like every lock here, is re-made in a forked child.

One mechanism, :class:`OnceLog`, serves every layer: the runtime's internal errors, the
sampler's driver errors, the values the hot path drops and the spans the exporters lose. Its
"already logged" set is bounded (a failing device or a dead collector must not grow memory or
flood the log) and its lock is re-made in a forked child (a thread of the parent may have held
it). The dropped-span count lives here too, upstream of the exporters that write it, so the
runtime's summary reads it without importing an exporter.

Internal to mlcost (the runtime, sampling, exporters and integrations use it); not part of the
documented API.
"""

from __future__ import annotations

import logging
import os
import threading
import weakref
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Generic, Protocol, TypeVar

from .errors import MlcostError

logger = logging.getLogger("mlcost_sdk")

MAX_SITES = 256  # sites remembered per log; past that, occurrences are counted, not logged


class OnceLog:
    """Counts occurrences per site; :meth:`hit` is True only for a site's first one, so the
    caller logs it once. At most ``max_sites`` sites are kept; later new sites count in
    :attr:`total` only."""

    def __init__(self, max_sites: int = MAX_SITES) -> None:
        self._max_sites = max_sites
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()
        self._total = 0
        _holders.add(self)

    def hit(self, site: str, n: int = 1) -> bool:
        """Count ``n`` occurrences at ``site``; True when this is the site's first."""
        with self._lock:
            self._total += n
            if site in self._counts:
                self._counts[site] += n
                return False
            if len(self._counts) >= self._max_sites:
                return False
            self._counts[site] = n
            return True

    @property
    def total(self) -> int:
        """Every occurrence counted so far, at every site."""
        return self._total

    def counts(self) -> dict[str, int]:
        """Occurrences per remembered site."""
        with self._lock:
            return dict(self._counts)

    def _after_fork_in_child(self) -> None:
        self._lock = threading.Lock()


T = TypeVar("T")


class Lazy(Generic[T]):
    """A process-wide object made by ``make`` on first :meth:`get`, once, however many threads
    ask at the same time."""

    def __init__(self, make: Callable[[], T]) -> None:
        self._make = make
        self._value: T | None = None
        self._lock = threading.Lock()
        _holders.add(self)

    def get(self) -> T:
        value = self._value
        if value is None:  # checked again under the lock: only one thread makes it
            with self._lock:
                if self._value is None:
                    self._value = self._make()
                value = self._value
        return value

    def peek(self) -> T | None:
        """The object if it was made, without making it."""
        return self._value

    def take(self) -> T | None:
        """Forget the object (the next get() makes a new one) and return it, if it was made."""
        with self._lock:
            value, self._value = self._value, None
        return value

    def _after_fork_in_child(self) -> None:
        self._lock = threading.Lock()


class _ForkSafe(Protocol):
    def _after_fork_in_child(self) -> None: ...


_holders: weakref.WeakSet[_ForkSafe] = weakref.WeakSet()  # every lock here, re-made after fork


def _after_fork_in_child() -> None:
    for holder in list(_holders):
        holder._after_fork_in_child()


os.register_at_fork(after_in_child=_after_fork_in_child)


# Internal errors: an exception inside mlcost never reaches user code.
_internal_errors = OnceLog()


def internal_error_count() -> int:
    """How many internal errors instrumentation swallowed so far (surfaced in summaries)."""
    return _internal_errors.total


def record_internal_error(site: str, exc: BaseException) -> None:
    """Count an error swallowed at ``site``; the first one per site is logged."""
    if not _internal_errors.hit(site):
        return
    if isinstance(exc, MlcostError):  # a setting or input of the user's: not ours
        logger.warning("mlcost: %s: %s (further ones are counted, not logged)", site, exc)
    else:
        logger.warning("mlcost internal error in %s (further ones are counted, not logged): %r",
                       site, exc, exc_info=exc)


@contextmanager
def capture_internal_exceptions(site: str) -> Iterator[None]:
    """Wrap SDK internals: an Exception inside never reaches user code."""
    try:
        yield
    except Exception as exc:  # noqa: BLE001 - the whole point
        record_internal_error(site, exc)


# Spans lost on the way to an exporter: written by the exporters' span processor, read by the
# runtime's console summary.
_dropped_spans = OnceLog()


def count_dropped_spans(reason: str, n: int) -> bool:
    """Count ``n`` spans lost for ``reason``; True for the reason's first loss (log it)."""
    return _dropped_spans.hit(reason, n)


def dropped_spans() -> int:
    """Spans this process lost on the way to any exporter, all reasons together."""
    return _dropped_spans.total


def dropped_spans_by_reason() -> dict[str, int]:
    """The same count split by reason: queue_full, export_failed, shutdown, deadline."""
    return _dropped_spans.counts()
