"""Requests/s of one FastAPI model server with and without MlcostASGIMiddleware, and the loss.

    python bench/asgi_throughput.py            # prints a markdown table for docs/benchmarks.md

Each trial starts a real uvicorn server in a subprocess on 127.0.0.1 (the same app, middleware
on or off; with it on, mlcost's default set-up: spans through its JSONL exporter into a
temporary folder, metrics into its own meter provider) and drives it from this process with
keep-alive connections for a fixed number of requests per endpoint. The load comes from a minimal
asyncio HTTP/1.1 client, far cheaper per request than the server, so the server is the
bottleneck. Trials alternate off/on and the best of each is kept (the least disturbed by other
load on the machine). ``--one-process`` serves every set-up from one process on a port each
(mlcost configured there for all, the baseline app without the middleware), taking turns:
the MLP's forward time differs more from one server process to the next than mlcost costs it,
so the ``/predict`` comparison needs the same process.

Besides requests/s, each row gives the server process's CPU per request (every thread: its
exporter's too), how much of it the cyclic garbage collector and the kernel took, and how often
the collector ran, read from a ``/stats`` route before and after the load. A span in flight is
a dozen objects the collector tracks; 32 requests in flight then keep more such objects alive
than its young-generation threshold (700), so it runs every few dozen requests, promotes the
live ones, and in a process with torch's heap its full collections cost more than the spans.

``--peers`` adds two floors, an empty ASGI middleware (what any middleware costs) and a bare
OpenTelemetry span a request (what any span per request costs), and what users would pick
instead: OpenTelemetry's own ASGI instrumentation
(opentelemetry-instrumentation-asgi, its defaults: a server span and two send spans a request)
through the same provider and exporter, alone and with mlcost's cost attributes put on its
server span (``on_server_span=True``) instead of a span of mlcost's own.

Endpoints: ``/noop/{id}`` returns a small JSON object (the middleware's worst case: no work to
hide behind); ``/predict/{id}`` also runs a small PyTorch MLP forward pass, whose own time is
measured and printed.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import platform
import re
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

TAGS = {"team": "bench", "model": "mlp", "environment": "dev", "cost_center": "c", "owner": "o"}
ENDPOINTS = ("/noop", "/predict")
MODES = ("off", "on", "aggregate", "layer", "span", "otel", "otel+cost")
PEERS = MODES[3:]  # floors (an empty middleware, a bare span); OpenTelemetry's instrumentation
NAMES = {"off": "without mlcost", "on": "MlcostASGIMiddleware (per-request spans)",
         "aggregate": "MlcostASGIMiddleware, aggregate mode",
         "layer": "an empty ASGI middleware (no cost; the floor of any middleware)",
         "span": "a bare OpenTelemetry span a request (no cost; the floor of any span mode)",
         "otel": "OpenTelemetry's ASGI instrumentation alone (no cost)",
         "otel+cost": "OpenTelemetry's ASGI instrumentation + mlcost's cost on its server span"}
# Read from the server's /stats before and after the load: CPU, GC and kernel seconds, and the
# collector's runs per generation.
STATS = ("cpu_s", "gc_s", "sys_s", "gen0", "gen1", "gen2")
Figures = tuple[float, ...]  # requests/s, then STATS per request
GC_THRESHOLD_ENV = "BENCH_GC_THRESHOLD"  # --gc-threshold, handed to the server process
_LENGTH = re.compile(rb"content-length:\s*(\d+)", re.IGNORECASE)


def make_model() -> tuple[nn.Module, torch.Tensor]:
    torch.manual_seed(0)
    torch.set_num_threads(1)
    model = nn.Sequential(nn.Linear(256, 1024), nn.GELU(), nn.Linear(1024, 1024), nn.GELU(),
                          nn.Linear(1024, 16)).eval()
    return model, torch.randn(4, 256)


def build_app(model: nn.Module, batch: torch.Tensor, gc_seconds: Callable[[], float],
              flush: Callable[[], object] | None) -> Any:
    from fastapi import FastAPI

    app = FastAPI()

    @app.get("/noop/{item_id}")
    async def noop(item_id: int) -> dict[str, int]:
        return {"item": item_id}

    @app.get("/predict/{item_id}")
    async def predict(item_id: int) -> dict[str, int]:
        with torch.inference_mode():
            return {"item": item_id, "label": int(model(batch).argmax())}

    @app.get("/stats")
    async def stats() -> dict[str, float]:
        """The server's own CPU (every thread) and time in the cyclic GC so far, once the
        spans of the requests before are written (their export is part of their cost)."""
        if flush is not None:
            flush()
        return {"cpu_s": time.process_time(), "sys_s": os.times().system, "gc_s": gc_seconds(),
                **{f"gen{i}": g["collections"] for i, g in enumerate(gc.get_stats())}}

    return app


def listening_socket() -> socket.socket:
    # IPPROTO_TCP named, or asyncio leaves Nagle on for accepted connections (40 ms stalls).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    sock.listen(2048)  # connections queue until uvicorn accepts them
    return sock


def serve(mode: str) -> None:
    """The server process: print the port, then serve until killed."""
    import uvicorn

    model, batch = make_model()
    gc_seconds = watch_gc()
    flush = None
    if mode != "off":
        import mlcost_sdk as mlcost

        # The default set-up, as a new user gets it: spans to the JSONL file, metrics recorded
        # (or aggregate mode: one record per route and window instead of a span per request).
        mlcost.configure(service_name="bench", tags=TAGS, price=1.0)
        flush = mlcost.flush
    app = build_app(model, batch, gc_seconds, flush)
    instrument(app, mode)
    sock = listening_socket()
    print(sock.getsockname()[1], flush=True)
    uvicorn.Server(uvicorn.Config(app, log_level="warning")).run(sockets=[sock])


def instrument(app: Any, mode: str) -> None:
    """Add the set-up's middlewares (the last added is the outermost). The OpenTelemetry
    instrumentation gets mlcost's own provider, processor and JSONL exporter, so the two
    differ only in their middleware."""
    from mlcost_sdk.integrations.asgi import MlcostASGIMiddleware

    if mode in ("on", "aggregate", "otel+cost"):
        app.add_middleware(MlcostASGIMiddleware, model="mlp", aggregate=mode == "aggregate",
                           on_server_span=mode == "otel+cost")
    from mlcost_sdk.runtime import config

    if mode == "layer":
        app.add_middleware(EmptyMiddleware)
    if mode == "span":
        app.add_middleware(BareSpanMiddleware, tracer=config.tracer_provider().get_tracer("b"))
    if mode in ("otel", "otel+cost"):
        from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware

        app.add_middleware(OpenTelemetryMiddleware, tracer_provider=config.tracer_provider())


class EmptyMiddleware:
    """A pure ASGI middleware that passes everything through."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.app(scope, receive, send)


