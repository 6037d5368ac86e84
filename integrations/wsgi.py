"""WSGI middleware (Flask, any WSGI app): every HTTP request is an inference call.

    app.wsgi_app = MlcostWSGIMiddleware(app.wsgi_app, model="bert")    # Flask
    app = MlcostWSGIMiddleware(app, model="bert", route_resolver=my_resolver)

Needs no framework. A request is costed from its arrival until the server closes its response
body (a streaming body until its last chunk), or until the app raises. The route template is
Flask's ``url_rule`` ("/predict/<int:id>") when the app is Flask, else whatever
``route_resolver(environ)`` returns, called when the app starts its response (after routing).
The span is current while the app runs, so spans the view opens nest under it. An app wrapped
twice is costed once, by the outer middleware.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from types import TracebackType
from typing import Any

from mlcost_sdk.instrumentation import capture_internal_exceptions

from ._http_common import (
    HttpRequest,
    attach_span,
    detach,
    first_to_cost,
    request_site,
    start_request,
)

Environ = dict[str, Any]
ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]
StartResponse = Callable[..., Any]
WSGIApp = Callable[[Environ, StartResponse], Iterable[bytes]]
RouteResolver = Callable[[Environ], str | None]

__all__ = ["MlcostWSGIMiddleware", "flask_route"]


def flask_route(environ: Environ) -> str | None:
    """The rule Flask matched ("/predict/<int:id>"), from the request Flask keeps in environ."""
    rule = getattr(environ.get("werkzeug.request"), "url_rule", None)
    route = getattr(rule, "rule", None)
    return route if isinstance(route, str) else None


class MlcostWSGIMiddleware:
    """``MlcostWSGIMiddleware(app, model=None, tags=None, route_resolver=flask_route,
    aggregate=None, on_server_span=False)``: tags are checked here (TagError); ``aggregate``
    overrides configure()'s; ``on_server_span=True`` puts each request's cost attributes on the
    server span an outer instrumentation (opentelemetry-instrumentation-wsgi) opened, instead
    of a child span."""

    def __init__(self, app: WSGIApp, *, model: str | None = None,
                 tags: Mapping[str, str] | None = None,
                 route_resolver: RouteResolver = flask_route,
                 aggregate: bool | None = None, on_server_span: bool = False) -> None:
        self.app = app
        self._site = request_site(model, tags, aggregate)
        self._resolve = route_resolver
        self._on_server_span = bool(on_server_span)

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        if not first_to_cost(environ):
            return self.app(environ, start_response)
        req = start_request(self._site, environ.get("REQUEST_METHOD", "GET"),
                            self._on_server_span)

        def start_costed(status: str, headers: list[tuple[str, str]],
                         exc_info: ExcInfo | None = None) -> Any:
            with capture_internal_exceptions("wsgi.start_response"):
                req.status = int(status[:3])
                req.route = self._resolve(environ)
            return start_response(status, headers, exc_info)

        token = attach_span(req.call.span)
        try:
            body = self.app(environ, start_costed)
        except BaseException as exc:
            if not req.status:  # the server answers 500 for an app that raised
                req.status = 500
            req.end(exc)
            raise
        finally:
            detach(token)
        # Servers compute Content-Length from len() of a one-item body: keep len() when it exists.
        return (_SizedBody if hasattr(body, "__len__") else _Body)(body, req)


class _Body:
    """The app's body, ending the request when the server closes it (PEP 3333)."""

    __slots__ = ("_body", "_req")

    def __init__(self, body: Iterable[bytes], req: HttpRequest) -> None:
        self._body = body
        self._req = req

    def __iter__(self) -> Iterator[bytes]:
        try:
            yield from self._body
        except BaseException as exc:
            self._req.end(exc)
            raise

    def close(self) -> None:
        try:
            close = getattr(self._body, "close", None)
            if close is not None:
                close()
        finally:
            self._req.end()


class _SizedBody(_Body):
    __slots__ = ()

    def __len__(self) -> int:
        return len(self._body)  # type: ignore[arg-type]
