"""ASGI middleware (FastAPI, Starlette, any ASGI app): every HTTP request is an inference call.

    app.add_middleware(MlcostASGIMiddleware, model="bert")      # FastAPI / Starlette
    app = MlcostASGIMiddleware(app, model="bert")               # any ASGI app

Pure ASGI, so it needs no framework. A request is costed from its arrival until its response's
last byte is handed to the server (a streaming response until its final chunk; background tasks
that run afterwards are not part of it), or until the client disconnects or the app raises.
Lifespan and websocket scopes pass through untouched. Put opentelemetry-instrumentation-asgi's
``OpenTelemetryMiddleware`` outside this one and the inference span nests under its server span.
An app wrapped twice is costed once, by the outer middleware. ``MlcostMiddleware`` is the
middleware's older name, kept as an alias.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from typing import Any

from mlcost_sdk.instrumentation import capture_internal_exceptions

from ._http_common import attach_span, detach, first_to_cost, request_site, start_request
from ._instrumentor import check_supported

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

__all__ = ["MlcostASGIMiddleware", "MlcostMiddleware"]


class MlcostASGIMiddleware:
    """``MlcostASGIMiddleware(app, model=None, tags=None, aggregate=None, on_server_span=False)``:
    tags are checked here (TagError); ``aggregate`` overrides configure()'s (per-window
    records, see README); ``on_server_span=True`` puts each request's cost attributes on the
    server span an outer instrumentation (opentelemetry-instrumentation-asgi) opened, instead
    of a child span (a request with no recording span around it still gets its own)."""

    def __init__(self, app: ASGIApp, *, model: str | None = None,
                 tags: Mapping[str, str] | None = None, aggregate: bool | None = None,
                 on_server_span: bool = False) -> None:
        check_supported("asgi")
        self.app = app
        self._site = request_site(model, tags, aggregate)
        self._on_server_span = bool(on_server_span)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not first_to_cost(scope):
            await self.app(scope, receive, send)
            return
        root_path = scope.get("root_path", "")
        req = start_request(self._site, scope.get("method", "GET"), self._on_server_span)

        def end(exc: BaseException | None = None) -> None:
            if not req.done:
                req.route = route_template(scope, root_path)
                req.end(exc)

        async def receive_costed() -> Message:
            message = await receive()
            if message["type"] == "http.disconnect":
                end()
            return message

        async def send_costed(message: Message) -> None:
            kind = message["type"]
            if kind == "http.response.start":
                req.status = message["status"]
            last = kind == "http.response.body" and not message.get("more_body", False)
            if last and req.call.adopted:
                end()  # the server span ends as its last byte goes: cost it just before
            await send(message)
            if last:
                end()

        token = attach_span(req.call.span)
        try:
            await self.app(scope, receive_costed, send_costed)
        except BaseException as exc:
            if not req.status:  # the server answers 500 for an app that raised
                req.status = 500
            end(exc)
            raise
        finally:
            detach(token)
        end()


MlcostMiddleware = MlcostASGIMiddleware  # the name before issue 13: public API, kept


def route_template(scope: Scope, root_path: str) -> str | None:
    """The matched route's template ("/predict/{id}"), read from the scope the router filled
    in; None when nothing matched. Never the raw path, whose ids would explode cardinality."""
    path = getattr(scope.get("route"), "path", None)
    if not isinstance(path, str):
        return None
    if scope.get("root_path", "") == root_path:
        return path
    with capture_internal_exceptions("asgi.mounted_route"):
        return _mounted_template(scope, root_path)
    return None


def _mounted_template(scope: Scope, root_path: str) -> str | None:
    """Under a Starlette ``Mount`` the scope keeps only the innermost route, relative to the
    mount; redo the match from the outermost router to join the templates on the way down."""
    from starlette.routing import Match, Mount

    sub: dict[str, Any] = {**scope, "root_path": root_path}
    routes = getattr(scope.get("router"), "routes", ())
    prefix = ""
    while True:
        for route in routes:
            match, child = route.matches(sub)
            if match is Match.FULL:
                break
        else:
            return None
        if not (isinstance(route, Mount) and route.routes):
            return prefix + str(route.path)
        prefix += route.path
        sub.update(child)
        routes = route.routes
