"""Telemetry fails closed and quiet: internal errors are caught, logged once per site, counted."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

logger = logging.getLogger("mlcost_sdk")

_lock = threading.Lock()
_seen_sites: set[str] = set()
_error_count = 0


def internal_error_count() -> int:
    """How many internal errors instrumentation swallowed so far (surfaced in summaries)."""
    return _error_count


def record_internal_error(site: str, exc: BaseException) -> None:
    global _error_count
    from ..errors import MlcostError

    with _lock:
        _error_count += 1
        first = site not in _seen_sites
        _seen_sites.add(site)
    if first and isinstance(exc, MlcostError):  # a setting or input of the user's: not ours
        logger.warning("mlcost: %s: %s (further ones are counted, not logged)", site, exc)
    elif first:
        logger.warning("mlcost internal error in %s (further ones are counted, not logged): %r",
                       site, exc, exc_info=exc)


def record_exception(span: Any, exc: BaseException) -> None:
    """Mark ``span`` failed by ``exc``. By default only the exception's type is recorded: its
    message and stack trace may quote a request body, a prompt or a secret, and they go to
    whatever collector the spans go to. ``configure(record_exception_details=True)`` records
    them (the OTel ``exception`` event in full). Integrations call this, never
    ``span.record_exception`` directly."""
    from opentelemetry.trace import Status, StatusCode

    from .. import conventions as c
    from .config import settings

    kind = type(exc)
    if settings().record_exception_details:
        span.record_exception(exc)
    else:
        name = kind.__qualname__ if kind.__module__ == "builtins" \
            else f"{kind.__module__}.{kind.__qualname__}"
        span.add_event("exception", {c.EXCEPTION_TYPE: name})
    span.set_status(Status(StatusCode.ERROR, kind.__name__))


@contextmanager
def capture_internal_exceptions(site: str) -> Iterator[None]:
    """Wrap SDK internals: an Exception inside never reaches user code."""
    try:
        yield
    except Exception as exc:  # noqa: BLE001 - the whole point
        record_internal_error(site, exc)


def _after_fork_in_child() -> None:
    global _lock
    _lock = threading.Lock()


os.register_at_fork(after_in_child=_after_fork_in_child)
