"""Secrets a client puts in a request's body, query, headers and cookies, and an app's error that
quotes all of them, never reach an exported byte when real uvicorn and waitress serve the app
through mlcost's middlewares: by default an exception is recorded as its type only. Every byte
the JSONL exporter wrote is grepped (tests/runtime/test_privacy.py does the same for the
decorator and training runs)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from flask import Flask, request
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.routing import Route

import mlcost_sdk as mlcost
from mlcost_sdk.exporters.jsonl import JsonlSpanExporter
from mlcost_sdk.integrations.asgi import MlcostMiddleware
from mlcost_sdk.integrations.wsgi import MlcostWSGIMiddleware
from mlcost_sdk.testing import reset, shutdown_meter
from tests.conftest import FULL_TAGS
from tests.integrations.asgi import uvicorn_server
from tests.integrations.wsgi import waitress_server

SECRETS = {"body": "sk-BODY-5ecret", "query": "QUERY-5ecret", "header": "Bearer HDR-5ecret",
           "cookie": "COOKIE-5ecret"}


def _leak(body: bytes, query: str, headers: Any) -> str:
    """What a careless handler's error says: everything the client sent."""
    return (f"cannot score {body!r} for {query} as {headers.get('authorization')} "
            f"with {headers.get('cookie')}")


async def _asgi_predict(request: Request) -> None:
    raise ValueError(_leak(await request.body(), str(request.query_params), request.headers))


def _flask_app() -> Flask:
    app = Flask(__name__)
    app.config["PROPAGATE_EXCEPTIONS"] = True  # the error passes through the middleware

    @app.post("/predict")
    def predict() -> str:
        raise ValueError(_leak(request.get_data(), request.query_string.decode(),
                               request.headers))

    return app


def _plain_wsgi(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    length = int(environ.get("CONTENT_LENGTH") or 0)
    headers = {"authorization": environ.get("HTTP_AUTHORIZATION"),
               "cookie": environ.get("HTTP_COOKIE")}
    raise ValueError(_leak(environ["wsgi.input"].read(length), environ["QUERY_STRING"],
                           headers))


def _send_secrets(base: str) -> None:
    for _ in range(3):
        with httpx.Client(timeout=60) as client:  # a fresh connection: uvicorn drops the last
            try:
                response = client.post(
                    f"{base}/predict", params={"token": SECRETS["query"]},
                    content=SECRETS["body"].encode(),
                    headers={"authorization": SECRETS["header"],
                             "cookie": f"session={SECRETS['cookie']}"})
            except httpx.TransportError:
                continue  # uvicorn may reset it after the 500 when the app's error follows
            assert response.status_code == 500


@pytest.fixture
def exported(tmp_path: Path) -> Iterator[Callable[[], bytes]]:
    path = tmp_path / "spans.jsonl"
    reset()
    mlcost.configure(tags=FULL_TAGS, price=3.6, exporters=[JsonlSpanExporter(path)])

    def written() -> bytes:
        shutdown_meter()
        assert mlcost.flush(timeout_s=60)
        return path.read_bytes()

    yield written
    shutdown_meter()
    reset()


def _assert_clean(written: bytes, exception_events: bool) -> None:
    # each failed request is there; an ASGI one ends at its 500's last byte, before the app's
    # error reaches the middleware, a WSGI one carries the error's type
    assert written.count(b'"http.response.status_code":500') == 3, written
    assert (b'"exception.type":"ValueError"' in written) == exception_events
    for where, secret in SECRETS.items():
        assert secret.encode() not in written, where


def test_uvicorn_asgi_app_error_quoting_the_request(exported: Callable[[], bytes]) -> None:
    app = MlcostMiddleware(Starlette(routes=[Route("/predict", _asgi_predict,
                                                   methods=["POST"])]), model="m")
    with uvicorn_server.serve(app) as base:
        _send_secrets(base)
    _assert_clean(exported(), exception_events=False)


@pytest.mark.parametrize("app", [_flask_app(), _plain_wsgi], ids=["flask", "plain-wsgi"])
def test_waitress_wsgi_app_error_quoting_the_request(
        exported: Callable[[], bytes], app: Any) -> None:
    with waitress_server.serve(MlcostWSGIMiddleware(app, model="m")) as base:
        _send_secrets(base)
    _assert_clean(exported(), exception_events=True)
