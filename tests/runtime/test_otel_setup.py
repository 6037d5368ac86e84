"""configure()'s provider handling, each in a fresh interpreter (global providers are set once)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from mlcost_sdk import conventions as c

TAGS = "team=search,model=bert,environment=dev,cost_center=cc,owner=ana"


def _run(code: str, tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "MLCOST_"))}
    full_env.update(env)
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=tmp_path,
                          env=full_env, capture_output=True, text=True, timeout=120)


def test_no_configuration_writes_jsonl_by_default(tmp_path: Path) -> None:
    proc = _run("""
        from opentelemetry import metrics, trace
        import mlcost_sdk as mlcost
        with mlcost.training_run("t", tags={"experiment_id": "e1"}) as run:
            run.step(tokens=3)
        mlcost.flush()
        # mlcost's own providers stay private: other libraries are not switched on
        assert isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider)
        assert type(metrics.get_meter_provider()).__name__ == "_ProxyMeterProvider"
    """, tmp_path, MLCOST_TAGS=TAGS, MLCOST_PRICE_USD_PER_HOUR="2.0")
    assert proc.returncode == 0, proc.stderr
    lines = (tmp_path / "mlcost-spans.jsonl").read_text().splitlines()
    rec = json.loads(lines[-1])
    assert rec["attributes"][c.KIND] == c.KIND_TRAINING_RUN
    assert rec["attributes"][c.TOKENS] == 3
    assert rec["attributes"][c.PRICE_USD_PER_HOUR] == 2.0
    assert rec["resource"]["deployment.environment.name"] == "dev"


def test_an_applications_provider_is_respected_and_traces_join(tmp_path: Path) -> None:
    proc = _run("""
        from opentelemetry import trace
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
        exporter = InMemorySpanExporter()
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        trace.set_tracer_provider(provider)

        import mlcost_sdk as mlcost
        mlcost.configure(tags={"team": "t", "model": "m", "environment": "prod",
                               "cost_center": "c", "owner": "o"}, price=1.0)
        assert trace.get_tracer_provider() is provider
        with trace.get_tracer("app").start_as_current_span("request") as parent:
            with mlcost.inference("predict"):
                pass
        spans = {s.name: s for s in exporter.get_finished_spans()}
        assert spans["predict"].parent.span_id == parent.get_span_context().span_id
        assert spans["predict"].context.trace_id == parent.get_span_context().trace_id
        print("ok")
    """, tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "ok" in proc.stdout
    assert not (tmp_path / "mlcost-spans.jsonl").exists()


def test_disabled_sdk_installs_nothing(tmp_path: Path) -> None:
    proc = _run("""
        from opentelemetry import trace
        import mlcost_sdk as mlcost
        with mlcost.training_run("t") as run:
            run.step()
        with mlcost.inference("p"):
            pass
        assert isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider)
        print("ok")
    """, tmp_path, OTEL_SDK_DISABLED="true")
    assert proc.returncode == 0, proc.stderr
    assert not (tmp_path / "mlcost-spans.jsonl").exists()


def test_import_starts_nothing(tmp_path: Path) -> None:
    proc = _run("""
        import sys, threading
        import mlcost_sdk
        assert threading.active_count() == 1, threading.enumerate()
        assert "pynvml" not in sys.modules and "torch" not in sys.modules
        print("ok")
    """, tmp_path)
    assert proc.returncode == 0, proc.stderr


def test_configure_twice_replaces_exporters_instead_of_adding(tmp_path: Path) -> None:
    proc = _run("""
        import mlcost_sdk as mlcost
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
        mlcost.configure(exporters=["jsonl"], price=1.0)
        mlcost.configure(exporters=["jsonl"])
        with mlcost.inference("first"):
            pass
        memory = InMemorySpanExporter()
        mlcost.configure(exporters=[memory])   # replaces jsonl: "second" goes to memory only
        with mlcost.inference("second"):
            pass
        mlcost.flush()
        names = [s.name for s in memory.get_finished_spans()]
        assert "second" in names and "first" not in names, names
        print("ok")
    """, tmp_path, MLCOST_TAGS=TAGS)
    assert proc.returncode == 0, proc.stderr
    records = [json.loads(line) for line in
               (tmp_path / "mlcost-spans.jsonl").read_text().splitlines()]
    ids = [r["context"]["span_id"] if "context" in r else r["span_id"] for r in records
           if r["name"] == "first"]
    assert len(ids) == 1, records
    assert not [r for r in records if r["name"] == "second"]
