"""Every query of docs/grafana-dashboard.json, with Grafana's variables filled in as Grafana
fills them, evaluates on a real Prometheus scraping a real instrumented process (a training run
in progress, served requests, idle time), and the cost, idle and MFU panels show data."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

from tests.exporters.test_grafana_dashboard import load

from .conftest import Prometheus
from .test_prometheus_backend import pytestmark, query, scraped_app_env

__all__ = ["pytestmark"]

# What Grafana puts in: a 1 s scrape gives $__rate_interval = 4 x scrape; "All" is .*
VARIABLES = {"$__rate_interval": "4s", "$__range": "10m", "$team": ".*", "$model": ".*"}
NO_DATA_WITHOUT_A_GPU = {"GPU utilization"}

_APP = textwrap.dedent("""
    import sys, time
    import mlcost_sdk as mlcost

    mlcost.configure(idle_flush_s=3600)

    @mlcost.track_inference(model="m")
    def predict(x):
        return x

    with mlcost.training_run("ft", tags={"experiment_id": "e"}, params=1e6,
                             peak_flops_per_s=1e12) as run:
        for i in range(40):  # a few seconds of steps: the MFU gauge is refreshed each second
            time.sleep(0.1)
            run.step(tokens=1000)
            predict(i)
        print("ready", flush=True)
        sys.stdin.read()  # still running while the test queries
""")


def _expr(text: str) -> str:
    for name, value in VARIABLES.items():
        text = text.replace(name, value)
    return text


def test_every_dashboard_query_runs_on_real_prometheus(prometheus: Prometheus,
                                                       tmp_path: Path) -> None:
    env = scraped_app_env(prometheus, tmp_path / "spans.jsonl")
    proc = subprocess.Popen([sys.executable, "-c", _APP], env=env, text=True,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready", proc.communicate(timeout=60)[1]
        panels = load()["panels"]
        results: dict[str, list[dict[str, Any]]] = {}
        deadline = time.monotonic() + 60
        while True:  # until every panel that can have data has it (scrapes every second)
            for p in panels:
                for t in p["targets"]:
                    results[p["title"]] = query(prometheus, _expr(t["expr"]))  # valid PromQL
            empty = [title for title, r in results.items()
                     if not r and title not in NO_DATA_WITHOUT_A_GPU]
            if not empty or time.monotonic() > deadline:
                break
            time.sleep(1.0)
        assert empty == [], {t: results[t] for t in empty}
        mfu = results["MFU of running training runs"][0]
        assert mfu["metric"]["mlcost_run_name"] == "ft"
        assert 0 < float(mfu["value"][1]) < 1
        kinds = {r["metric"]["mlcost_kind"] for r in results["Cost rate by kind (USD/h)"]}
        assert {"training_run", "idle"} <= kinds
    finally:
        proc.communicate(input="", timeout=60)
    assert proc.returncode == 0
