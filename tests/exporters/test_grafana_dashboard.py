"""docs/grafana-dashboard.json against the rules of Grafana's dashboard schema (schemaVersion
39) that an import checks: required fields and types, unique panel ids inside a 24-column grid
without overlaps, every query on the templated Prometheus datasource, variables defined before
use; and every metric it queries is one mlcost exports (Prometheus names of conventions.py).
Its queries run against a real Prometheus in tests/backends/test_grafana_queries.py (no Grafana
server installs from the registries this project can reach)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from mlcost_sdk import conventions as c

DASHBOARD = Path(__file__).resolve().parents[2] / "docs" / "grafana-dashboard.json"
PANEL_TYPES = {"timeseries", "stat"}
UNITS = {"currencyUSD", "percentunit"}
GRAFANA_VARIABLES = {"__rate_interval", "__range", "__interval"}


def load() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return data


def prometheus_name(name: str, instrument: str) -> str:
    base = name.replace(".", "_")
    return base + "_total" if instrument == "counter" else base


def test_top_level_fields() -> None:
    d = load()
    assert isinstance(d["title"], str) and d["title"]
    assert isinstance(d["uid"], str) and re.fullmatch(r"[A-Za-z0-9_-]{1,40}", d["uid"])
    assert d["schemaVersion"] == 39 and isinstance(d["version"], int)
    assert isinstance(d["tags"], list) and all(isinstance(t, str) for t in d["tags"])
    assert set(d["time"]) == {"from", "to"} and isinstance(d["editable"], bool)
    assert isinstance(d["templating"]["list"], list) and isinstance(d["panels"], list)


def test_panels_fit_the_grid_without_overlap() -> None:
    panels = load()["panels"]
    assert len({p["id"] for p in panels}) == len(panels)
    boxes = []
    for p in panels:
        assert p["type"] in PANEL_TYPES and p["title"]
        g = p["gridPos"]
        assert all(isinstance(g[k], int) and g[k] >= 0 for k in ("x", "y", "w", "h"))
        assert g["w"] >= 1 and g["h"] >= 1 and g["x"] + g["w"] <= 24
        boxes.append((g["x"], g["y"], g["x"] + g["w"], g["y"] + g["h"]))
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            assert not (a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]), (a, b)


def test_queries_use_the_templated_datasource_and_defined_variables() -> None:
    d = load()
    variables = {v["name"] for v in d["templating"]["list"]}
    assert {"datasource", "team", "model"} <= variables
    ds = next(v for v in d["templating"]["list"] if v["name"] == "datasource")
    assert ds["type"] == "datasource" and ds["query"] == "prometheus"
    for p in d["panels"]:
        assert p["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        assert p["fieldConfig"]["defaults"]["unit"] in UNITS
        ref_ids = [t["refId"] for t in p["targets"]]
        assert ref_ids and len(set(ref_ids)) == len(ref_ids)
        for t in p["targets"]:
            assert t["datasource"] == p["datasource"] and t["expr"].strip()
            used = set(re.findall(r"\$\{?(\w+)", t["expr"]))
            assert used <= variables | GRAFANA_VARIABLES, used


def test_every_metric_queried_is_one_mlcost_exports() -> None:
    exported = {prometheus_name(m.name, m.instrument) for m in c.METRICS.values()}
    queried: set[str] = set()
    for p in load()["panels"]:
        for t in p["targets"]:
            # a series is a name before its selector, or alone as the last argument
            queried.update(re.findall(r"\b([a-z_]+)\{", t["expr"]))
            queried.update(re.findall(r"\(([a-z_]+)\)\s*$", t["expr"]))
    assert queried and queried <= exported, queried - exported
    titles = " ".join(p["title"] for p in load()["panels"])
    for wanted in ("by team", "by model", "by kind", "Idle share", "GPU utilization", "MFU"):
        assert wanted in titles
