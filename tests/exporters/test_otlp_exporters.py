"""Building the official OTLP exporters: protocol precedence, endpoints, clear errors.

Delivery itself is tested against a real Phoenix server in tests/backends/.
"""

from __future__ import annotations

import sys

import pytest

from mlcost_sdk.errors import InvalidParameterError
from mlcost_sdk.exporters import otlp

_ENV = ("OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
        "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in _ENV:
        monkeypatch.delenv(name, raising=False)


def transport(exporter: object) -> str:
    exporter = getattr(exporter, "inner", exporter)  # the metric exporter's rejection guard
    return "grpc" if ".grpc." in type(exporter).__module__ else "http"


def test_default_is_http_protobuf() -> None:
    assert otlp.resolve_protocol("traces") == "http/protobuf"
    assert transport(otlp.span_exporter()) == "http"
    assert transport(otlp.metric_exporter()) == "http"


def test_signal_specific_env_beats_the_general_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
    assert transport(otlp.span_exporter()) == "grpc"
    assert transport(otlp.metric_exporter()) == "grpc"
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/protobuf")
    assert transport(otlp.span_exporter()) == "http"
    assert transport(otlp.metric_exporter()) == "grpc"


def test_explicit_argument_beats_the_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "grpc")
    assert transport(otlp.span_exporter(protocol="http/protobuf")) == "http"


def test_bad_protocol_names_its_source(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(InvalidParameterError) as err:
        otlp.span_exporter(protocol="http/json")
    assert err.value.parameter == "protocol" and "http/json" in str(err.value)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", "thrift")
    with pytest.raises(InvalidParameterError) as err:
        otlp.metric_exporter()
    assert err.value.parameter == "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL"


def test_bad_timeout_names_the_field() -> None:
    with pytest.raises(InvalidParameterError) as err:
        otlp.span_exporter(timeout=0)
    assert err.value.parameter == "timeout"


@pytest.mark.parametrize(("endpoint", "url"), [
    ("http://collector:4318", "http://collector:4318/v1/traces"),
    ("http://collector:4318/", "http://collector:4318/v1/traces"),
    ("http://collector:4318/v1/traces", "http://collector:4318/v1/traces"),
    ("https://gw.example/otlp", "https://gw.example/otlp/v1/traces")])
def test_http_endpoint_is_a_base_url_like_the_env_var(endpoint: str, url: str) -> None:
    assert otlp._signal_url(endpoint, "traces") == url


def test_missing_package_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "opentelemetry.exporter.otlp.proto.grpc.trace_exporter",
                        None)
    with pytest.raises(ImportError, match=r"mlcost-sdk\[otlp\]"):
        otlp.span_exporter(protocol="grpc")
