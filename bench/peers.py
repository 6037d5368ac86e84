"""mlcost beside the tools users would pick instead, on the same workloads, in one run.

    python bench/peers.py                  # builds the peers' venvs once, prints markdown tables
    python bench/peers.py --only openai    # or --only training

- **Training loop** (a small MLP trained on CPU for ``--steps`` steps): bare; inside
  ``mlcost.training_run`` with ``run.step()`` per step (its default set-up: spans to the JSONL
  file); inside CodeCarbon 3.3's ``OfflineEmissionsTracker`` (offline: no network; its default
  CSV output). The figure is the wall time each adds around the same loop, tracker start and
  stop included, imports excluded.
- **OpenAI calls** (``--calls`` chat completions from the real ``openai`` client to the
  OpenAI-compatible test server, tests/integrations/openai/openai_compatible_server.py, served
  by uvicorn in another process): bare; ``instrument(client)`` of mlcost; OpenLIT 1.45's
  ``openlit.init()`` with a local pricing file (offline) and every instrumentor but OpenAI's
  off, with and without message-content capture (its default is on). The figure is the client
  process's CPU time per call (all its threads) above the bare call.

Each peer runs in its own venv under ``.cache/peers/`` (their pins clash with ours), made
here on first use with ``--system-site-packages`` and mlcost installed editable, so the bare
runs and mlcost's run in that same venv too: each table compares like with like. Every
variant runs in a fresh process; trials alternate; the table shows the median of
``--trials``. Spans, metrics and events of every tool go to SDK providers with do-nothing
exporters, so no tool pays for I/O the others skip (except the file outputs named above).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PEERS = ROOT / ".cache" / "peers"
# OpenLIT 1.45 depends on every OTel web instrumentation, which pip cannot resolve beside the
# OTel 1.45.2/0.66b2 we run; its OpenAI instrumentation needs only these (and openai < 3).
PINS = {"codecarbon": ["codecarbon==3.3.*"],
        "openlit": ["--no-deps", "openlit==1.45.0", "openai==2.54.0", "distro", "schedule",
                    "xmltodict"]}
TAGS = {"team": "bench", "model": "m", "environment": "dev", "cost_center": "c", "owner": "o"}
MODEL = "gpt-4o-mini"
MESSAGES: Any = [{"role": "user", "content": "what does this request cost"}]


# --- the orchestrator ------------------------------------------------------------------------

def venv_python(peer: str) -> Path:
    """The peer's venv (made on first use): the peer pinned, mlcost editable, our deps seen."""
    python = PEERS / peer / "bin" / "python"
    if not (PEERS / peer / ".ready").exists():
        subprocess.run([sys.executable, "-m", "venv", "--system-site-packages",
                        str(PEERS / peer)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", *PINS[peer]], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-deps", "-e", str(ROOT)],
                       check=True)
        (PEERS / peer / ".ready").touch()
    return python


