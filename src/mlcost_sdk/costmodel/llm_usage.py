"""Token usage as each provider reports it, normalised to :class:`TokenUsage`.

Providers count differently; TokenUsage counts as the OpenTelemetry GenAI conventions do
(input includes cached tokens, output includes reasoning):

| shape (told apart by) | input | cache read | cache write | output | reasoning |
|---|---|---|---|---|---|
| OpenAI Chat Completions (``prompt_tokens``) | prompt_tokens | prompt_tokens_details.cached_tokens | - | completion_tokens | completion_tokens_details.reasoning_tokens |
| OpenAI Responses (``input_tokens`` without cache fields) | input_tokens | input_tokens_details.cached_tokens | - | output_tokens | output_tokens_details.reasoning_tokens |
| Anthropic Messages (``cache_read_input_tokens`` / ``cache_creation_input_tokens``) | input_tokens + both cache counts (its input_tokens leave them out) | cache_read_input_tokens | cache_creation_input_tokens | output_tokens | - |
| Gemini (``prompt_token_count`` or REST ``promptTokenCount``) | prompt_token_count + tool_use_prompt_token_count | cached_content_token_count | - | candidates_token_count + thoughts_token_count | thoughts_token_count |

Each accepts the SDK's usage object or its JSON mapping, or a whole response carrying one
(``.usage`` / ``.usage_metadata``). These are the mappings genai-prices' own extractors use.
"""  # noqa: E501 - a table

from __future__ import annotations

from collections.abc import Mapping

from .. import _validate as v
from ..errors import InvalidParameterError
from .llm import TokenUsage

_GEMINI = {  # snake_case (google-genai SDK) -> camelCase (REST JSON)
    "prompt_token_count": "promptTokenCount", "candidates_token_count": "candidatesTokenCount",
    "cached_content_token_count": "cachedContentTokenCount",
    "thoughts_token_count": "thoughtsTokenCount",
    "tool_use_prompt_token_count": "toolUsePromptTokenCount",
}


def _has(obj: object, name: str) -> bool:
    return name in obj if isinstance(obj, Mapping) else hasattr(obj, name)


def _get(obj: object, name: str) -> object:
    return obj.get(name) if isinstance(obj, Mapping) else getattr(obj, name, None)


def _count(obj: object, *path: str) -> float:
    """The count at ``path`` (absent or null: 0), checked and named as the provider names it."""
    value = obj
    for name in path:
        value = _get(value, name)
        if value is None:
            return 0
    if type(value) is int and value >= 0:
        return value
    return v.non_negative("usage." + ".".join(path), value)


def _gemini(usage: object) -> TokenUsage:
    def n(snake: str) -> float:
        return _count(usage, snake if _has(usage, snake) else _GEMINI[snake])

    thoughts = n("thoughts_token_count")
    return TokenUsage.of(
        input_tokens=n("prompt_token_count") + n("tool_use_prompt_token_count"),
        output_tokens=n("candidates_token_count") + thoughts,
        cached_input_tokens=n("cached_content_token_count"), reasoning_tokens=thoughts)


def _anthropic(usage: object) -> TokenUsage:
    read = _count(usage, "cache_read_input_tokens")
    written = _count(usage, "cache_creation_input_tokens")
    return TokenUsage.of(input_tokens=_count(usage, "input_tokens") + read + written,
                         output_tokens=_count(usage, "output_tokens"),
                         cached_input_tokens=read, cache_creation_input_tokens=written)


def _openai_chat(usage: object) -> TokenUsage:
    return TokenUsage.of(
        input_tokens=_count(usage, "prompt_tokens"),
        output_tokens=_count(usage, "completion_tokens"),
        cached_input_tokens=_count(usage, "prompt_tokens_details", "cached_tokens"),
        reasoning_tokens=_count(usage, "completion_tokens_details", "reasoning_tokens"))


def _openai_responses(usage: object) -> TokenUsage:
    return TokenUsage.of(
        input_tokens=_count(usage, "input_tokens"), output_tokens=_count(usage, "output_tokens"),
        cached_input_tokens=_count(usage, "input_tokens_details", "cached_tokens"),
        reasoning_tokens=_count(usage, "output_tokens_details", "reasoning_tokens"))


def usage_from(usage: object) -> TokenUsage:
    """``usage`` in OpenAI, Anthropic or Gemini shape as a checked TokenUsage.

    Raises InvalidParameterError naming ``usage`` (an unknown shape) or the bad field.
    """
    if isinstance(usage, TokenUsage):
        return usage
    for _ in range(2):  # the usage itself, or a response that carries it
        if usage is None or isinstance(usage, str | bytes | int | float):
            break
        if _has(usage, "prompt_token_count") or _has(usage, "promptTokenCount"):
            return _gemini(usage)
        if _has(usage, "cache_read_input_tokens") or _has(usage, "cache_creation_input_tokens"):
            return _anthropic(usage)
        if _has(usage, "prompt_tokens"):
            return _openai_chat(usage)
        if _has(usage, "input_tokens"):
            return _openai_responses(usage)
        inner = next((_get(usage, k) for k in ("usage", "usage_metadata", "usageMetadata")
                      if _get(usage, k) is not None), None)
        if inner is None:
            break
        usage = inner
    raise InvalidParameterError("usage", type(usage).__name__,
                                "OpenAI, Anthropic or Gemini usage (the SDK's usage object, "
                                "its JSON mapping, or a response carrying one)")
