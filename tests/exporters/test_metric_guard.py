"""The metric rejection guard against real HTTP servers on 127.0.0.1: a 404/405/415 answer to
the probe stops metric export with one warning; 200 or 500, or no server, leave it alone."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader

from mlcost_sdk.exporters import otlp
from mlcost_sdk.exporters._metric_guard import MetricsRejectionGuard, probe_http


class Collector(ThreadingHTTPServer):
    status = 200

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.bodies: list[bytes] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class Handler(BaseHTTPRequestHandler):
    server: Collector

    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        length = int(self.headers.get("Content-Length") or 0)
        self.server.bodies.append(self.rfile.read(length))
        self.send_response(self.server.status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def collector() -> Iterator[Collector]:
    server = Collector()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(30)


def _export_three_times(exporter: MetricsRejectionGuard) -> None:
    provider = MeterProvider(metric_readers=[PeriodicExportingMetricReader(
        exporter, export_interval_millis=3_600_000)])
    counter = provider.get_meter("test").create_counter("c")
    for _ in range(3):
        counter.add(1)
        provider.force_flush(60_000)
    provider.shutdown()


@pytest.mark.parametrize("status", [404, 405, 415])
def test_rejecting_status_stops_export_with_one_warning(collector: Collector, status: int,
                                                        caplog: pytest.LogCaptureFixture) -> None:
    collector.status = status
    exporter = otlp.metric_exporter(endpoint=collector.url, protocol="http/protobuf")
    assert isinstance(exporter, MetricsRejectionGuard)
    _export_three_times(exporter)
    assert exporter.rejected is not None and exporter.rejected.startswith(f"HTTP {status}")
    assert collector.bodies == [b""]  # the probe only: no batch was sent after it
    warned = [r for r in caplog.records if "does not take OTLP metrics" in r.getMessage()]
    assert len(warned) == 1 and f"{collector.url}/v1/metrics" in warned[0].getMessage()
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []


@pytest.mark.parametrize("status", [200, 500])
def test_other_answers_keep_exporting(collector: Collector, status: int) -> None:
    collector.status = status
    exporter = otlp.metric_exporter(endpoint=collector.url, protocol="http/protobuf", timeout=5)
    assert isinstance(exporter, MetricsRejectionGuard)
    _export_three_times(exporter)
    assert exporter.rejected is None
    assert collector.bodies[0] == b"" and len(collector.bodies) >= 2  # probe, then batches


def test_no_server_is_not_a_rejection() -> None:
    with Collector() as closed:  # bound, then closed: nothing listens on the port
        url = closed.url
    assert probe_http(url + "/v1/metrics", {}) is None