def worker(python: Path, *args: str) -> dict[str, Any]:
    out = subprocess.run([str(python), str(Path(__file__).resolve()), "--worker", *args],
                         capture_output=True, text=True, timeout=900, cwd=ROOT,
                         env={**os.environ, "OTEL_SDK_DISABLED": "false"})
    if out.returncode != 0:
        raise RuntimeError(f"worker {args} failed:\n{out.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def versions(python: Path, *packages: str) -> str:
    code = ("import importlib.metadata as m, sys; print(', '.join(f'{p} ' + m.version(p) "
            "for p in sys.argv[1:]))")
    return subprocess.run([str(python), "-c", code, *packages], capture_output=True, text=True,
                          check=True).stdout.strip()


def versus_mlcost(added: dict[str, float], tool: str) -> str:
    """A tool's added time as a multiple of mlcost's; none when mlcost's is within the noise
    (the median with mlcost came out at or below the bare one)."""
    if tool == "bare":
        return ""
    if added["mlcost"] <= 0:
        return "mlcost's added time is below the run-to-run noise"
    return f"{added[tool] / added['mlcost']:.1f}x"


def run_training(trials: int, steps: int) -> None:
    python = venv_python("codecarbon")
    tools = ["bare", "mlcost", "codecarbon"]
    seconds: dict[str, list[float]] = {t: [] for t in tools}
    for _ in range(trials):
        for tool in tools:
            seconds[tool].append(worker(python, "training", tool, str(steps))["seconds"])
    base = statistics.median(seconds["bare"])
    print(f"\n### Training loop, {steps} steps ({versions(python, 'codecarbon', 'torch')}); "
          f"median of {trials} trials\n")
    print("| around the loop | loop wall time (s) | added (s) | added vs mlcost |")
    print("|---|---|---|---|")
    added = {t: statistics.median(seconds[t]) - base for t in tools}
    for tool in tools:
        ratio = versus_mlcost(added, tool)
        print(f"| {tool} | {statistics.median(seconds[tool]):.2f} | "
              f"{added[tool]:+.2f} | {ratio} |")


def run_openai(trials: int, calls: int) -> None:
    python = venv_python("openlit")
    pricing = PEERS / "openlit-pricing.json"
    write_openlit_pricing(pricing)
    server = subprocess.Popen([str(python), str(Path(__file__).resolve()), "--worker",
                               "server"], stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        assert server.stdout is not None
        url = server.stdout.readline().strip()  # the server prints its URL once it listens
        tools = ["bare", "mlcost", "openlit", "openlit-no-content"]
        cpu: dict[str, list[float]] = {t: [] for t in tools}
        for _ in range(trials):
            for tool in tools:
                result = worker(python, "openai", tool, str(calls), url, str(pricing))
                assert (result["spans"] >= calls) == (tool != "bare"), (tool, result)
                cpu[tool].append(result["cpu_s_per_call"])
    finally:
        server.terminate()
        server.wait(30)
    base = statistics.median(cpu["bare"])
    added = {t: statistics.median(cpu[t]) - base for t in tools}
    print(f"\n### OpenAI chat completions, {calls} calls a trial "
          f"({versions(python, 'openlit', 'openai', 'opentelemetry-sdk')}); "
          f"median of {trials} trials\n")
    print("| client | CPU per call (us) | added per call (us) | added vs mlcost |")
    print("|---|---|---|---|")
    for tool in tools:
        ratio = versus_mlcost(added, tool)
        print(f"| {tool} | {statistics.median(cpu[tool]) * 1e6:.0f} | "
              f"{added[tool] * 1e6:+.0f} | {ratio} |")


def write_openlit_pricing(path: Path) -> None:
    """OpenLIT's pricing file (USD per 1K tokens), with genai-prices' figures for the model,
    so both tools price the same call the same way."""
    from mlcost_sdk.catalog import token_price

    price = token_price(MODEL, "openai")
    assert price is not None
    entry = {"promptPrice": price.input_usd_per_token * 1000,
             "completionPrice": price.output_usd_per_token * 1000}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"chat": {MODEL: entry, f"{MODEL}-2024-07-18": entry},
                                "embeddings": {}, "images": {}, "audio": {}}))


# --- the workers (each in a fresh process) ----------------------------------------------------

SPANS_SEEN = [0]  # spans the do-nothing exporter got: proof each tool really instrumented


def do_nothing_providers() -> tuple[Any, Any]:
    """Global SDK tracer, meter and logger providers whose exporters drop everything: OpenLIT
    reuses providers it finds; mlcost is handed the same ones."""
    from opentelemetry import _logs, metrics, trace
    from opentelemetry.sdk._logs import LoggerProvider
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
    from opentelemetry.sdk.trace.export import (
        BatchSpanProcessor,
        SpanExporter,
        SpanExportResult,
    )

    class Drop(SpanExporter):
        def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
            SPANS_SEEN[0] += len(spans)
            return SpanExportResult.SUCCESS

    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(BatchSpanProcessor(Drop()))
    meter_provider = MeterProvider(metric_readers=[InMemoryMetricReader()])
    trace.set_tracer_provider(tracer_provider)
    metrics.set_meter_provider(meter_provider)
    _logs.set_logger_provider(LoggerProvider())
    return tracer_provider, meter_provider


