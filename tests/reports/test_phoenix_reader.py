"""Phoenix's REST span shape to the shared record format, and clear errors. Reading from a
live server is tested in tests/backends/test_phoenix_backend.py."""

from __future__ import annotations

import socket
from datetime import UTC, datetime
from typing import Any

import pytest

from mlcost_sdk.errors import ConfigError, InvalidParameterError
from mlcost_sdk.reports.phoenix import fetch_spans, phoenix_span_to_record

# One span as GET /v1/projects/{project}/spans returned it (arize-phoenix 20.26.1).
PHOENIX_SPAN = {
    "id": "U3Bhbjoy", "name": "run",
    "context": {"trace_id": "8b455917d64c18e68d4d15e60d05496a", "span_id": "c1b816684eca13dd"},
    "span_kind": "UNKNOWN", "parent_id": None,
    "start_time": "2026-11-27T07:11:11.961588+00:00",
    "end_time": "2026-11-27T07:11:11.974091+00:00",
    "status_code": "ERROR", "status_message": "ValueError: bad",
    "attributes": {"mlcost.steps": 5, "mlcost.steps.warmup": 2, "mlcost.cost.usd": 0.0123,
                   "mlcost.tag.team": "search"},
    "events": [{"name": "exception", "timestamp": "2026-11-27T07:11:11.961617+00:00",
                "attributes": {"exception.type": "ValueError"}}],
}


def test_phoenix_span_becomes_a_record() -> None:
    record = phoenix_span_to_record(PHOENIX_SPAN)
    start = datetime(2026, 11, 27, 7, 11, 11, tzinfo=UTC)
    assert record == {
        "name": "run",
        "trace_id": "8b455917d64c18e68d4d15e60d05496a",
        "span_id": "c1b816684eca13dd",
        "parent_span_id": None,
        "start_time_unix_nano": int(start.timestamp()) * 10**9 + 961_588_000,
        "end_time_unix_nano": int(start.timestamp()) * 10**9 + 974_091_000,
        "status": {"code": "ERROR", "description": "ValueError: bad"},
        "attributes": PHOENIX_SPAN["attributes"],
        "resource": {},
        "scope": {"name": "", "version": None},
        "events": [{"name": "exception",
                    "time_unix_nano": int(start.timestamp()) * 10**9 + 961_617_000,
                    "attributes": {"exception.type": "ValueError"}}],
    }


def test_unreachable_server_is_a_config_error() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(ConfigError, match="cannot read spans from Phoenix"):
        list(fetch_spans(f"http://127.0.0.1:{port}", "default", timeout_s=2))


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"project": "a/b"}, "project"), ({"project": ""}, "project"), ({"page_size": 0}, "page_size")])
def test_bad_arguments_name_the_field(kwargs: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidParameterError) as err:
        list(fetch_spans("http://127.0.0.1:1", **kwargs))
    assert err.value.parameter == field
