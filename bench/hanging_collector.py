"""The wall-clock figures behind tests/exporters/test_span_health.py's hanging-collector bounds.

The test proves the application never waits on a wedged collector with bounds far from the
exporter's 10 s hang, so they hold on a loaded machine; this prints what the same set-up
actually takes (docs/testing.md):

    python3 bench/hanging_collector.py
"""

from __future__ import annotations

import os
import socket
import threading
import time

from opentelemetry.sdk.trace import TracerProvider

from mlcost_sdk.exporters import otlp
from mlcost_sdk.exporters._health import span_processor


def hanging_collector() -> int:
    """A loopback port that accepts connections and never answers; the port."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    held: list[socket.socket] = []

    def accept() -> None:
        while True:
            held.append(server.accept()[0])

    threading.Thread(target=accept, daemon=True).start()
    return int(server.getsockname()[1])


def main() -> None:
    exporter = otlp.span_exporter(endpoint=f"http://127.0.0.1:{hanging_collector()}",
                                  protocol="http/protobuf", timeout=10.0)
    processor = span_processor(exporter, max_queue_size=100, max_export_batch_size=50,
                               schedule_delay_millis=10, shutdown_timeout_s=0.3)
    tp = TracerProvider()
    tp.add_span_processor(processor)
    tracer = tp.get_tracer("app")
    start = time.perf_counter()
    for i in range(5000):
        with tracer.start_as_current_span("request", attributes={"i": i}):
            pass
    spans_s = time.perf_counter() - start
    start = time.perf_counter()
    flushed = tp.force_flush(timeout_millis=200)
    flush_s = time.perf_counter() - start
    start = time.perf_counter()
    tp.shutdown()
    shutdown_s = time.perf_counter() - start
    print(f"load {os.getloadavg()[0]:.1f}: 5000 spans {spans_s:.3f} s, force_flush(200 ms) "
          f"{flush_s:.3f} s (returned {flushed}), shutdown (0.3 s bound) {shutdown_s:.3f} s")
    os._exit(0)  # the exporter thread is still inside the hung request


if __name__ == "__main__":
    main()
