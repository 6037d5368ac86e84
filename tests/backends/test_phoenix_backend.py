"""OTLP into a real Arize Phoenix server, over HTTP and gRPC, read back through its REST API
with every attribute intact (compared with what the JSONL exporter wrote for the same spans)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider

from mlcost_sdk import conventions as c
from mlcost_sdk.errors import InvalidParameterError
from mlcost_sdk.exporters import otlp
from mlcost_sdk.exporters._health import span_processor
from mlcost_sdk.exporters.jsonl import JsonlSpanExporter
from mlcost_sdk.guard import dropped_spans
from mlcost_sdk.reports.phoenix import fetch_spans

from .conftest import Phoenix

pytestmark = [pytest.mark.backend, pytest.mark.slow]

PROJECT_ATTRIBUTE = "openinference.project.name"  # how Phoenix picks a span's project
PROTOCOLS = ["http/protobuf", "grpc"]
# OpenInference attributes Phoenix derives from gen_ai.* on ingestion (never mlcost.*)
PHOENIX_DERIVED = ("llm.", "output.")


def endpoint_for(phoenix: Phoenix, protocol: str) -> str:
    return phoenix.grpc_url if protocol == "grpc" else phoenix.url


def new_project() -> str:
    return f"mlcost-{uuid.uuid4().hex[:10]}"


def every_convention_attribute() -> dict[str, Any]:
    """A value of the declared type for every name in conventions.py, plus tags."""
    def sample(type_: str, i: int) -> Any:
        return {"string": f"value-{i}", "double": i + 1 / 3, "int": 2**40 + i,
                "boolean": i % 2 == 0}[type_]

    attrs = {a.name: sample(a.type, i) for i, a in enumerate(c.ATTRIBUTES.values())
             if "<" not in a.name}
    for key in ("team", "model", "environment", "cost_center", "owner", "experiment_id"):
        attrs[c.tag_attribute(key)] = f"{key}-value"
    return attrs


def emit_spans(tp: TracerProvider) -> None:
    tracer = tp.get_tracer(c.INSTRUMENTATION_SCOPE, "0.0.test")
    attrs = every_convention_attribute()
    with tracer.start_as_current_span("run", attributes={**attrs, c.KIND: c.KIND_TRAINING_RUN}):
        with tracer.start_as_current_span("window", attributes={
                c.KIND: c.KIND_TRAINING_WINDOW, c.WINDOW_INDEX: 0, c.COST_USD: 0.001}) as w:
            w.add_event("checkpoint", {"step": 5, "path": "/tmp/ckpt"})
        try:
            with tracer.start_as_current_span("predict", attributes={
                    c.KIND: c.KIND_INFERENCE, c.COST_USD: 2.5e-05, c.MODEL: "bert",
                    c.HTTP_ROUTE: "/predict", c.HTTP_STATUS_CODE: 500}):
                raise ValueError("bad input")
        except ValueError:
            pass


def read_jsonl(path: Path) -> dict[str, dict[str, Any]]:
    records = [json.loads(line) for line in path.read_text().splitlines() if line]
    return {r["span_id"]: r for r in records}


def read_back(phoenix: Phoenix, project: str, want: int,
              timeout_s: float = 60.0) -> dict[str, dict[str, Any]]:
    """Poll Phoenix until ``want`` spans are in ``project`` (ingestion is asynchronous)."""
    deadline = time.monotonic() + timeout_s
    records: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        try:
            records = list(fetch_spans(phoenix.url, project))
        except InvalidParameterError:  # the project appears with its first span
            records = []
        if len(records) >= want:
            break
        time.sleep(0.25)
    assert len(records) == want, f"{len(records)} of {want} spans in {project}"
    return {r["span_id"]: r for r in records}


def assert_same_records(remote: dict[str, dict[str, Any]],
                        local: dict[str, dict[str, Any]]) -> None:
    assert remote.keys() == local.keys()
    for span_id, want in local.items():
        got = remote[span_id]
        for key in ("name", "trace_id", "parent_span_id", "status"):
            assert got[key] == want[key], (want["name"], key)
        # Every attribute intact; Phoenix adds its own OpenInference view of gen_ai.*.
        assert {k: got["attributes"].get(k) for k in want["attributes"]} == want["attributes"]
        added = set(got["attributes"]) - set(want["attributes"])
        assert all(k.startswith(PHOENIX_DERIVED) for k in added), sorted(added)
        for key in ("start_time_unix_nano", "end_time_unix_nano"):
            assert abs(got[key] - want[key]) < 1000, key  # Phoenix keeps microseconds
        assert [(e["name"], e["attributes"]) for e in got["events"]] \
            == [(e["name"], e["attributes"]) for e in want["events"]]


def export_both_ways(tmp_path: Path, resource: dict[str, str], **otlp_kwargs: Any,
                     ) -> dict[str, dict[str, Any]]:
    """Emit the spans through JSONL and OTLP at once; the JSONL records, by span id."""
    jsonl = tmp_path / f"{uuid.uuid4().hex}.jsonl"
    tp = TracerProvider(resource=Resource.create({"service.name": "mlcost-test", **resource}))
    tp.add_span_processor(span_processor(JsonlSpanExporter(jsonl)))
    tp.add_span_processor(span_processor(otlp.span_exporter(timeout=10, **otlp_kwargs)))
    before = dropped_spans()
    emit_spans(tp)
    assert tp.force_flush(timeout_millis=30_000)
    tp.shutdown()
    assert dropped_spans() == before
    return read_jsonl(jsonl)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_every_attribute_survives_the_round_trip(phoenix: Phoenix, tmp_path: Path,
                                                 protocol: str) -> None:
    project = new_project()
    local = export_both_ways(tmp_path, {PROJECT_ATTRIBUTE: project},
                             endpoint=endpoint_for(phoenix, protocol), protocol=protocol)
    remote = read_back(phoenix, project, want=3)
    assert_same_records(remote, local)
    run = next(r for r in local.values() if r["name"] == "run")  # remote has the same, above
    assert run["attributes"] == {**every_convention_attribute(), c.KIND: c.KIND_TRAINING_RUN}
    predict = next(r for r in remote.values() if r["name"] == "predict")
    assert predict["status"]["code"] == "ERROR"
    assert [e["name"] for e in predict["events"]] == ["exception"]


@pytest.mark.parametrize("env", [
    {"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc", "OTEL_EXPORTER_OTLP_ENDPOINT": "{grpc}"},
    # the signal's own protocol beats the general one: HTTP, to the HTTP port
    {"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "http/protobuf",
     "OTEL_EXPORTER_OTLP_ENDPOINT": "{http}"},
], ids=["grpc", "traces-protocol-wins"])
def test_configured_from_the_environment(phoenix: Phoenix, tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch,
                                         env: dict[str, str]) -> None:
    for name in [n for n in os.environ if n.startswith("OTEL_EXPORTER_OTLP")]:
        monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value.format(grpc=phoenix.grpc_url, http=phoenix.url))
    project = new_project()
    local = export_both_ways(tmp_path, {PROJECT_ATTRIBUTE: project})
    assert_same_records(read_back(phoenix, project, want=3), local)


def test_headers_reach_the_collector(phoenix: Phoenix, tmp_path: Path) -> None:
    """Phoenix files spans under the project its x-project-name header names."""
    project = new_project()
    local = export_both_ways(tmp_path, {}, endpoint=phoenix.url, protocol="http/protobuf",
                             headers={"x-project-name": project})
    assert_same_records(read_back(phoenix, project, want=3), local)


def test_without_a_project_spans_go_to_the_default_project(phoenix: Phoenix,
                                                           tmp_path: Path) -> None:
    local = export_both_ways(tmp_path, {}, endpoint=phoenix.url, protocol="http/protobuf")
    trace_ids = {r["trace_id"] for r in local.values()}
    deadline = time.monotonic() + 60
    while True:
        mine = {r["span_id"]: r for r in fetch_spans(phoenix.url, "default")
                if r["trace_id"] in trace_ids}
        if len(mine) == len(local) or time.monotonic() > deadline:
            break
        time.sleep(0.25)
    assert_same_records(mine, local)


def test_unknown_project_names_the_field(phoenix: Phoenix) -> None:
    with pytest.raises(InvalidParameterError) as err:
        list(fetch_spans(phoenix.url, "no-such-project-" + uuid.uuid4().hex))
    assert err.value.parameter == "project"


def test_pagination_reads_every_span(phoenix: Phoenix, tmp_path: Path) -> None:
    project = new_project()
    local = export_both_ways(tmp_path, {PROJECT_ATTRIBUTE: project}, endpoint=phoenix.url,
                             protocol="http/protobuf")
    read_back(phoenix, project, want=3)
    paged = list(fetch_spans(phoenix.url, project, page_size=2))
    assert sorted(r["span_id"] for r in paged) == sorted(local)


def run_instrumented_app(phoenix: Phoenix, protocol: str, project: str, jsonl: Path) -> str:
    """Run instrumented_app.py configured through the environment only, exporting to OTLP and
    JSONL at once; its stderr."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("OTEL_", "MLCOST_"))}
    env.update({
        "OTEL_SERVICE_NAME": "mlcost-e2e",
        "OTEL_RESOURCE_ATTRIBUTES": f"{PROJECT_ATTRIBUTE}={project}",
        "OTEL_TRACES_EXPORTER": "otlp,jsonl",
        "OTEL_METRICS_EXPORTER": "none",  # Phoenix takes traces only
        "OTEL_EXPORTER_OTLP_PROTOCOL": protocol,
        "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint_for(phoenix, protocol),
        "MLCOST_SPANS_PATH": str(jsonl),
        "MLCOST_TAGS": "team=search,model=tiny,environment=dev,cost_center=cc-1,owner=ana",
        "MLCOST_PRICE_USD_PER_HOUR": "3.6",
    })
    app = Path(__file__).with_name("instrumented_app.py")
    done = subprocess.run([sys.executable, str(app), "3"], env=env, capture_output=True,
                          text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-4000:]
    return done.stderr


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_real_training_run_and_served_requests(phoenix: Phoenix, tmp_path: Path,
                                               protocol: str) -> None:
    """The runtime end to end: Phoenix holds exactly what the JSONL file holds."""
    project, jsonl = new_project(), tmp_path / "spans.jsonl"
    run_instrumented_app(phoenix, protocol, project, jsonl)
    local = read_jsonl(jsonl)
    # Ledger records (cost checkpoints, which a run longer than one window writes) aside.
    kinds = sorted(r["attributes"][c.KIND] for r in local.values()
                   if c.RECORD not in r["attributes"])
    assert kinds.count(c.KIND_TRAINING_RUN) == 1 and kinds.count(c.KIND_INFERENCE) == 3
    assert kinds.count(c.KIND_TRAINING_WINDOW) >= 2
    remote = read_back(phoenix, project, want=len(local))
    assert_same_records(remote, local)

    run = next(r for r in remote.values() if r["attributes"][c.KIND] == c.KIND_TRAINING_RUN
               and c.RECORD not in r["attributes"])
    attrs = run["attributes"]
    assert attrs[c.COST_USD] > 0 and attrs[c.STEPS] == 12 and attrs[c.SAMPLES] == 12 * 16
    assert attrs[c.tag_attribute("experiment_id")] == "exp-e2e"
    assert attrs[c.DEPLOYMENT_ENVIRONMENT] == "dev"
    windows = [r for r in remote.values() if r["attributes"][c.KIND] == c.KIND_TRAINING_WINDOW]
    assert all(w["parent_span_id"] == run["span_id"] for w in windows)
    for request in (r for r in remote.values() if r["attributes"][c.KIND] == c.KIND_INFERENCE):
        assert request["attributes"][c.COST_USD] > 0
        assert request["attributes"][c.tag_attribute("team")] == "search"

    # `mlcost report` reads the Phoenix server as it reads the file: the same roll-up.
    def report(source: str) -> dict[str, Any]:
        out = subprocess.run([sys.executable, "-m", "mlcost_sdk", "report", source,
                              "--project", project, "--by", "team,model", "--json"],
                             capture_output=True, text=True, timeout=120, check=True)
        parsed: dict[str, Any] = json.loads(out.stdout)
        return parsed

    from_phoenix, from_file = report(phoenix.url)["rows"], report(str(jsonl))["rows"]
    total_phoenix, total_file = from_phoenix[0], from_file[0]  # level 0: the total
    assert total_phoenix["cost_usd"] == pytest.approx(total_file["cost_usd"], rel=1e-9)
    assert total_phoenix["requests"] == total_file["requests"] == 3
    assert [r["group"] for r in from_phoenix] == [r["group"] for r in from_file]


def test_serving_process_exports_its_idle_span_at_exit(phoenix: Phoenix, tmp_path: Path) -> None:
    project, jsonl = new_project(), tmp_path / "spans.jsonl"
    stderr = run_instrumented_app(phoenix, "http/protobuf", project, jsonl)
    kinds = [r["attributes"][c.KIND] for r in read_jsonl(jsonl).values()]
    assert "dropped" not in stderr, stderr[-2000:]
    assert kinds.count(c.KIND_IDLE) >= 1
