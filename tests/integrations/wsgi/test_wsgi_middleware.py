"""The WSGI middleware on real Flask and plain WSGI apps served by a real waitress on 127.0.0.1."""

from __future__ import annotations

import math
import re
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from flask import Flask, Response, request, stream_with_context
from opentelemetry.trace import StatusCode

from mlcost_sdk import conventions as c
from mlcost_sdk.errors import TagError
from mlcost_sdk.integrations.wsgi import MlcostWSGIMiddleware
from mlcost_sdk.testing import Capture, capture, shutdown_meter
from tests.conftest import FULL_TAGS
from tests.integrations.wsgi.waitress_server import serve


def _flask_app(tracer: Any = None) -> Flask:
    app = Flask(__name__)

    @app.get("/predict/<int:item_id>")
    def predict(item_id: int) -> dict[str, int]:
        if tracer is not None:
            with tracer.start_as_current_span("model.forward"):
                pass
        return {"item": item_id, "score": 2 * item_id}

    @app.post("/embed")
    def embed() -> dict[str, int]:
        return {"chars": len(request.get_json()["text"])}

    @app.get("/boom")
    def boom() -> dict[str, int]:
        raise RuntimeError("model crashed")

    app.wsgi_app = MlcostWSGIMiddleware(app.wsgi_app, model="bert")  # type: ignore[method-assign]
    return app


def test_concurrent_requests_give_one_span_each_and_the_cost_invariant() -> None:
    with capture(tags=FULL_TAGS, price=7.2) as cap:
        with serve(_flask_app()) as url, httpx.Client(base_url=url) as client, \
                ThreadPoolExecutor(8) as pool:
            scores = list(pool.map(lambda i: client.get(f"/predict/{i}").json()["score"],
                                   range(200)))
        final = shutdown_meter()
    assert scores == [2 * i for i in range(200)]
    spans = cap.spans(c.KIND_INFERENCE)
    assert len(spans) == 200
    assert {s.name for s in spans} == {"GET /predict/<int:item_id>"}
    assert {s.attributes[c.HTTP_STATUS_CODE] for s in spans} == {200}
    costs = [s.attributes[c.COST_USD] for s in spans + cap.spans(c.KIND_IDLE)]
    assert final is not None and final.requests == 200
    assert math.fsum(costs) == pytest.approx(7.2 / 3600 * final.elapsed_s, rel=1e-9)


def test_flask_route_method_status_and_never_the_body(cap: Capture) -> None:
    secret = "patient-record-4711"
    with serve(_flask_app(cap.tracer_provider.get_tracer("app"))) as url, \
            httpx.Client(base_url=url) as client:
        assert client.get("/predict/42").json()["score"] == 84
        assert client.post("/embed", json={"text": secret}).json() == {"chars": len(secret)}
        assert client.get("/no/such/99").status_code == 404
        assert client.get("/boom").status_code == 500
    spans = {s.name: s for s in cap.spans(c.KIND_INFERENCE)}
    assert set(spans) == {"GET /predict/<int:item_id>", "POST /embed", "GET", "GET /boom"}
    assert spans["POST /embed"].attributes[c.HTTP_METHOD] == "POST"
    assert spans["GET"].attributes[c.HTTP_STATUS_CODE] == 404
    assert c.HTTP_ROUTE not in spans["GET"].attributes
    assert spans["GET /boom"].attributes[c.HTTP_STATUS_CODE] == 500
    assert spans["GET /boom"].status.status_code is StatusCode.ERROR
    for span in cap.spans():
        assert not any(secret in str(v) for v in span.attributes.values())
        assert not any("42" in str(v) or "99" in str(v)  # path values never leak into http.*
                       for k, v in span.attributes.items() if k.startswith("http."))
    forward = next(s for s in cap.spans() if s.name == "model.forward")
    predict = spans["GET /predict/<int:item_id>"]
    assert forward.parent is not None and forward.parent.span_id == predict.context.span_id


def test_a_streamed_body_is_costed_until_the_server_closes_it(cap: Capture) -> None:
    marks: dict[str, int] = {}
    app = Flask(__name__)

    @app.get("/generate")
    def generate() -> Response:
        def tokens() -> Iterator[str]:
            for i in range(4):
                time.sleep(0.02)
                yield f"token{i} "
            marks["last_chunk"] = time.time_ns()

        return Response(stream_with_context(tokens()), mimetype="text/plain")

    app.wsgi_app = MlcostWSGIMiddleware(app.wsgi_app)  # type: ignore[method-assign]
    with serve(app) as url, httpx.Client(base_url=url) as client:
        assert client.get("/generate").text == "token0 token1 token2 token3 "
        # The client has the last byte before the server thread calls close(): wait for it.
        deadline = time.monotonic() + 60
        while not cap.spans(c.KIND_INFERENCE) and time.monotonic() < deadline:
            time.sleep(0.01)
    span = cap.span(c.KIND_INFERENCE)
    assert span.end_time >= marks["last_chunk"]
    assert span.end_time - span.start_time >= 4 * 0.02 * 1e9 * 0.9
    assert span.attributes[c.HTTP_ROUTE] == "/generate"