class BareSpanMiddleware:
    """One span a request, current while the app runs, and nothing else."""

    def __init__(self, app: Any, tracer: Any) -> None:
        self.app, self.tracer = app, tracer

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        with self.tracer.start_as_current_span("request"):
            await self.app(scope, receive, send)


def serve_all(modes: list[str]) -> None:
    """One process serving the set-ups on a port each (the same model, torch and heap), for
    an endpoint whose own work varies more between processes than mlcost costs it."""
    import uvicorn

    import mlcost_sdk as mlcost

    model, batch = make_model()
    gc_seconds = watch_gc()
    mlcost.configure(service_name="bench", tags=TAGS, price=1.0)
    apps = {mode: build_app(model, batch, gc_seconds, mlcost.flush) for mode in modes}
    for mode, app in apps.items():
        instrument(app, mode)
    socks = {mode: listening_socket() for mode in modes}
    print(" ".join(str(socks[mode].getsockname()[1]) for mode in modes), flush=True)

    async def all_servers() -> None:
        await asyncio.gather(*(uvicorn.Server(uvicorn.Config(apps[m], log_level="warning"))
                               .serve(sockets=[socks[m]]) for m in modes))

    asyncio.run(all_servers())


def watch_gc() -> Callable[[], float]:
    """Seconds this process has spent in the cyclic garbage collector since the call (and the
    collector's young-generation threshold set, with ``--gc-threshold``)."""
    if os.environ.get(GC_THRESHOLD_ENV):
        gc.set_threshold(int(os.environ[GC_THRESHOLD_ENV]))
    spent, began = [0.0], [0.0]

    def callback(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            began[0] = time.perf_counter()
        else:
            spent[0] += time.perf_counter() - began[0]

    gc.callbacks.append(callback)
    return lambda: spent[0]


async def server_stats(port: int) -> dict[str, float]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /stats HTTP/1.1\r\nHost: bench\r\n\r\n")
    head = await reader.readuntil(b"\r\n\r\n")
    match = _LENGTH.search(head)
    assert match is not None, head
    body = await reader.readexactly(int(match.group(1)))
    writer.close()
    return json.loads(body)  # type: ignore[no-any-return]


async def load(port: int, path: str, requests: int, connections: int) -> float:
    """Send ``requests`` GETs over ``connections`` keep-alive connections; returns requests/s."""
    per_conn = requests // connections

    async def client(conn: int) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        for i in range(per_conn):
            writer.write(b"GET %s/%d HTTP/1.1\r\nHost: bench\r\n\r\n"
                         % (path.encode(), conn * per_conn + i))
            head = await reader.readuntil(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 200"), head
            match = _LENGTH.search(head)
            assert match is not None, head
            await reader.readexactly(int(match.group(1)))
        writer.close()

    start = time.perf_counter()
    await asyncio.wait_for(asyncio.gather(*(client(c) for c in range(connections))), 120)
    return per_conn * connections / (time.perf_counter() - start)


def trial(mode: str, requests: int, connections: int
          ) -> dict[str, Figures]:
    """Per endpoint: requests/s, the server's CPU per request, its GC and kernel time per
    request."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "MLCOST_"))}
    with tempfile.TemporaryDirectory() as spans_dir:
        env["MLCOST_SPANS_PATH"] = os.path.join(spans_dir, "spans.jsonl")
        server = subprocess.Popen(
            [sys.executable, __file__, "--serve", mode],
            stdout=subprocess.PIPE, env=env, text=True)
        try:
            assert server.stdout is not None
            port = int(server.stdout.readline())
            return {path: measure(port, path, requests, connections) for path in ENDPOINTS}
        finally:
            server.terminate()
            server.wait(30)


def measure(port: int, path: str, requests: int, connections: int
            ) -> Figures:
    asyncio.run(load(port, path, requests // 10, connections))  # warm-up
    before = asyncio.run(server_stats(port))
    rate = asyncio.run(load(port, path, requests, connections))
    after = asyncio.run(server_stats(port))
    return (rate, *((after[k] - before[k]) / requests for k in STATS))


def trial_one_process(modes: list[str], turn: int, requests: int, connections: int
                      ) -> dict[str, dict[str, Figures]]:
    """Every set-up in one server process, taking turns (the order rotates from trial to
    trial)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "MLCOST_"))}
    order = modes[turn % len(modes):] + modes[:turn % len(modes)]
    with tempfile.TemporaryDirectory() as spans_dir:
        env["MLCOST_SPANS_PATH"] = os.path.join(spans_dir, "spans.jsonl")
        server = subprocess.Popen([sys.executable, __file__, "--serve-all", *modes],
                                  stdout=subprocess.PIPE, env=env, text=True)
        try:
            assert server.stdout is not None
            ports = dict(zip(modes, map(int, server.stdout.readline().split()), strict=True))
            return {mode: {path: measure(ports[mode], path, requests, connections)
                           for path in ENDPOINTS} for mode in order}
        finally:
            server.kill()  # the uvicorn servers share one process's signal handlers
            server.wait(30)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--serve", choices=MODES, help=argparse.SUPPRESS)
    ap.add_argument("--requests", type=int, default=3000, help="per endpoint and trial")
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--trials", type=int, default=3, help="per configuration")
    ap.add_argument("--aggregate", action="store_true",
                    help="also measure the middleware's aggregate mode")
    ap.add_argument("--peers", action="store_true",
                    help="also measure OpenTelemetry's own ASGI instrumentation, alone and "
                         "with mlcost's cost on its server span")
    ap.add_argument("--one-process", action="store_true",
                    help="every set-up in one server process, on a port each (implies "
                         "--aggregate)")
    ap.add_argument("--gc-threshold", type=int, metavar="N",
                    help="the server's gc.set_threshold(N) (an application's setting; the "
                         "interpreter's default is 700)")
    ap.add_argument("--serve-all", nargs="+", choices=MODES, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve:
        serve(args.serve)
        return
    if args.serve_all:
        serve_all(args.serve_all)
        return
    args.aggregate = args.aggregate or args.one_process
    if args.gc_threshold:
        os.environ[GC_THRESHOLD_ENV] = str(args.gc_threshold)

    model, batch = make_model()
    with torch.inference_mode():
        for _ in range(50):
            model(batch)
        start = time.perf_counter()
        for _ in range(500):
            model(batch)
    forward_ms = (time.perf_counter() - start) / 500 * 1e3

    modes = ["off", "on"] + ["aggregate"] * args.aggregate + list(PEERS) * args.peers
    best = {mode: {path: (0.0,) * (1 + len(STATS)) for path in ENDPOINTS} for mode in modes}
    for turn in range(args.trials):
        if args.one_process:
            results = trial_one_process(modes, turn, args.requests, args.connections)
        else:
            results = {mode: trial(mode, args.requests, args.connections) for mode in modes}
        for mode, per_path in results.items():
            for path, figures in per_path.items():
                best[mode][path] = max(best[mode][path], figures)  # the fastest trial

    flags = (" --one-process" if args.one_process else " --aggregate" * args.aggregate) \
        + " --peers" * args.peers + (f" --gc-threshold {args.gc_threshold}"
                                     if args.gc_threshold else "")
    print(f"`python bench/asgi_throughput.py --requests {args.requests} --connections "
          f"{args.connections} --trials {args.trials}{flags}` "
          f"on {os.cpu_count()} CPUs "
          f"({platform.processor() or platform.machine()}), Python {platform.python_version()},"
          f" load average {os.getloadavg()[0]:.1f} at the end; best of {args.trials} trials.\n")
    print("| endpoint | set-up | req/s | loss | server CPU per request (us) | of which in the "
          "cyclic GC (us) | of which in the kernel (us) | GC collections per 1,000 requests "
          "(generation 0 / 1 / 2) |")
    print("|---|---|---|---|---|---|---|---|")
    for path in ENDPOINTS:
        label = f"`{path}/{{id}}`" + (f" (MLP forward {forward_ms:.2f} ms)"
                                       if path == "/predict" else " (no work)")
        off = best["off"][path][0]
        for mode in modes:
            rate, cpu, in_gc, in_kernel, *collections = best[mode][path]
            per_1000 = " / ".join(f"{n * 1000:.1f}" for n in collections)
            loss = "" if mode == "off" else f"{1 - rate / off:.1%}"
            print(f"| {label} | {NAMES[mode]} | {rate:,.0f} | {loss} | {cpu * 1e6:,.0f} "
                  f"| {in_gc * 1e6:,.1f} | {in_kernel * 1e6:,.0f} | {per_1000} |")


if __name__ == "__main__":
    main()
