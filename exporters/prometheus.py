"""A Prometheus ``/metrics`` endpoint for mlcost's metrics (opentelemetry-exporter-prometheus).

Names as Prometheus sees them (the exporter's OTel-to-Prometheus translation): dots become
underscores, a unit in braces is an annotation and dropped, counters get ``_total``. So the
``mlcost.cost`` counter (unit ``{USD}``) is scraped as ``mlcost_cost_total``, with
``mlcost_kind`` and the tag keys as labels, and ``mlcost.request.count`` as
``mlcost_request_count_total``. Both are read at scrape time, so a scrape sees the cost up to
that moment, idle included. The ``otel_scope_*`` labels (the same on every mlcost series) are
left out.

Each endpoint has its own registry, so two endpoints (or an application's own
prometheus_client metrics) never mix, and it stops serving when its reader shuts down.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Any

from mlcost_sdk.errors import InvalidParameterError

if TYPE_CHECKING:
    from opentelemetry.sdk.metrics.export import MetricReader

logger = logging.getLogger("mlcost_sdk")

DEFAULT_PORT = 9464  # the port the OpenTelemetry specification assigns the Prometheus exporter


def start_prometheus_endpoint(port: int = DEFAULT_PORT, addr: str = "127.0.0.1") -> MetricReader:
    """Serve ``http://addr:port/metrics`` and return the reader to give a MeterProvider.

    Bound to loopback by default: pass ``addr="0.0.0.0"`` deliberately to expose it. When the
    port is taken (say, a second torchrun rank on the same node) a warning is logged and the
    metrics are still collected, just not served, rather than failing the application.
    """
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
        raise InvalidParameterError("port", port, "an integer between 0 and 65535")
    try:
        from opentelemetry.exporter.prometheus import PrometheusMetricReader
        from prometheus_client import CollectorRegistry, start_http_server
    except ImportError as exc:
        raise ImportError(f"the Prometheus endpoint is not available ({exc.name} is missing): "
                          "pip install 'mlcost-sdk[prometheus]'") from exc

    class ServedPrometheusReader(PrometheusMetricReader):
        """Stops its HTTP server when the MeterProvider shuts the reader down."""

        server: Any = None

        def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
            super().shutdown(timeout_millis=timeout_millis, **kwargs)
            if self.server is not None:
                server, self.server = self.server, None
                # shutdown() waits for serve_forever's poll (0.5 s): wait that long at most,
                # so the port is free when shutdown returns, yet a stuck server never hangs us
                closer = threading.Thread(target=_close_server, args=(server,), daemon=True)
                closer.start()
                closer.join(timeout=2.0)

    registry = CollectorRegistry()
    reader = ServedPrometheusReader(registry=registry, scope_info_enabled=False)
    try:
        reader.server, _ = start_http_server(port, addr=addr, registry=registry)
    except OSError as exc:
        logger.warning("mlcost: cannot serve Prometheus metrics on %s:%d (%s); metrics are "
                       "still recorded", addr, port, exc)
    return reader


def _close_server(server: Any) -> None:
    server.shutdown()
    server.server_close()
