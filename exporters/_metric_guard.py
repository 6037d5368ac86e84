"""Traces-only backends (Arize Phoenix, Jaeger, Tempo...): metric export stops, with one warning.

With ``OTEL_EXPORTER_OTLP_ENDPOINT`` pointing at a backend that takes traces but not metrics,
the official metric exporter fails every batch with an error line (``Failed to export metrics
batch code: 405``) for the life of the process. Before the first batch, this wrapper asks the
endpoint once whether it takes metrics at all: an empty OTLP metrics request (valid protobuf;
a collector answers it 200) over the exporter's own protocol. HTTP 404, 405 or 415, or gRPC
UNIMPLEMENTED, mean "no metrics here": the wrapper warns once, naming the endpoint, the answer
and how to route metrics elsewhere, and drops every batch from then on. Any other answer, or
none (a collector that is down is another matter, counted elsewhere), leaves export as it was.
The probe runs on the metric reader's thread, never in the application's.
"""

from __future__ import annotations

import logging
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from typing import Any, Final
from urllib.parse import urlsplit

from opentelemetry.sdk.metrics.export import MetricExporter, MetricExportResult, MetricsData

logger = logging.getLogger("mlcost_sdk.exporters.otlp")

REJECTING_HTTP: Final = {404: "Not Found", 405: "Method Not Allowed",
                         415: "Unsupported Media Type"}
GRPC_METHOD: Final = "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export"
PROBE_TIMEOUT_S: Final = 5.0
HOW_TO_ROUTE: Final = ("send metrics elsewhere with OTEL_EXPORTER_OTLP_METRICS_ENDPOINT (a "
                       "collector that takes metrics), or scrape them with "
                       "MLCOST_PROMETHEUS_PORT, or turn them off with OTEL_METRICS_EXPORTER=none")

Probe = Callable[[], str | None]  # why the endpoint rejects metrics, or None


def probe_http(url: str, headers: Mapping[str, str]) -> str | None:
    request = urllib.request.Request(url, data=b"", method="POST", headers={
        **headers, "Content-Type": "application/x-protobuf"})
    try:
        with urllib.request.urlopen(request, timeout=PROBE_TIMEOUT_S):
            return None
    except urllib.error.HTTPError as e:
        if e.code in REJECTING_HTTP:
            return f"HTTP {e.code} {REJECTING_HTTP[e.code]}"
        return None
    except (OSError, ValueError):  # down, TLS trouble, a bad URL: not a rejection
        return None


def probe_grpc(endpoint: str, insecure: bool | None, headers: Mapping[str, str]) -> str | None:
    import grpc

    parts = urlsplit(endpoint if "://" in endpoint else "//" + endpoint)
    target = parts.netloc or endpoint
    plaintext = insecure if insecure is not None else parts.scheme in ("http", "")
    channel = grpc.insecure_channel(target) if plaintext else grpc.secure_channel(
        target, grpc.ssl_channel_credentials())
    try:
        call = channel.unary_unary(GRPC_METHOD, request_serializer=None,
                                   response_deserializer=None)
        call(b"", timeout=PROBE_TIMEOUT_S,
             metadata=[(k.lower(), v) for k, v in headers.items()])
        return None
    except grpc.RpcError as e:
        code = e.code() if callable(getattr(e, "code", None)) else None
        return "gRPC UNIMPLEMENTED" if code == grpc.StatusCode.UNIMPLEMENTED else None
    finally:
        channel.close()


class MetricsRejectionGuard(MetricExporter):
    """Wraps an OTLP metric exporter; see the module doc."""

    def __init__(self, inner: MetricExporter, endpoint: str, probe: Probe) -> None:
        super().__init__(preferred_temporality=getattr(inner, "_preferred_temporality", None),
                         preferred_aggregation=getattr(inner, "_preferred_aggregation", None))
        self.inner = inner
        self.endpoint = endpoint
        self._probe: Probe | None = probe
        self._lock = threading.Lock()
        self.rejected: str | None = None  # the endpoint's answer, once it rejected metrics

    def _check(self) -> None:
        with self._lock:
            probe, self._probe = self._probe, None
        if probe is None:
            return
        try:
            self.rejected = probe()
        except Exception:  # a failing probe must not cost the metrics
            self.rejected = None
        if self.rejected is not None:
            logger.warning("mlcost: %s does not take OTLP metrics (%s), so metric export is "
                           "off for this process; traces still go there. To keep metrics, %s.",
                           self.endpoint, self.rejected, HOW_TO_ROUTE)

    def export(self, metrics_data: MetricsData, timeout_millis: float = 10_000,
               **kwargs: Any) -> MetricExportResult:
        if self._probe is not None:
            self._check()
        if self.rejected is not None:
            return MetricExportResult.SUCCESS  # dropped on purpose, already said why once
        return self.inner.export(metrics_data, timeout_millis=timeout_millis, **kwargs)

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        return self.rejected is not None or self.inner.force_flush(timeout_millis)

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        self.inner.shutdown(timeout_millis=timeout_millis, **kwargs)
