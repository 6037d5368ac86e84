"""Secrets in a request body, query, headers, cookies or an error never reach an exported byte:
by default an exception is recorded as its type only. Every byte the JSONL exporter wrote is
grepped; record_exception_details=True is the opt-in."""

from __future__ import annotations

from pathlib import Path

import pytest

import mlcost_sdk as mlcost
from mlcost_sdk.exporters.jsonl import JsonlSpanExporter
from mlcost_sdk.testing import reset, shutdown_meter
from tests.conftest import FULL_TAGS

SECRETS = {"body": "sk-BODY-5ecret", "query": "token=QUERY-5ecret", "header": "Bearer HDR-5ecret",
           "cookie": "session=COOKIE-5ecret", "error": "password=ERR-5ecret"}


def _serve_and_fail(path: Path, **settings: object) -> bytes:
    reset()
    mlcost.configure(tags=FULL_TAGS, price=3.6, exporters=[JsonlSpanExporter(path)],
                     **settings)  # type: ignore[arg-type]

    @mlcost.track_inference(model="m")
    def handler(body: str, query: str, headers: dict[str, str]) -> None:
        raise ValueError(f"bad request {body} {query} {headers} {SECRETS['error']}")

    with pytest.raises(ValueError):
        handler(SECRETS["body"], SECRETS["query"],
                {"authorization": SECRETS["header"], "cookie": SECRETS["cookie"]})
    with pytest.raises(RuntimeError), \
            mlcost.training_run("t", tags={"experiment_id": "e"}):
        raise RuntimeError(f"loader failed: {SECRETS['error']} {SECRETS['body']}")
    shutdown_meter()
    assert mlcost.flush(timeout_s=30)
    reset()
    return path.read_bytes()


def test_no_secret_in_any_exported_byte_by_default(tmp_path: Path) -> None:
    written = _serve_and_fail(tmp_path / "s.jsonl")
    assert b"ValueError" in written and b"RuntimeError" in written  # the type is there
    for where, secret in SECRETS.items():
        assert secret.encode() not in written, where


def test_exception_details_are_opt_in(tmp_path: Path) -> None:
    written = _serve_and_fail(tmp_path / "s.jsonl", record_exception_details=True)
    assert SECRETS["error"].encode() in written
