"""Telemetry fails closed and quiet: internal errors are caught, logged once per site, counted."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager

logger = logging.getLogger("mlcost_sdk")

_lock = threading.Lock()
_seen_sites: set[str] = set()
_error_count = 0


def internal_error_count() -> int:
    """How many internal errors instrumentation swallowed so far (surfaced in summaries)."""
    return _error_count


def record_internal_error(site: str, exc: BaseException) -> None:
    global _error_count
    with _lock:
        _error_count += 1
        first = site not in _seen_sites
        _seen_sites.add(site)
    if first:
        logger.warning("mlcost internal error in %s (further ones are counted, not logged): %r",
                       site, exc, exc_info=exc)


@contextmanager
def capture_internal_exceptions(site: str) -> Iterator[None]:
    """Wrap SDK internals: an Exception inside never reaches user code."""
    try:
        yield
    except Exception as exc:  # noqa: BLE001 - the whole point
        record_internal_error(site, exc)
