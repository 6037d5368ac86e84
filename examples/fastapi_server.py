"""A FastAPI model server costed per request by mlcost-sdk's ASGI middleware.

Starts uvicorn on 127.0.0.1 (a free port), sends a few requests (plain and streamed), stops,
and at exit prints the inference summary: what the requests cost, what idle time cost, and the
realized cost per request. Spans go to ./mlcost-spans.jsonl (or OTLP when
OTEL_EXPORTER_OTLP_ENDPOINT is set). The "model" is a toy word scorer: nothing is downloaded.

    pip install -e ".[fastapi]" && python examples/fastapi_server.py --usd-per-hour 1.20
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import threading
import time
import urllib.request
from collections.abc import AsyncIterator

import uvicorn
from fastapi import FastAPI
from fastapi.responses import StreamingResponse

import mlcost_sdk as mlcost
from mlcost_sdk.integrations.asgi import MlcostASGIMiddleware

POSITIVE = {"good", "great", "fast", "cheap", "love"}

app = FastAPI()
app.add_middleware(MlcostASGIMiddleware, model="word-scorer")


@app.get("/score/{text}")
async def score(text: str) -> dict[str, float]:
    words = text.lower().split("-")
    await asyncio.sleep(0.01)  # stands in for the model's forward pass
    return {"positive": sum(w in POSITIVE for w in words) / len(words)}


@app.get("/generate/{n_tokens}")
async def generate(n_tokens: int) -> StreamingResponse:
    async def tokens() -> AsyncIterator[str]:
        for i in range(n_tokens):
            await asyncio.sleep(0.02)  # one decoding step
            yield f"tok{i} "

    return StreamingResponse(tokens(), media_type="text/plain")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--usd-per-hour", type=float, default=1.20,
                    help="what this server's machine costs per hour (user-given price)")
    args = ap.parse_args()
    mlcost.configure(
        service_name="fastapi-example",
        tags={"team": "search", "model": "word-scorer", "environment": "dev",
              "cost_center": "ml-platform", "owner": "you"},
        price=mlcost.Price(usd_per_hour=args.usd_per_hour),
        console_summary=True,  # the inference summary is printed when the process exits
    )

    # IPPROTO_TCP named, or asyncio leaves Nagle on for accepted connections (40 ms stalls).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    try:
        for path in ("/score/good-fast-model", "/score/slow-and-costly", "/generate/8"):
            with urllib.request.urlopen(url + path, timeout=10) as response:
                body = response.read().decode()
                shown = json.loads(body) if path.startswith("/score") else body.strip()
                print(f"GET {path} -> {response.status} {shown}")
            time.sleep(0.05)  # the server sits idle between requests: idle cost
    finally:
        server.should_exit = True
        thread.join(10)


if __name__ == "__main__":
    main()
