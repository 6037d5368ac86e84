"""A real Prometheus server scrapes mlcost's /metrics on 127.0.0.1 and its query API returns the
cost counter, under the name the OpenTelemetry Prometheus exporter gives it:
``mlcost.cost`` (unit ``{USD}``) -> ``mlcost_cost_total``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.metrics import MeterProvider

from mlcost_sdk import conventions as c
from mlcost_sdk.exporters.prometheus import start_prometheus_endpoint

from .conftest import Prometheus

pytestmark = [pytest.mark.backend, pytest.mark.slow]

COST_SERIES = "mlcost_cost_total"


def scraped_app_env(prometheus: Prometheus, spans: Path) -> dict[str, str]:
    """The environment of a priced, tagged program whose /metrics Prometheus scrapes."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "MLCOST_"))}
    env.update({"MLCOST_PROMETHEUS_PORT": str(prometheus.target_port),
                "MLCOST_SPANS_PATH": str(spans), "MLCOST_PRICE_USD_PER_HOUR": "3.6",
                "MLCOST_TAGS": "team=search,model=m,environment=dev,cost_center=cc-1,owner=ana"})
    return env


def query(prometheus: Prometheus, promql: str) -> list[dict[str, Any]]:
    url = f"{prometheus.url}/api/v1/query?{urllib.parse.urlencode({'query': promql})}"
    with urllib.request.urlopen(url, timeout=5) as response:
        body = json.load(response)
    assert body["status"] == "success", body
    result: list[dict[str, Any]] = body["data"]["result"]
    return result


def wait_for_value(prometheus: Prometheus, promql: str, want: float,
                   timeout_s: float = 30.0) -> list[dict[str, Any]]:
    """Poll until the query returns ``want`` (scrapes happen every second)."""
    deadline = time.monotonic() + timeout_s
    result: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        result = query(prometheus, promql)
        if result and float(result[0]["value"][1]) == pytest.approx(want, rel=1e-9):
            return result
        time.sleep(0.5)
    raise AssertionError(f"{promql} = {result}, wanted {want}")


def test_cost_counter_reaches_prometheus(prometheus: Prometheus) -> None:
    reader = start_prometheus_endpoint(port=prometheus.target_port)
    provider = MeterProvider(metric_readers=[reader])
    try:
        cost = provider.get_meter(c.INSTRUMENTATION_SCOPE).create_counter(
            c.METRIC_COST, unit=c.METRICS[c.METRIC_COST].unit)
        labels = {c.KIND: c.KIND_INFERENCE, c.tag_attribute("team"): "search"}
        cost.add(0.125, labels)
        cost.add(0.25, labels)
        result = wait_for_value(prometheus, f'{COST_SERIES}{{mlcost_kind="inference"}}', 0.375)
        assert result[0]["metric"]["mlcost_tag_team"] == "search"
        assert result[0]["metric"]["job"] == "mlcost"
        cost.add(1.0, labels)  # a counter: Prometheus sees the running total
        wait_for_value(prometheus, f'{COST_SERIES}{{mlcost_kind="inference"}}', 1.375)
    finally:
        provider.shutdown()


_TRAINING = textwrap.dedent("""
    import sys
    import mlcost_sdk as mlcost

    with mlcost.training_run("prom-run", tags={"experiment_id": "exp-prom"}) as run:
        for _ in range(5):
            sum(i * i for i in range(20000))
            run.step(samples=8)
    print(run.summary.cost_usd, flush=True)
    sys.stdin.read()  # stay up until the test has seen the scrape
""")


def test_runtime_cost_counter_through_the_environment(prometheus: Prometheus,
                                                       tmp_path: Path) -> None:
    """MLCOST_PROMETHEUS_PORT makes configure() serve /metrics; the counter a real training
    run adds up to equals the cost on its span."""
    env = scraped_app_env(prometheus, tmp_path / "spans.jsonl")
    proc = subprocess.Popen([sys.executable, "-c", _TRAINING], env=env, text=True,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.strip(), proc.communicate(timeout=30)[1][-4000:]
        run_cost = float(line)
        assert run_cost > 0
        result = wait_for_value(prometheus, f'{COST_SERIES}{{mlcost_kind="training_run"}}',
                                run_cost)
        assert result[0]["metric"]["mlcost_tag_team"] == "search"
    finally:
        proc.communicate(input="", timeout=60)
    assert proc.returncode == 0


_SERVING = textwrap.dedent("""
    import sys
    import mlcost_sdk as mlcost

    mlcost.configure(idle_flush_s=3600)  # no idle span, no flush while the test looks

    @mlcost.track_inference(model="m")
    def predict(x):
        return x

    for i in range(20):
        predict(i)
    print("served", flush=True)
    sys.stdin.read()  # idle until the test has seen the scrapes
""")


def test_a_scrape_between_flushes_sees_the_idle_cost_so_far(prometheus: Prometheus,
                                                            tmp_path: Path) -> None:
    """A model server that has gone idle: with no idle span flushed yet, every scrape still
    sees the idle cost up to its moment, growing; the labels carry no otel_scope_* noise."""
    spans = tmp_path / "spans.jsonl"
    env = scraped_app_env(prometheus, spans)
    proc = subprocess.Popen([sys.executable, "-c", _SERVING], env=env, text=True,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "served", proc.communicate(timeout=30)[1][-4000:]
        idle = f'{COST_SERIES}{{mlcost_kind="idle"}}'

        def idle_value(above: float) -> tuple[float, dict[str, str]]:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                result = query(prometheus, idle)
                if result and float(result[0]["value"][1]) > above:
                    return float(result[0]["value"][1]), result[0]["metric"]
                time.sleep(0.5)
            raise AssertionError(f"{idle} never rose above {above}: {query(prometheus, idle)}")

        first, labels = idle_value(0.0)
        second, _ = idle_value(first)  # a later scrape, a larger running total
        assert second > first > 0
        assert labels["mlcost_tag_team"] == "search" and labels["mlcost_tag_model"] == "m"
        assert not [k for k in labels if k.startswith("otel_scope")], labels
        requests = query(prometheus, 'mlcost_request_count_total{mlcost_kind="inference"}')
        assert float(requests[0]["value"][1]) == 20
        served = query(prometheus, f'{COST_SERIES}{{mlcost_kind="inference"}}')
        assert float(served[0]["value"][1]) > 0
        idle_spans = [line for line in spans.read_text().splitlines() if '"idle"' in line] \
            if spans.exists() else []
        assert idle_spans == []  # what the scrapes saw came from no flush
    finally:
        proc.communicate(input="", timeout=60)
    assert proc.returncode == 0
