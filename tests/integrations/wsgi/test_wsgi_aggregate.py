"""Aggregate mode on the WSGI middleware: a Flask app served by a real waitress."""

from __future__ import annotations

import math

import httpx
from flask import Flask

from mlcost_sdk import conventions as c
from mlcost_sdk.integrations.wsgi import MlcostWSGIMiddleware
from mlcost_sdk.testing import capture, shutdown_meter
from tests.conftest import FULL_TAGS
from tests.integrations.wsgi.waitress_server import serve


def test_one_record_per_route_with_errors_and_no_span_per_request() -> None:
    app = Flask(__name__)

    @app.get("/predict/<int:item_id>")
    def predict(item_id: int) -> dict[str, int]:
        return {"item": item_id}

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("model crashed")

    app.wsgi_app = MlcostWSGIMiddleware(app.wsgi_app, model="m",  # type: ignore[method-assign]
                                        aggregate=True)
    with capture(tags=FULL_TAGS, price=3.6) as cap:
        with serve(app) as url, httpx.Client(base_url=url, timeout=60) as client:
            assert [client.get(f"/predict/{i}").status_code for i in range(20)] == [200] * 20
            assert client.get("/boom").status_code == 500
        final = shutdown_meter()
    assert cap.spans(c.KIND_INFERENCE) == []
    records = [r.attributes for r in cap.records()]  # a window may close mid-test: sum them

    def total(route: str, name: str) -> int:
        return sum(r.get(name, 0) for r in records if r[c.HTTP_ROUTE] == route)

    assert {r[c.HTTP_ROUTE] for r in records} == {"/predict/<int:item_id>", "/boom"}
    assert total("/predict/<int:item_id>", c.REQUESTS) == 20
    assert total("/predict/<int:item_id>", c.ERRORS) == 0
    assert total("/boom", c.ERRORS) == 1
    assert final is not None and final.requests == 21
    assert math.isclose(math.fsum(r[c.COST_USD] for r in records), final.request_cost_usd,
                        rel_tol=1e-9)
