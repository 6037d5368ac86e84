"""A small OpenAI-compatible HTTP API (chat completions, plain and SSE-streamed; completions;
embeddings) for the real ``openai`` client to talk to, served by uvicorn on 127.0.0.1.

It echoes the prompt; token counts are words, cached tokens half the prompt, reasoning tokens
half the completion for a model named ``*reasoner*``. Model ``rejects-prompt`` answers 400 with
the prompt quoted in the error, as real APIs do. Each exchange is appended to ``log`` as
(request body, usage sent) so tests compare spans with what was sent.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

Log = list[tuple[dict[str, Any], dict[str, Any] | None]]


def _usage(prompt: str, completion: str, reasoning: bool = False) -> dict[str, Any]:
    n_in, n_out = len(prompt.split()), len(completion.split())
    usage = {"prompt_tokens": n_in, "completion_tokens": n_out, "total_tokens": n_in + n_out,
             "prompt_tokens_details": {"cached_tokens": n_in // 2}}
    if reasoning:
        usage["completion_tokens_details"] = {"reasoning_tokens": n_out // 2}
    return usage


def _sse(payload: dict[str, Any]) -> str:
    return f"data: {json.dumps(payload)}\n\n"


def make_app(log: Log) -> Starlette:
    async def chat(request: Request) -> Response:
        body = await request.json()
        if body["model"] == "broken":
            log.append((body, None))
            return JSONResponse({"error": {"message": "model crashed", "type": "server_error"}},
                                status_code=500)
        prompt = " ".join(m["content"] for m in body["messages"])
        if body["model"] == "rejects-prompt":
            log.append((body, None))
            return JSONResponse({"error": {"message": f"Invalid prompt: {prompt!r}",
                                           "type": "invalid_request_error"}}, status_code=400)
        words = ["echo:", *prompt.split()]
        usage = _usage(prompt, " ".join(words), "reasoner" in body["model"])
        head = {"id": "chatcmpl-1", "created": 1, "model": f"{body['model']}-2024-07-18"}
        if not body.get("stream"):
            log.append((body, usage))
            message = {"role": "assistant", "content": " ".join(words)}
            return JSONResponse({**head, "object": "chat.completion", "usage": usage, "choices": [
                {"index": 0, "message": message, "finish_reason": "stop"}]})
        with_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        log.append((body, usage if with_usage else None))

        async def events() -> AsyncIterator[str]:
            chunk = {**head, "object": "chat.completion.chunk"}
            for word in words:
                yield _sse({**chunk, "choices": [
                    {"index": 0, "delta": {"content": word + " "}, "finish_reason": None}]})
            if with_usage:
                yield _sse({**chunk, "choices": [], "usage": usage})
            yield "data: [DONE]\n\n"

        return StreamingResponse(events(), media_type="text/event-stream")

    async def completions(request: Request) -> Response:
        body = await request.json()
        text = "echo: " + body["prompt"]
        usage = _usage(body["prompt"], text)
        log.append((body, usage))
        return JSONResponse({"id": "cmpl-1", "object": "text_completion", "created": 1,
                             "model": body["model"], "usage": usage, "choices": [
                                 {"index": 0, "text": text, "finish_reason": "stop"}]})

    async def embeddings(request: Request) -> Response:
        body = await request.json()
        texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
        n_in = sum(len(t.split()) for t in texts)
        usage = {"prompt_tokens": n_in, "total_tokens": n_in}
        log.append((body, usage))
        data = [{"object": "embedding", "index": i, "embedding": [0.5, -0.5, float(len(t))]}
                for i, t in enumerate(texts)]
        return JSONResponse({"object": "list", "model": body["model"], "data": data,
                             "usage": usage})

    return Starlette(routes=[Route("/v1/chat/completions", chat, methods=["POST"]),
                             Route("/v1/completions", completions, methods=["POST"]),
                             Route("/v1/embeddings", embeddings, methods=["POST"])])
