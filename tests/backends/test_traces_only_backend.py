"""A traces-only backend (real Phoenix): metric export stops with one warning saying why, over
HTTP (405) and gRPC (UNIMPLEMENTED), while traces keep flowing."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader

from mlcost_sdk.exporters import otlp
from mlcost_sdk.exporters._metric_guard import MetricsRejectionGuard

from .conftest import Phoenix
from .test_phoenix_backend import PROTOCOLS, endpoint_for

pytestmark = [pytest.mark.backend, pytest.mark.slow]


@pytest.mark.parametrize(("protocol", "answer"),
                         zip(PROTOCOLS, ["HTTP 405 Method Not Allowed", "gRPC UNIMPLEMENTED"],
                             strict=True))
def test_metric_export_stops_with_one_warning(phoenix: Phoenix, protocol: str, answer: str,
                                              caplog: pytest.LogCaptureFixture) -> None:
    exporter = otlp.metric_exporter(endpoint=endpoint_for(phoenix, protocol), protocol=protocol)
    assert isinstance(exporter, MetricsRejectionGuard)
    reader = PeriodicExportingMetricReader(exporter, export_interval_millis=3_600_000)
    provider = MeterProvider(metric_readers=[reader])
    counter = provider.get_meter("test").create_counter("mlcost.cost")
    caplog.set_level(logging.INFO)
    for _ in range(3):  # three collections: one probe, one warning
        counter.add(1.0)
        assert provider.force_flush(60_000)
    provider.shutdown()
    assert exporter.rejected == answer
    warned = [r for r in caplog.records if "does not take OTLP metrics" in r.getMessage()]
    assert len(warned) == 1 and warned[0].levelno == logging.WARNING
    message = warned[0].getMessage()
    assert answer in message and "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT" in message
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []


def test_a_program_pointed_at_phoenix_says_it_once(phoenix: Phoenix, tmp_path: Path) -> None:
    """What a user sees: a run and served requests, OTEL_EXPORTER_OTLP_ENDPOINT=Phoenix, metrics
    not turned off: one warning line, no 'Failed to export metrics batch' errors."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "MLCOST_"))}
    env.update({"OTEL_EXPORTER_OTLP_ENDPOINT": phoenix.url, "OTEL_SERVICE_NAME": "traces-only",
                "MLCOST_TAGS": "team=search,model=tiny,environment=dev,cost_center=cc-1,owner=ana",
                "MLCOST_PRICE_USD_PER_HOUR": "3.6", "MLCOST_SPANS_PATH": str(tmp_path / "x")})
    app = Path(__file__).with_name("instrumented_app.py")
    done = subprocess.run([sys.executable, str(app), "2"], env=env, capture_output=True,
                          text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-4000:]
    assert done.stderr.count("does not take OTLP metrics (HTTP 405") == 1, done.stderr[-4000:]
    assert "Failed to export metrics" not in done.stderr
