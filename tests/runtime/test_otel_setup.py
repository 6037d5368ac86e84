"""configure()'s provider handling, each in a fresh interpreter (global providers are set once)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from mlcost_sdk import conventions as c

pytestmark = pytest.mark.slow  # each test is a fresh Python process

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


def test_process_constants_leave_the_request_thread_but_reach_every_exporter(
        tmp_path: Path) -> None:
    """On mlcost's own provider a request's span carries its own attributes only; the tags,
    hardware and price every request shares, and its call site's (on the site's tracer scope),
    are added at export, so the exported span equals the one an application's provider (which
    gets them all on the span) sees."""
    proc = _run("""
        import json
        import mlcost_sdk as mlcost
        from mlcost_sdk import conventions as c
        from mlcost_sdk.runtime import _process
        from mlcost_sdk.testing import capture
        from opentelemetry.sdk.trace import SpanProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

        class OnThread(SpanProcessor):  # what the application's thread hands the SDK
            spans = []
            def on_end(self, span):
                scope = dict(span.instrumentation_scope.attributes or {})
                self.spans.append((dict(span.attributes), scope))

        with capture(price=3.6) as cap:  # an application's provider: all on the span
            with mlcost.inference("predict", model="m", tags={"owner": "bob"}):
                pass
        reference = dict(cap.span(c.KIND_INFERENCE).attributes)

        memory = InMemorySpanExporter()
        mlcost.configure(exporters=[memory], price=3.6)
        from mlcost_sdk.runtime import config
        from mlcost_sdk.sampling import get_sampler
        import time
        before = get_sampler().snapshot().totals.ticks
        with mlcost.inference("warm-up"):  # starts the meter, and the sampler's thread
            pass
        deadline = time.monotonic() + 60
        while get_sampler().snapshot().totals.ticks <= before:  # its baseline; no other
            assert time.monotonic() < deadline
            time.sleep(0.01)
        config.tracer_provider().add_span_processor(OnThread())
        with mlcost.inference("predict", model="m", tags={"owner": "bob"}):
            pass
        mlcost.flush()
        [exported] = [dict(s.attributes) for s in memory.get_finished_spans()
                      if s.attributes.get(c.KIND) == c.KIND_INFERENCE and s.name == "predict"]
        [(on_thread, scope)] = [(a, s) for a, s in OnThread.spans
                                if s.get(c.KIND) == c.KIND_INFERENCE]
        print(json.dumps({"reference": reference, "exported": exported, "on_thread": on_thread,
                          "scope": scope, "stamped": dict(_process.stamped(on_thread, scope))}))
    """, tmp_path, MLCOST_TAGS=TAGS, MLCOST_SAMPLE_INTERVAL_S="3600")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    reference, exported, on_thread = out["reference"], out["exported"], out["on_thread"]
    varying = {c.COST_USD, c.UTILIZATION_MEAN, c.ENERGY_JOULES, c.POWER_MEAN_W}
    assert set(exported) == set(reference)
    assert {k: v for k, v in exported.items() if k not in varying} == \
        {k: v for k, v in reference.items() if k not in varying}
    for key in (c.tag_attribute("team"), c.HW_KIND, c.HW_COUNT, c.PRICE_SOURCE,
                c.PRICE_USD_PER_HOUR, c.DEPLOYMENT_ENVIRONMENT):
        assert key in exported and key not in on_thread, key
    assert set(on_thread) <= {c.COST_USD, c.UTILIZATION_MEAN}  # a request shorter than a tick
    scope = out["scope"]  # the call site's constants, once on its tracer
    assert scope[c.tag_attribute("owner")] == "bob" and scope[c.MODEL] == "m"
    assert scope[c.KIND] == c.KIND_INFERENCE and c.tag_attribute("team") not in scope
    assert out["stamped"] == exported  # the shed path sees what the exporters see
