"""The official OTLP exporters, over HTTP (protobuf) or gRPC, built from arguments or the env.

Whatever is not given explicitly is left to the exporters, which read the standard variables
themselves: ``OTEL_EXPORTER_OTLP[_TRACES|_METRICS]_ENDPOINT``, ``..._HEADERS``,
``..._TIMEOUT``, ``..._INSECURE``, ``..._CERTIFICATE``, ``..._COMPRESSION``. The protocol is
the one thing they do not choose for themselves: the explicit argument, else
``OTEL_EXPORTER_OTLP_<SIGNAL>_PROTOCOL``, else ``OTEL_EXPORTER_OTLP_PROTOCOL``, else
``http/protobuf`` (the specification's default).

An explicit ``endpoint`` means what ``OTEL_EXPORTER_OTLP_ENDPOINT`` means: the collector's base
URL (``http://host:4318`` for HTTP; ``http://host:4317`` for gRPC, where the ``http`` scheme
selects a plaintext channel). For HTTP the signal path (``/v1/traces``, ``/v1/metrics``) is
appended unless the URL already ends with it.

The OTLP packages are imported only when an exporter is built (the ``otlp`` extra).
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final, Literal, cast

from mlcost_sdk.errors import InvalidParameterError

if TYPE_CHECKING:
    from opentelemetry.sdk.metrics.export import MetricExporter
    from opentelemetry.sdk.trace.export import SpanExporter

Signal = Literal["traces", "metrics"]
PROTOCOLS: Final = ("http/protobuf", "grpc")
DEFAULT_PROTOCOL: Final = "http/protobuf"


def resolve_protocol(signal: Signal, protocol: str | None = None) -> str:
    """The protocol to use for ``signal`` (see the module doc for the order of precedence)."""
    source = "protocol"
    if protocol is None:
        for name in (f"OTEL_EXPORTER_OTLP_{signal.upper()}_PROTOCOL",
                     "OTEL_EXPORTER_OTLP_PROTOCOL"):
            if os.environ.get(name, "").strip():
                source, protocol = name, os.environ[name].strip()
                break
        else:
            return DEFAULT_PROTOCOL
    if protocol not in PROTOCOLS:
        allowed = "'http/protobuf' or 'grpc' (http/json has no Python exporter)"
        raise InvalidParameterError(source, protocol, allowed)
    return protocol


def _signal_url(endpoint: str, signal: Signal) -> str:
    path = f"/v1/{signal}"
    base = endpoint.rstrip("/")
    return base if base.endswith(path) else base + path


# (signal, protocol) -> (module, class) of the official exporter
_EXPORTERS: Final = {
    ("traces", "http/protobuf"): ("opentelemetry.exporter.otlp.proto.http.trace_exporter",
                                  "OTLPSpanExporter"),
    ("traces", "grpc"): ("opentelemetry.exporter.otlp.proto.grpc.trace_exporter",
                         "OTLPSpanExporter"),
    ("metrics", "http/protobuf"): ("opentelemetry.exporter.otlp.proto.http.metric_exporter",
                                   "OTLPMetricExporter"),
    ("metrics", "grpc"): ("opentelemetry.exporter.otlp.proto.grpc.metric_exporter",
                          "OTLPMetricExporter"),
}


def _build(signal: Signal, endpoint: str | None, protocol: str | None,
           headers: Mapping[str, str] | None, timeout: float | None) -> Any:
    proto = resolve_protocol(signal, protocol)
    if timeout is not None and not timeout > 0:
        raise InvalidParameterError("timeout", timeout, "> 0 seconds")
    kwargs: dict[str, Any] = {}
    if endpoint is not None:
        kwargs["endpoint"] = endpoint if proto == "grpc" else _signal_url(endpoint, signal)
    if headers is not None:
        kwargs["headers"] = dict(headers)
    if timeout is not None:
        kwargs["timeout"] = timeout
    module_name, class_name = _EXPORTERS[(signal, proto)]
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ImportError(f"OTLP over {proto} is not available ({exc.name} is missing): "
                          "install the OTLP extra: pip install 'mlcost-sdk[otlp]'") from exc
    from ._health import quiet_exporter_logs

    # A dead collector makes these log a retry line and an error per batch; mlcost logs one
    # line per failure kind instead (with their last message as the cause).
    quiet_exporter_logs(module_name, *_EXPORTER_LOGGERS)
    return getattr(module, class_name)(**kwargs)


_EXPORTER_LOGGERS: Final = ("opentelemetry.exporter.otlp.proto.grpc.exporter",
                            "opentelemetry.sdk.metrics._internal.export")


def span_exporter(endpoint: str | None = None, protocol: str | None = None,
                  headers: Mapping[str, str] | None = None,
                  timeout: float | None = None) -> SpanExporter:
    """An OTLP span exporter; every argument optional (see the module doc)."""
    return cast("SpanExporter", _build("traces", endpoint, protocol, headers, timeout))


def metric_exporter(endpoint: str | None = None, protocol: str | None = None,
                    headers: Mapping[str, str] | None = None,
                    timeout: float | None = None) -> MetricExporter:
    """An OTLP metric exporter; every argument optional (see the module doc). It asks the
    endpoint once whether it takes metrics and, if not (a traces-only backend such as Phoenix),
    stops with one warning instead of an error per batch (``_metric_guard``)."""
    from ._metric_guard import MetricsRejectionGuard, probe_grpc, probe_http

    inner = cast("MetricExporter", _build("metrics", endpoint, protocol, headers, timeout))
    sent = dict(headers) if headers is not None else _env_headers()
    if resolve_protocol("metrics", protocol) == "grpc":
        target = endpoint or _env("ENDPOINT") or "http://localhost:4317"
        insecure = _env("INSECURE")
        plaintext = None if insecure is None else insecure.strip().lower() == "true"
        return MetricsRejectionGuard(inner, target,
                                     lambda: probe_grpc(target, plaintext, sent))
    url = getattr(inner, "_endpoint", None)
    if not isinstance(url, str):
        url = _signal_url(endpoint, "metrics") if endpoint else (
            os.environ.get("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT")
            or _signal_url(os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
                           or "http://localhost:4318", "metrics"))
    return MetricsRejectionGuard(inner, url, lambda: probe_http(url, sent))


def _env(name: str) -> str | None:
    """``OTEL_EXPORTER_OTLP_METRICS_<name>``, else ``OTEL_EXPORTER_OTLP_<name>``."""
    for var in (f"OTEL_EXPORTER_OTLP_METRICS_{name}", f"OTEL_EXPORTER_OTLP_{name}"):
        if os.environ.get(var, "").strip():
            return os.environ[var].strip()
    return None


def _env_headers() -> dict[str, str]:
    from opentelemetry.util.re import parse_env_headers

    raw = _env("HEADERS")
    return dict(parse_env_headers(raw, liberal=True)) if raw else {}