def _regex_router(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    if re.fullmatch(r"/users/\d+", environ["PATH_INFO"]):
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"user"]
    start_response("404 Not Found", [("Content-Type", "text/plain")])
    return [b"none"]


def _template(environ: dict[str, Any]) -> str | None:
    return "/users/{id}" if re.fullmatch(r"/users/\d+", environ["PATH_INFO"]) else None


def test_any_wsgi_app_with_a_route_resolver_keeps_its_content_length(cap: Capture) -> None:
    app = MlcostWSGIMiddleware(_regex_router, route_resolver=_template)
    with serve(app) as url, httpx.Client(base_url=url) as client:
        response = client.get("/users/12")
        assert client.get("/nope").status_code == 404
    assert response.text == "user"
    assert response.headers["content-length"] == "4"  # the server still saw a one-item body
    routes = sorted(str(s.attributes.get(c.HTTP_ROUTE)) for s in cap.spans(c.KIND_INFERENCE))
    assert routes == ["/users/{id}", "None"]


def test_exceptions_pass_through_untouched_from_the_app_and_from_its_body(cap: Capture) -> None:
    err = KeyError("missing feature")

    def raises_at_once(environ: Any, start_response: Any) -> list[bytes]:
        raise err

    def raises_midway(environ: Any, start_response: Any) -> Iterator[bytes]:
        start_response("200 OK", [])
        yield b"first"
        raise err

    with pytest.raises(KeyError) as info:
        MlcostWSGIMiddleware(raises_at_once)({"REQUEST_METHOD": "GET"}, lambda *a: None)
    assert info.value is err
    body = MlcostWSGIMiddleware(raises_midway)({"REQUEST_METHOD": "POST"}, lambda *a: None)
    chunks = iter(body)
    assert next(chunks) == b"first"
    with pytest.raises(KeyError) as info:
        next(chunks)
    assert info.value is err
    body.close()
    spans = {s.name: s for s in cap.spans(c.KIND_INFERENCE)}
    assert spans["GET"].status.status_code is StatusCode.ERROR
    assert spans["GET"].attributes[c.HTTP_STATUS_CODE] == 500  # what the server will answer
    assert spans["POST"].status.status_code is StatusCode.ERROR
    assert spans["POST"].attributes[c.HTTP_STATUS_CODE] == 200


def test_bad_tags_fail_at_construction() -> None:
    with pytest.raises(TagError, match="Bad Key"):
        MlcostWSGIMiddleware(_regex_router, tags={"Bad Key": "x"})


def test_on_server_span_puts_the_cost_on_opentelemetry_wsgis_server_span(cap: Capture) -> None:
    """The same option under the real opentelemetry-instrumentation-wsgi and waitress."""
    otel_wsgi = pytest.importorskip("opentelemetry.instrumentation.wsgi")
    from opentelemetry.trace import SpanKind

    app = Flask(__name__)

    @app.get("/predict/<int:item_id>")
    def predict(item_id: int) -> dict[str, int]:
        return {"item": item_id}

    app.wsgi_app = otel_wsgi.OpenTelemetryMiddleware(  # type: ignore[method-assign]
        MlcostWSGIMiddleware(app.wsgi_app, model="bert", on_server_span=True),
        tracer_provider=cap.tracer_provider)
    with serve(app) as url, httpx.Client(base_url=url) as client:
        assert client.get("/predict/3").json() == {"item": 3}
        deadline = time.monotonic() + 60
        while not cap.spans(c.KIND_INFERENCE) and time.monotonic() < deadline:
            time.sleep(0.05)
    [span] = cap.spans(c.KIND_INFERENCE)
    assert span.kind is SpanKind.SERVER and len(cap.spans()) == 1
    assert span.attributes[c.HTTP_ROUTE] == "/predict/<int:item_id>"
    assert span.attributes[c.COST_USD] > 0
    assert span.attributes[c.tag_attribute("model")] == "bert"


def test_an_app_wrapped_twice_is_costed_once_by_the_outer_middleware(cap: Capture) -> None:
    inner = MlcostWSGIMiddleware(_regex_router, model="inner", route_resolver=_template)
    app = MlcostWSGIMiddleware(inner, model="outer", route_resolver=_template)
    with serve(app) as url, httpx.Client(base_url=url) as client:
        assert [client.get("/users/7").text for _ in range(3)] == ["user"] * 3
    spans = cap.spans(c.KIND_INFERENCE)
    assert [s.attributes[c.MODEL] for s in spans] == ["outer"] * 3
    assert {s.attributes[c.HTTP_ROUTE] for s in spans} == {"/users/{id}"}
