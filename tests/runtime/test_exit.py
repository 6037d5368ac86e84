"""How a process ends: a dead or hanging collector (http and grpc), SIGTERM, multiprocessing
children. Real subprocesses, real signals, real sockets on 127.0.0.1."""

from __future__ import annotations

import collections
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.exporters.test_span_health import dead_port, hanging_server  # noqa: F401 - fixture

APP = Path(__file__).parent / "apps" / "exit_app.py"
BOUND_S = 1.5  # shutdown_timeout_s's default


def _run(args: list[str], env: dict[str, str] | None = None,
         **kw: object) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, str(APP), *args], text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={**os.environ, **(env or {})}, **kw)  # type: ignore[call-overload]


def _records(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


@pytest.mark.slow
@pytest.mark.parametrize("protocol", ["http/protobuf", "grpc"])
@pytest.mark.parametrize("collector", ["dead", "hanging"])
def test_exit_is_bounded_and_every_undelivered_span_counted(
        tmp_path: Path, protocol: str, collector: str, hanging_server: int) -> None:  # noqa: F811
    port = dead_port() if collector == "dead" else hanging_server
    app = _run(["collector", str(tmp_path / "s.jsonl"), "3000"], env={
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{port}",
        "OTEL_EXPORTER_OTLP_PROTOCOL": protocol, "OTEL_METRICS_EXPORTER": "none"})
    out, err = app.communicate(timeout=120)
    assert app.returncode == 0, err
    lines = [line for line in out.splitlines() if line.startswith('{"ended"')]
    assert lines, (out, err)
    report = json.loads(lines[-1])
    # mlcost's whole exit path (idle span, every flush and shutdown) within the one bound
    assert report["exit_path_s"] <= BOUND_S + 0.5, report
    # nothing reached the collector, and every span the app ended is counted by its reason
    # (plus the shed ledger's few aggregate records, which carry the shed spans' cost)
    assert sum(report["dropped"].values()) >= report["ended"] >= 3000, report
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) <= len(report["dropped"]), err  # one line per failure kind, at most
    assert "Transient error" not in err and "retrying" not in err


@pytest.mark.slow
def test_sigterm_ends_the_run_with_an_error_flushes_it_and_keeps_the_exit_status(
        tmp_path: Path) -> None:
    spans = tmp_path / "s.jsonl"
    app = _run(["sigterm", str(spans)])
    assert app.stdout is not None and app.stdout.readline().strip() == "ready"
    app.send_signal(signal.SIGTERM)
    app.wait(timeout=60)
    assert app.returncode == -signal.SIGTERM  # as if mlcost were not there
    runs = [r for r in _records(spans) if r["name"] == "doomed"]
    assert len(runs) == 1
    run = runs[0]
    assert run["status"]["code"] == "ERROR"  # type: ignore[index]
    attrs = run["attributes"]
    assert attrs["mlcost.steps"] > 100 and attrs["mlcost.cost.usd"] > 0  # type: ignore[index]


@pytest.mark.slow
def test_sigterm_handler_of_the_application_is_never_replaced(tmp_path: Path) -> None:
    app = _run(["own_handler", str(tmp_path / "s.jsonl")])
    assert app.stdout is not None and app.stdout.readline().strip() == "ready"
    app.send_signal(signal.SIGTERM)
    app.wait(timeout=60)
    assert app.returncode == 0  # the application's handler ran (it exits 0)


@pytest.mark.slow
def test_sigterm_handling_can_be_turned_off(tmp_path: Path) -> None:
    spans = tmp_path / "s.jsonl"
    app = _run(["sigterm", str(spans)], env={"MLCOST_HANDLE_SIGTERM": "false"})
    assert app.stdout is not None and app.stdout.readline().strip() == "ready"
    app.send_signal(signal.SIGTERM)
    app.wait(timeout=60)
    assert app.returncode == -signal.SIGTERM
    assert not [r for r in _records(spans) if r["name"] == "doomed"]


@pytest.mark.slow
def test_multiprocessing_children_flush_every_span(tmp_path: Path) -> None:
    spans = tmp_path / "s.jsonl"
    app = _run(["mp", str(spans), "6"])
    out, err = app.communicate(timeout=300)
    assert app.returncode == 0, err
    reports = [line for line in out.splitlines() if line.startswith('{"expected"')]
    assert reports, (out, err)  # (children share the parent's stdout: look for the line)
    expected = json.loads(reports[-1])["expected"]
    names = collections.Counter(str(r["name"]) for r in _records(spans))
    made = sum(n for name, n in names.items() if name.startswith("child-"))
    assert made == expected  # Process children (os._exit) and Pool workers (terminated)
