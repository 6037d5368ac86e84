"""The ASGI middleware on real FastAPI/Starlette apps served by a real uvicorn on 127.0.0.1."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
from opentelemetry.trace import SpanKind, StatusCode
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, StreamingResponse
from starlette.routing import Mount, Route

from mlcost_sdk import conventions as c
from mlcost_sdk import guard
from mlcost_sdk.errors import TagError
from mlcost_sdk.integrations.asgi import MlcostASGIMiddleware, MlcostMiddleware
from mlcost_sdk.testing import Capture, capture, shutdown_meter
from tests.conftest import FULL_TAGS
from tests.integrations.asgi.uvicorn_server import serve


def _fastapi_app() -> FastAPI:
    app = FastAPI()

    @app.get("/predict/{item_id}")
    async def predict(item_id: int) -> dict[str, int]:
        await asyncio.sleep(0.001)
        return {"item": item_id, "score": item_id * 2}

    @app.post("/embed")
    async def embed(request: Request) -> dict[str, int]:
        return {"chars": len((await request.json())["text"])}

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("model crashed")

    app.add_middleware(MlcostMiddleware, model="bert")
    return app


def _wait_for(predicate: Any, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


@pytest.mark.slow
def test_thousand_concurrent_requests_give_thousand_spans_and_the_cost_invariant() -> None:
    with capture(tags=FULL_TAGS, price=7.2) as cap:
        with serve(_fastapi_app()) as url:
            async def load() -> list[httpx.Response]:
                limits = httpx.Limits(max_connections=16)
                # 1000 requests queue for 16 connections: waiting for one is not a failure on
                # a loaded machine (pool=None), only the whole load's generous deadline is.
                timeout = httpx.Timeout(60, pool=None)
                async with httpx.AsyncClient(base_url=url, limits=limits, timeout=timeout) \
                        as client:
                    return await asyncio.gather(*(client.get(f"/predict/{i}")
                                                  for i in range(1000)))

            responses = asyncio.run(asyncio.wait_for(load(), 600))
        final = shutdown_meter()
    assert [r.json()["score"] for r in responses] == [2 * i for i in range(1000)]
    spans = cap.spans(c.KIND_INFERENCE)
    assert len(spans) == 1000
    assert {s.attributes[c.HTTP_ROUTE] for s in spans} == {"/predict/{item_id}"}
    assert {s.name for s in spans} == {"GET /predict/{item_id}"}
    assert {(s.attributes[c.HTTP_METHOD], s.attributes[c.HTTP_STATUS_CODE]) for s in spans} \
        == {("GET", 200)}
    assert all(s.attributes[c.MODEL] == "bert" for s in spans)
    costs = [s.attributes[c.COST_USD] for s in cap.spans(c.KIND_INFERENCE) + cap.spans(c.KIND_IDLE)]
    assert final is not None and final.requests == 1000
    assert math.fsum(costs) == pytest.approx(7.2 / 3600 * final.elapsed_s, rel=1e-9)


def test_route_template_method_status_and_never_the_body(cap: Capture) -> None:
    secret = "patient-record-4711"
    with serve(_fastapi_app()) as url, httpx.Client(base_url=url) as client:
        assert client.get("/predict/42").status_code == 200
        assert client.post("/embed", json={"text": secret}).json() == {"chars": len(secret)}
        assert client.get("/no/such/path/99").status_code == 404
        assert client.get("/boom").status_code == 500
    spans = {s.name: s for s in cap.spans(c.KIND_INFERENCE)}
    assert set(spans) == {"GET /predict/{item_id}", "POST /embed", "GET", "GET /boom"}
    assert spans["POST /embed"].attributes[c.HTTP_METHOD] == "POST"
    assert spans["GET"].attributes[c.HTTP_STATUS_CODE] == 404
    assert c.HTTP_ROUTE not in spans["GET"].attributes  # unmatched: no route, never the path
    assert spans["GET /boom"].attributes[c.HTTP_STATUS_CODE] == 500
    assert spans["GET /boom"].status.status_code is StatusCode.ERROR
    for span in cap.spans():
        assert not any(secret in str(v) or "/99" in str(v) or "/42" in str(v)
                       for v in span.attributes.values())
    assert all(s.attributes[c.COST_USD] > 0 for s in spans.values())


def test_a_streaming_response_is_costed_until_its_last_byte_not_its_background_task(
        cap: Capture) -> None:
    marks: dict[str, int] = {}

    async def chunks() -> Any:
        for i in range(4):
            await asyncio.sleep(0.02)
            yield f"token{i} "
        marks["last_chunk"] = time.time_ns()

    async def after() -> None:
        marks["background"] = time.time_ns()
        await asyncio.sleep(0.2)

    async def generate(request: Request) -> StreamingResponse:
        return StreamingResponse(chunks(), background=BackgroundTask(after))

    app = MlcostMiddleware(Starlette(routes=[Route("/generate", generate)]), model="gpt2")
    with serve(app) as url, httpx.Client(base_url=url) as client:
        assert client.get("/generate").text == "token0 token1 token2 token3 "
        _wait_for(lambda: "background" in marks)
    span = cap.span(c.KIND_INFERENCE)
    assert marks["last_chunk"] <= span.end_time <= marks["background"]
    assert span.end_time - span.start_time >= 4 * 0.02 * 1e9 * 0.9


def test_a_client_disconnect_ends_a_stream_that_would_never_end(cap: Capture) -> None:
    async def forever() -> Any:
        while True:
            yield "tick\n"
            await asyncio.sleep(0.01)

    async def ticks(request: Request) -> StreamingResponse:
        return StreamingResponse(forever())

    app = MlcostMiddleware(Starlette(routes=[Route("/ticks", ticks)]))
    with serve(app) as url:
        with httpx.Client(base_url=url) as client, client.stream("GET", "/ticks") as response:
            assert next(response.iter_lines()) == "tick"
        _wait_for(lambda: len(cap.spans(c.KIND_INFERENCE)) == 1)
    span = cap.span(c.KIND_INFERENCE)
    assert span.attributes[c.HTTP_ROUTE] == "/ticks"
    assert span.attributes[c.HTTP_STATUS_CODE] == 200


def test_nests_under_opentelemetry_asgi_server_span_and_hosts_user_spans(cap: Capture) -> None:
    tracer = cap.tracer_provider.get_tracer("app")

    async def predict(request: Request) -> PlainTextResponse:
        with tracer.start_as_current_span("model.forward"):
            return PlainTextResponse("ok")

    inner = MlcostMiddleware(Starlette(routes=[Route("/predict/{id:int}", predict)]), model="m")
    app = OpenTelemetryMiddleware(inner, tracer_provider=cap.tracer_provider,
                                  exclude_spans=["receive", "send"])
    with serve(app) as url, httpx.Client(base_url=url) as client:
        assert client.get("/predict/7").text == "ok"
    server = next(s for s in cap.spans() if s.kind is SpanKind.SERVER)
    span = cap.span(c.KIND_INFERENCE)
    forward = next(s for s in cap.spans() if s.name == "model.forward")
    assert span.parent is not None and span.parent.span_id == server.context.span_id
    assert forward.parent is not None and forward.parent.span_id == span.context.span_id
    assert span.context.trace_id == server.context.trace_id
    assert span.attributes[c.HTTP_ROUTE] == "/predict/{id:int}"


def test_routes_under_mounts_join_their_templates(cap: Capture) -> None:
    async def predict(request: Request) -> JSONResponse:
        return JSONResponse(request.path_params)

    api = Starlette(routes=[Route("/predict/{id}", predict)])
    app = MlcostMiddleware(Starlette(routes=[Mount("/tenants/{tenant}", app=api)]))
    with serve(app, root_path="") as url, httpx.Client(base_url=url) as client:
        assert client.get("/tenants/acme/predict/9").json() == {"tenant": "acme", "id": "9"}
    assert cap.span(c.KIND_INFERENCE).attributes[c.HTTP_ROUTE] == "/tenants/{tenant}/predict/{id}"


def test_lifespan_and_websocket_scopes_pass_through_untouched(cap: Capture) -> None:
    seen: list[tuple[Any, Any, Any]] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append((scope, receive, send))

    async def receive() -> dict[str, Any]:
        return {"type": "websocket.connect"}

    async def send(message: Any) -> None:
        pass

    scope = {"type": "websocket", "path": "/ws"}
    asyncio.run(MlcostMiddleware(app)(scope, receive, send))
    assert seen == [(scope, receive, send)]

    started: list[bool] = []

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        started.append(True)
        yield

    served = MlcostMiddleware(Starlette(lifespan=lifespan, routes=[
        Route("/", lambda r: PlainTextResponse("up"))]))
    with serve(served, lifespan="on") as url:
        assert httpx.get(url + "/").text == "up"
    assert started == [True]
    assert len(cap.spans(c.KIND_INFERENCE)) == 1


def test_the_apps_exception_passes_through_untouched_and_marks_the_span(cap: Capture) -> None:
    err = KeyError("missing feature")

    async def app(scope: Any, receive: Any, send: Any) -> None:
        raise err

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    async def send(message: Any) -> None:
        pass

    with pytest.raises(KeyError) as info:
        asyncio.run(MlcostMiddleware(app)({"type": "http", "method": "PUT"}, receive, send))
    assert info.value is err
    span = cap.span(c.KIND_INFERENCE)
    assert span.status.status_code is StatusCode.ERROR
    assert span.name == "PUT"


def test_bad_tags_fail_at_construction() -> None:
    with pytest.raises(TagError, match="Bad Key"):
        MlcostMiddleware(Starlette(), tags={"Bad Key": "x"})


def test_requests_are_served_when_mlcost_cannot_cost_them() -> None:
    before = guard.internal_error_count()
    with capture(tags={}, on_missing_tags="error") as cap:  # every call site raises TagError
        app = MlcostMiddleware(Starlette(routes=[Route("/", lambda r: PlainTextResponse("ok"))]))
        with serve(app) as url, httpx.Client(base_url=url) as client:
            assert [client.get("/").text for _ in range(3)] == ["ok"] * 3
    assert cap.spans(c.KIND_INFERENCE) == []
    assert guard.internal_error_count() == before + 3


def test_on_server_span_puts_the_cost_on_opentelemetry_asgis_server_span(cap: Capture) -> None:
    """With on_server_span=True no span of mlcost's own: the server span the real
    opentelemetry-instrumentation-asgi opened carries the cost, route, status and tags; its
    status stays the instrumentation's, its name becomes the route template's (the HTTP
    convention's, where the instrumentation only knew the raw path); the request's own spans
    nest under it."""
    tracer = cap.tracer_provider.get_tracer("app")

    async def predict(request: Request) -> PlainTextResponse:
        with tracer.start_as_current_span("model.forward"):
            return PlainTextResponse("ok")

    async def boom(request: Request) -> PlainTextResponse:
        raise RuntimeError("model crashed")

    inner = MlcostMiddleware(Starlette(routes=[Route("/predict/{id:int}", predict),
                                               Route("/boom", boom)]),
                             model="m", on_server_span=True)
    app = OpenTelemetryMiddleware(inner, tracer_provider=cap.tracer_provider,
                                  exclude_spans=["receive", "send"])
    with serve(app) as url, httpx.Client(base_url=url) as client:
        assert client.get("/predict/7").text == "ok"
        assert client.get("/boom").status_code == 500
        _wait_for(lambda: len(cap.spans(c.KIND_INFERENCE)) == 2, timeout_s=60)
    servers = [s for s in cap.spans() if s.kind is SpanKind.SERVER]
    costed = cap.spans(c.KIND_INFERENCE)
    assert len(servers) == 2 and {s.context.span_id for s in costed} == \
        {s.context.span_id for s in servers}  # the server spans themselves, no child
    ok = next(s for s in costed if s.attributes[c.HTTP_STATUS_CODE] == 200)
    assert ok.attributes[c.HTTP_ROUTE] == "/predict/{id:int}"
    assert ok.attributes[c.COST_USD] > 0 and ok.attributes[c.MODEL] == "m"
    assert ok.attributes[c.tag_attribute("team")] == "search"
    assert ok.attributes[c.PRICE_USD_PER_HOUR] == 3.6  # everything on the span itself
    assert ok.name == "GET /predict/{id:int}"  # not the raw path "GET /predict/7"
    forward = next(s for s in cap.spans() if s.name == "model.forward")
    assert forward.parent is not None and forward.parent.span_id == ok.context.span_id
    failed = next(s for s in costed if s.attributes[c.HTTP_STATUS_CODE] == 500)
    assert failed.status.status_code is StatusCode.ERROR
    final = shutdown_meter()
    total = math.fsum([s.attributes[c.COST_USD] for s in costed]
                      + [s.attributes[c.COST_USD] for s in cap.spans(c.KIND_IDLE)])
    assert final is not None and final.requests == 2
    assert total == pytest.approx(3.6 / 3600 * final.elapsed_s, rel=1e-9)


def test_on_server_span_without_a_server_span_makes_its_own(cap: Capture) -> None:
    async def predict(request: Request) -> PlainTextResponse:
        return PlainTextResponse("ok")

    app = MlcostMiddleware(Starlette(routes=[Route("/p", predict)]), on_server_span=True)
    with serve(app) as url, httpx.Client(base_url=url) as client:
        assert client.get("/p").text == "ok"
        _wait_for(lambda: len(cap.spans(c.KIND_INFERENCE)) == 1, timeout_s=60)
    span = cap.span(c.KIND_INFERENCE)
    assert span.name == "GET /p" and span.kind is SpanKind.INTERNAL


def test_an_app_wrapped_twice_is_costed_once_by_the_outer_middleware(cap: Capture) -> None:
    assert MlcostMiddleware is MlcostASGIMiddleware  # the old name stays
    app = Starlette(routes=[Route("/", lambda r: PlainTextResponse("ok"))])
    app.add_middleware(MlcostASGIMiddleware, model="inner")
    outer = MlcostMiddleware(MlcostASGIMiddleware(app, model="middle"), model="outer")
    with serve(outer) as url, httpx.Client(base_url=url) as client:
        assert [client.get("/").text for _ in range(3)] == ["ok"] * 3
    spans = cap.spans(c.KIND_INFERENCE)
    assert [s.attributes[c.MODEL] for s in spans] == ["outer"] * 3
    assert {s.attributes[c.HTTP_ROUTE] for s in spans} == {"/"}