def work_training(tool: str, steps: int) -> dict[str, Any]:
    import torch
    from torch import nn

    torch.manual_seed(0)
    torch.set_num_threads(1)
    model = nn.Sequential(nn.Linear(256, 1024), nn.ReLU(), nn.Linear(1024, 256))
    opt = torch.optim.SGD(model.parameters(), lr=1e-3)
    x = torch.randn(64, 256)
    outdir = tempfile.mkdtemp(prefix="peers-")

    def step() -> None:
        opt.zero_grad()
        model(x).pow(2).mean().backward()
        opt.step()

    step()  # first-call allocations out of the way of every variant
    if tool == "mlcost":
        import mlcost_sdk as mlcost

        os.environ["MLCOST_SPANS_PATH"] = os.path.join(outdir, "spans.jsonl")
        mlcost.configure(tags={**TAGS, "experiment_id": "peers"}, price=1.0)
        t = time.perf_counter()
        with mlcost.training_run("peers") as run:
            for _ in range(steps):
                step()
                run.step(samples=64)
        mlcost.flush()
    elif tool == "codecarbon":
        import logging

        from codecarbon import OfflineEmissionsTracker

        logging.getLogger("codecarbon").setLevel(logging.ERROR)
        tracker = OfflineEmissionsTracker(country_iso_code="USA", output_dir=outdir,
                                          log_level="error")
        t = time.perf_counter()
        tracker.start()
        for _ in range(steps):
            step()
        tracker.stop()
    else:
        t = time.perf_counter()
        for _ in range(steps):
            step()
    return {"seconds": time.perf_counter() - t}


def work_openai(tool: str, calls: int, url: str, pricing: str) -> dict[str, Any]:
    import openai

    tracer_provider, meter_provider = do_nothing_providers()
    client = openai.OpenAI(base_url=url, api_key="k", max_retries=0)
    if tool == "mlcost":
        import mlcost_sdk as mlcost
        from mlcost_sdk.integrations.openai import instrument

        mlcost.configure(tags=TAGS, tracer_provider=tracer_provider,
                         meter_provider=meter_provider)
        instrument(client)
    elif tool.startswith("openlit"):
        import logging

        import openlit
        from openlit._instrumentors import MODULE_NAME_MAP

        logging.getLogger("openlit").setLevel(logging.ERROR)
        openlit.init(pricing_json=pricing,
                     disabled_instrumentors=[n for n in MODULE_NAME_MAP if n != "openai"],
                     capture_message_content=tool == "openlit")
        client = openai.OpenAI(base_url=url, api_key="k", max_retries=0)  # after its patching

    def one() -> None:
        client.chat.completions.create(model=MODEL, messages=MESSAGES)

    for _ in range(50):
        one()  # connections, first-call imports and caches
    best = float("inf")
    for _ in range(3):
        t = time.process_time()
        for _ in range(calls):
            one()
        best = min(best, (time.process_time() - t) / calls)
    tracer_provider.force_flush()
    return {"cpu_s_per_call": best, "spans": SPANS_SEEN[0]}


def serve_forever() -> None:
    sys.path.insert(0, str(ROOT))
    from tests.integrations.asgi.uvicorn_server import serve
    from tests.integrations.openai.openai_compatible_server import Log, make_app

    class NoLog(list[Any]):
        def append(self, item: Any) -> None:  # a long bench must not grow the log
            pass

    log: Log = NoLog()
    with serve(make_app(log)) as url:
        print(url + "/v1", flush=True)
        while True:
            time.sleep(3600)


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", choices=["training", "openai"])
    ap.add_argument("--trials", type=int, default=5)
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--calls", type=int, default=300)
    ap.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.worker:
        kind, *rest = a.worker
        if kind == "server":
            serve_forever()
        result = (work_training(rest[0], int(rest[1])) if kind == "training"
                  else work_openai(rest[0], int(rest[1]), rest[2], rest[3]))
        print(json.dumps(result))
        return
    print(f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    if a.only in (None, "training"):
        run_training(a.trials, a.steps)
    if a.only in (None, "openai"):
        run_openai(a.trials, a.calls)
    print(f"\nload average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
