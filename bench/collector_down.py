"""An inference call's cost while the OTLP collector is live, down (closed port) or hanging
(accepts, never answers), over HTTP and gRPC, side by side in one run.

    python bench/collector_down.py [--calls 20000] [--rounds 3]

Each (protocol, collector) pair runs in a fresh process (configure() once, as an application
does) that times ``--calls`` calls of a ``track_inference``-decorated no-op, best of 5 batches;
the pairs are interleaved ``--rounds`` times and the best of each is kept. The live collector
answers every export with an empty OTLP response from this (parent) process, as a real
collector would from its own. Prints a markdown table; the ratio is against the live collector
of the same protocol.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import threading
import time
from concurrent import futures
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

TAGS = {"team": "bench", "model": "m", "environment": "dev", "cost_center": "c", "owner": "o"}


def child(endpoint: str, protocol: str, calls: int) -> None:
    import mlcost_sdk as mlcost

    os.environ["OTEL_EXPORTER_OTLP_PROTOCOL"] = protocol
    os.environ["OTEL_EXPORTER_OTLP_ENDPOINT"] = endpoint
    os.environ["OTEL_EXPORTER_OTLP_TIMEOUT"] = "10"  # the exporters' default: 10 s
    mlcost.configure(service_name="bench", tags=TAGS, price=1.0, exporters=["otlp"])

    @mlcost.track_inference(name="predict", model="m")
    def predict() -> None:
        pass

    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(calls):
            predict()
        best = min(best, (time.perf_counter() - start) / calls)
    from mlcost_sdk.guard import dropped_spans

    print(json.dumps({"us": best * 1e6, "dropped": dropped_spans()}), flush=True)
    os._exit(0)  # not the exit window: this measures the calls, not the shutdown


class _Collector(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def live_http() -> str:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Collector)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}"


def live_grpc() -> str:
    import grpc
    from opentelemetry.proto.collector.metrics.v1 import (
        metrics_service_pb2,
        metrics_service_pb2_grpc,
    )
    from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc

    class Traces(trace_service_pb2_grpc.TraceServiceServicer):
        def Export(self, request: Any, context: Any) -> Any:  # noqa: N802 - gRPC's name
            return trace_service_pb2.ExportTraceServiceResponse()

    class Metrics(metrics_service_pb2_grpc.MetricsServiceServicer):
        def Export(self, request: Any, context: Any) -> Any:  # noqa: N802
            return metrics_service_pb2.ExportMetricsServiceResponse()

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(Traces(), server)
    metrics_service_pb2_grpc.add_MetricsServiceServicer_to_server(Metrics(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    _keep.append(server)
    return f"http://127.0.0.1:{port}"


_keep: list[Any] = []


def dead() -> str:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there now: every connect is refused
    return f"http://127.0.0.1:{port}"


def hanging() -> str:
    from hanging_collector import hanging_collector  # bench/: the same wedged socket

    return f"http://127.0.0.1:{hanging_collector()}"


def measure(endpoint: str, protocol: str, calls: int) -> dict[str, float]:
    out = subprocess.run([sys.executable, __file__, "--child", endpoint, protocol, str(calls)],
                         capture_output=True, text=True, timeout=600, check=True)
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=20_000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child[0], args.child[1], int(args.child[2]))
        return
    collectors = {"live": {"http/protobuf": live_http(), "grpc": live_grpc()},
                  "down (closed port)": {"http/protobuf": dead(), "grpc": dead()},
                  "hanging (accepts, never answers)": {"http/protobuf": hanging(),
                                                       "grpc": hanging()}}
    best: dict[tuple[str, str], dict[str, float]] = {}
    for _ in range(args.rounds):
        for protocol in ("http/protobuf", "grpc"):
            for name, endpoints in collectors.items():
                got = measure(endpoints[protocol], protocol, args.calls)
                key = (protocol, name)
                if key not in best or got["us"] < best[key]["us"]:
                    best[key] = got
    print(f"load average at the end: {os.getloadavg()[0]:.1f}\n")
    print("| protocol | collector | us per call | vs live | spans dropped (counted) |")
    print("|---|---|---|---|---|")
    for (protocol, name), got in best.items():
        ratio = got["us"] / best[(protocol, "live")]["us"]
        print(f"| {protocol} | {name} | {got['us']:.1f} | {ratio:.2f}x | {int(got['dropped']):,} |")


if __name__ == "__main__":
    main()
