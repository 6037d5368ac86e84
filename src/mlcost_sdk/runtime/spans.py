"""What spans carry: how a span the runtime or an integration opened records the user's
exception, and (``stamped``) the attributes every inference span of this process shares,
which the export pipeline adds on its way out (``mlcost_sdk.exporters.pipeline``)."""

from __future__ import annotations

from typing import Any

from opentelemetry.trace import Status, StatusCode

from .. import conventions as c
from ._process import stamped
from .config import settings

__all__ = ["record_exception", "stamped"]


def record_exception(span: Any, exc: BaseException) -> None:
    """Mark ``span`` failed by ``exc``. By default only the exception's type is recorded: its
    message and stack trace may quote a request body, a prompt or a secret, and they go to
    whatever collector the spans go to. ``configure(record_exception_details=True)`` records
    them (the OTel ``exception`` event in full). Integrations call this, never
    ``span.record_exception`` directly."""
    kind = type(exc)
    if settings().record_exception_details:
        span.record_exception(exc)
    else:
        name = kind.__qualname__ if kind.__module__ == "builtins" \
            else f"{kind.__module__}.{kind.__qualname__}"
        span.add_event("exception", {c.EXCEPTION_TYPE: name})
    span.set_status(Status(StatusCode.ERROR, kind.__name__))
