"""Aggregate mode through a real uvicorn: the per-request view and the aggregate view of the
same 10,000 concurrent requests give the same totals, and `mlcost report` counts each dollar
once in either mode."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Sequence

import httpx
import pytest
from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
from opentelemetry.sdk.trace import ReadableSpan
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from mlcost_sdk import conventions as c
from mlcost_sdk.exporters.jsonl import span_to_record
from mlcost_sdk.integrations.asgi import MlcostMiddleware
from mlcost_sdk.reports import Stats, usages
from mlcost_sdk.reports.records import parse_record
from mlcost_sdk.testing import capture, shutdown_meter
from tests.conftest import FULL_TAGS
from tests.integrations.asgi.uvicorn_server import serve

REQUESTS = 10_000


async def noop(request: Request) -> PlainTextResponse:
    return PlainTextResponse("ok")


def hammer(url: str, n: int) -> list[int]:
    async def load() -> list[int]:
        limits = httpx.Limits(max_connections=32)
        async with httpx.AsyncClient(base_url=url, limits=limits, timeout=120) as client:
            sem = asyncio.Semaphore(64)

            async def one(i: int) -> int:
                async with sem:
                    return (await client.get(f"/noop/{i % 7}")).status_code

            return await asyncio.gather(*(one(i) for i in range(n)))

    return asyncio.run(asyncio.wait_for(load(), 900))


def report(spans: Sequence[ReadableSpan]) -> Stats:
    return Stats.of(usages(parse_record(span_to_record(s)) for s in spans))


@pytest.mark.slow
@pytest.mark.parametrize("aggregate", [False, True])
def test_ten_thousand_requests_report_equals_the_in_process_total(aggregate: bool) -> None:
    with capture(tags=FULL_TAGS, price=7.2) as cap:
        inner = MlcostMiddleware(Starlette(routes=[Route("/noop/{k:int}", noop)]), model="m",
                                 aggregate=aggregate)
        # A server span per request, sampled: in aggregate mode every request also keeps its
        # own span (marked in_ledger), so both views of the same requests can be compared.
        app = OpenTelemetryMiddleware(inner, tracer_provider=cap.tracer_provider,
                                      exclude_spans=["receive", "send"])
        # keep-alive past any stall of this loaded machine: a reused connection the server
        # closed meanwhile would fail a request
        with serve(app, timeout_keep_alive=600) as url:
            statuses = hammer(url, REQUESTS)
        final = shutdown_meter()
    assert statuses == [200] * REQUESTS
    assert final is not None and final.requests == REQUESTS
    spans = cap.exporter.get_finished_spans()
    stats = report(spans)
    assert stats.requests == REQUESTS
    assert math.isclose(stats.cost_usd, final.total_cost_usd, rel_tol=1e-9)
    assert math.isclose(final.total_cost_usd, 7.2 / 3600 * final.elapsed_s, rel_tol=1e-9)
    per_request = cap.spans(c.KIND_INFERENCE)
    assert len(per_request) == REQUESTS
    span_total = math.fsum(s.attributes[c.COST_USD] for s in per_request)
    assert math.isclose(span_total, final.request_cost_usd, rel_tol=1e-9)
    records = cap.records()
    if aggregate:
        assert all(s.attributes[c.COST_IN_LEDGER] is True for s in per_request)
        assert {r.attributes[c.HTTP_ROUTE] for r in records} == {"/noop/{k:int}"}
        assert sum(r.attributes[c.REQUESTS] for r in records) == REQUESTS
        ledger_total = math.fsum(r.attributes[c.COST_USD] for r in records)
        assert math.isclose(ledger_total, span_total, rel_tol=1e-9)  # the same dollars
    else:
        assert records == []
