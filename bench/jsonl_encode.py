"""JSONL encoding of one inference span: the exporter's encoder against the stdlib encoder it
replaced, on the same spans, in one run.

    python bench/jsonl_encode.py

2,000 inference spans are captured from real ``mlcost.inference()`` calls (default tags, a
price, a model), then encoded as one batch; best of 15 rounds, CPU time of this process (the
machine is shared). The stdlib row is what the exporter did before (``json.dumps`` of
``span_to_record``), kept here as the baseline.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Sequence

from opentelemetry.sdk.trace import ReadableSpan

import mlcost_sdk as mlcost
from mlcost_sdk.exporters.jsonl import _encode, span_to_record
from mlcost_sdk.testing import capture

TAGS = {"team": "bench", "model": "m", "environment": "dev", "cost_center": "c", "owner": "o"}
N = 2_000


def stdlib(spans: Sequence[ReadableSpan]) -> bytes:
    return b"".join(json.dumps(span_to_record(s), separators=(",", ":"), allow_nan=False,
                               default=str).encode() + b"\n" for s in spans)


def per_span_us(encoders: Sequence[Callable[[Sequence[ReadableSpan]], bytes]],
                spans: Sequence[ReadableSpan]) -> list[float]:
    """Best of 15 rounds, the encoders alternating within each round (a shared machine's load
    then weighs on both alike)."""
    best = [float("inf")] * len(encoders)
    for _ in range(15):
        for i, encode in enumerate(encoders):
            start = time.process_time()
            encode(spans)
            best[i] = min(best[i], time.process_time() - start)
    return [b / len(spans) * 1e6 for b in best]


def main() -> None:
    with capture(tags=TAGS, price=2.5) as cap:
        for i in range(N):
            with mlcost.inference("predict", model="bert", params=110e6) as call:
                call.add(tokens=128 + i % 7)
        spans = cap.spans("inference")
    assert [json.loads(line) for line in _encode(spans).splitlines()] == \
        [json.loads(line) for line in stdlib(spans).splitlines()]  # the same records
    old, new = per_span_us([stdlib, _encode], spans)
    print(f"{len(spans)} inference spans, {len(_encode(spans)) / len(spans):.0f} bytes a line, "
          f"load average {os.getloadavg()[0]:.1f}")
    print(f"stdlib json.dumps (before): {old:6.2f} us a span")
    print(f"exporter _encode (now):     {new:6.2f} us a span  ({old / new:.1f}x faster)")


if __name__ == "__main__":
    main()
