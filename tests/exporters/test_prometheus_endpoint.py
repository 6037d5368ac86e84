"""The /metrics endpoint, scraped over real HTTP on 127.0.0.1 (a real Prometheus server
scrapes it in tests/backends/)."""

from __future__ import annotations

import logging
import socket
import sys
import urllib.request
from typing import Any

import pytest
from opentelemetry.sdk.metrics import MeterProvider

from mlcost_sdk import conventions as c
from mlcost_sdk.errors import InvalidParameterError
from mlcost_sdk.exporters.prometheus import start_prometheus_endpoint


def scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        body: bytes = r.read()
    return body.decode()


def test_cost_counter_is_served_on_loopback() -> None:
    reader = start_prometheus_endpoint(port=0)
    host, port = vars(reader)["server"].server_address[:2]
    assert host == "127.0.0.1"
    provider = MeterProvider(metric_readers=[reader])
    cost = provider.get_meter(c.INSTRUMENTATION_SCOPE).create_counter(
        c.METRIC_COST, unit=c.METRICS[c.METRIC_COST].unit)
    cost.add(0.25, {c.KIND: c.KIND_INFERENCE, c.tag_attribute("team"): "search"})
    cost.add(0.5, {c.KIND: c.KIND_INFERENCE, c.tag_attribute("team"): "search"})
    cost.add(2.0, {c.KIND: c.KIND_IDLE, c.tag_attribute("team"): "search"})
    text = scrape(port)
    lines = [ln for ln in text.splitlines() if ln.startswith("mlcost_cost_total{")]
    assert len(lines) == 2, text
    by_kind = {("inference" if 'mlcost_kind="inference"' in ln else "idle"): float(ln.split()[-1])
               for ln in lines}
    assert by_kind == {"inference": 0.75, "idle": 2.0}
    assert all('mlcost_tag_team="search"' in ln for ln in lines)
    provider.shutdown()
    with pytest.raises(OSError):  # shutting the reader down stops serving
        for _ in range(50):
            scrape(port)


def test_port_taken_warns_and_keeps_recording(caplog: pytest.LogCaptureFixture) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with caplog.at_level(logging.WARNING, logger="mlcost_sdk"):
            reader = start_prometheus_endpoint(port=port)
    assert "cannot serve Prometheus metrics" in caplog.text
    provider = MeterProvider(metric_readers=[reader])
    provider.get_meter("t").create_counter(c.METRIC_COST).add(1.0)
    provider.shutdown()


@pytest.mark.parametrize("port", [-1, 70000, "9464", True])
def test_bad_port_names_the_field(port: Any) -> None:
    with pytest.raises(InvalidParameterError) as err:
        start_prometheus_endpoint(port=port)
    assert err.value.parameter == "port"


def test_missing_package_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "prometheus_client", None)
    with pytest.raises(ImportError, match=r"mlcost-sdk\[prometheus\]"):
        start_prometheus_endpoint(port=0)
