"""The openai client, instrumented by mlcost-sdk: every call an llm_call span with its token cost.

By default it starts a small OpenAI-compatible server on 127.0.0.1 that echoes the prompt (no
key, no network), makes a plain, a streamed and an async call, and prints each call's tokens
and cost as its exported span tells it. Point it at a real OpenAI-compatible API with --base-url
(the key comes from OPENAI_API_KEY). Prices come from genai-prices for known models; give
--usd-per-1k-in/--usd-per-1k-out for self-hosted ones. The spans also go to
./mlcost-spans.jsonl, so `mlcost report` afterwards shows the calls' LLM cost.

    pip install -e ".[openai,fastapi]" && python examples/openai_client.py && mlcost report
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import contextmanager

import openai
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

import mlcost_sdk as mlcost
from mlcost_sdk import conventions as c
from mlcost_sdk.integrations.openai import instrument

MESSAGES = [{"role": "user", "content": "In one sentence: why does idle GPU time cost money?"}]


class LlmCostLines(SpanExporter):
    """Any OpenTelemetry exporter sees mlcost's spans; this one notes each LLM call's cost."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        for span in spans:
            attrs = span.attributes or {}
            if attrs.get(c.KIND) == c.KIND_LLM_CALL:
                cost = attrs.get(c.COST_USD)
                shown = f"${cost:.6f}" if isinstance(cost, float) else "unpriced"
                self.lines.append(f"  {span.name}: {attrs.get(c.GEN_AI_INPUT_TOKENS)} in, "
                                  f"{attrs.get(c.GEN_AI_OUTPUT_TOKENS)} out -> {shown} "
                                  f"({attrs.get(c.PRICE_SOURCE)})")
        return SpanExportResult.SUCCESS


@contextmanager
def local_api(model: str) -> Iterator[str]:
    """An OpenAI-compatible chat completions endpoint that echoes the prompt, word by word."""
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response, StreamingResponse
    from starlette.routing import Route

    async def chat(request: Request) -> Response:
        body = await request.json()
        words = body["messages"][-1]["content"].split()
        usage = {"prompt_tokens": len(words) + 4, "completion_tokens": len(words),
                 "total_tokens": 2 * len(words) + 4}
        head = {"id": "local-1", "created": int(time.time()), "model": model}
        if not body.get("stream"):
            return JSONResponse({**head, "object": "chat.completion", "usage": usage, "choices": [
                {"index": 0, "finish_reason": "stop",
                 "message": {"role": "assistant", "content": " ".join(words)}}]})

        async def events() -> AsyncIterator[str]:
            chunk = {**head, "object": "chat.completion.chunk"}
            for word in words:
                delta = {"index": 0, "delta": {"content": word + " "}, "finish_reason": None}
                yield f"data: {json.dumps({**chunk, 'choices': [delta]})}\n\n"
            if (body.get("stream_options") or {}).get("include_usage"):
                yield f"data: {json.dumps({**chunk, 'choices': [], 'usage': usage})}\n\n"
            yield "data: [DONE]\n\n"

        return StreamingResponse(events(), media_type="text/event-stream")

    # IPPROTO_TCP named, or asyncio leaves Nagle on for accepted connections (40 ms stalls).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(
        Starlette(routes=[Route("/v1/chat/completions", chat, methods=["POST"])]),
        log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/v1"
    finally:
        server.should_exit = True
        thread.join(10)


def run_calls(base_url: str, model: str, prices: dict[str, float | None]) -> None:
    key = os.environ.get("OPENAI_API_KEY", "local")
    client = instrument(openai.OpenAI(base_url=base_url, api_key=key), **prices)
    reply = client.chat.completions.create(model=model, messages=MESSAGES)
    print(f"plain:    {reply.choices[0].message.content}")
    stream = client.chat.completions.create(model=model, messages=MESSAGES, stream=True)
    print(f"streamed: {''.join(ch.choices[0].delta.content or '' for ch in stream).strip()}")

    async def async_call() -> None:
        async with instrument(openai.AsyncOpenAI(base_url=base_url, api_key=key),
                              **prices) as aclient:
            reply = await aclient.chat.completions.create(model=model, messages=MESSAGES)
        print(f"async:    {reply.choices[0].message.content}")

    asyncio.run(async_call())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--base-url", help="a real OpenAI-compatible API (default: a local one)")
    ap.add_argument("--model", default="gpt-4o-mini")
    ap.add_argument("--usd-per-1k-in", type=float, help="input price, for self-hosted models")
    ap.add_argument("--usd-per-1k-out", type=float, help="output price, for self-hosted models")
    args = ap.parse_args()
    mlcost.configure(
        service_name="openai-example",
        tags={"team": "search", "model": args.model, "environment": "dev",
              "cost_center": "ml-platform", "owner": "you"},
        exporters=["jsonl", costs := LlmCostLines()],  # the file feeds `mlcost report`
    )
    prices = {"input_usd_per_1k": args.usd_per_1k_in, "output_usd_per_1k": args.usd_per_1k_out}
    if args.base_url:
        run_calls(args.base_url, args.model, prices)
    else:
        with local_api(args.model) as base_url:
            run_calls(base_url, args.model, prices)
    mlcost.flush()
    print("LLM calls (tokens the API reported, priced per token):", *costs.lines, sep="\n")
    print("written to ./mlcost-spans.jsonl: `mlcost report` rolls them up")


if __name__ == "__main__":
    main()
