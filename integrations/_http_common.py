"""What the ASGI and WSGI middlewares share: one inference call per HTTP request.

The call starts when the request arrives and ends when its response's last byte is handed to
the server (or the request fails). Its span carries the route template, the method and the
status code, never the path's values or the body.
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from contextvars import Token
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import Status, StatusCode

from mlcost_sdk import conventions as c
from mlcost_sdk.instrumentation import (
    NOOP_CALL,
    CallSite,
    InferenceCall,
    NoopCall,
    record_internal_error,
)

# Set on the ASGI scope / WSGI environ by the first mlcost middleware a request meets.
_COSTED = "mlcost_sdk.costed"


def first_to_cost(request: MutableMapping[str, Any]) -> bool:
    """True for the outermost mlcost middleware a request (ASGI scope, WSGI environ) passes
    through, False for any inside it: an app wrapped twice (``add_middleware`` and an explicit
    wrap, say) is costed once, by the outer one, with its model and tags."""
    if request.get(_COSTED):
        return False
    request[_COSTED] = True
    return True


def request_site(model: str | None, tags: Mapping[str, str] | None,
                 aggregate: bool | None = None) -> CallSite:
    """A middleware's call site; bad tags raise TagError here, when the app is built.
    ``aggregate`` overrides configure()'s setting (see ``mlcost_sdk.runtime.ledger``)."""
    return CallSite("HTTP", model, tags, aggregate=aggregate)


def attach_span(span: trace.Span) -> Token[Context] | None:
    """Make the request's span current while the app runs; with no span of ours (aggregate
    mode, unsampled) leave the server's context as it is."""
    if not span.get_span_context().is_valid:
        return None
    return otel_context.attach(trace.set_span_in_context(span))


def detach(token: Token[Context] | None) -> None:
    if token is not None:
        otel_context.detach(token)


def start_request(site: CallSite, method: str, on_server_span: bool = False) -> HttpRequest:
    """A started call for one request (a no-op one if mlcost cannot start it). With
    ``on_server_span``, the span current on arrival (the server span an outer instrumentation
    such as opentelemetry-instrumentation-asgi/-wsgi opened) gets the request's cost attributes
    instead of a child span; with no recording span there, the call makes its own."""
    try:
        call = site.call()
        if on_server_span and isinstance(call, InferenceCall):
            call.adopt(trace.get_current_span())
    except Exception as exc:  # noqa: BLE001 - e.g. a required tag missing in 'error' mode
        record_internal_error("http.start_request", exc)
        call = NOOP_CALL
    return HttpRequest(call.start(), method)


class HttpRequest:
    """One request's call; the middleware fills in the route and status before end()."""

    __slots__ = ("call", "method", "route", "status", "done")

    def __init__(self, call: InferenceCall | NoopCall, method: str) -> None:
        self.call = call
        self.method = method
        self.route: str | None = None
        self.status = 0
        self.done = False

    def end(self, exc: BaseException | None = None) -> None:
        """Name the span ``METHOD /route/{template}`` (OpenTelemetry's HTTP server convention),
        add method, route and status, and end the call; only the first call counts."""
        if self.done:
            return
        self.done = True
        call = self.call
        try:  # not capture_internal_exceptions(): a generator context manager, ~1 us a request
            call.set_attribute(c.HTTP_METHOD, self.method)  # applied with the call's own
            own = not call.adopted  # a server span's status is its owner's
            if self.route:  # on a server span too: the convention's name, not the raw path
                call.set_attribute(c.HTTP_ROUTE, self.route)
                call.span.update_name(f"{self.method} {self.route}")
            elif own:
                call.span.update_name(self.method)
            if self.status:
                call.set_attribute(c.HTTP_STATUS_CODE, self.status)
                if own and self.status >= 500:
                    call.span.set_status(Status(StatusCode.ERROR))
        except Exception as error:  # noqa: BLE001 - never into the request
            record_internal_error("http.end", error)
        call.end(exc)
