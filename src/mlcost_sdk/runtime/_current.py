"""`with` / `async with` for calls that also work as plain start() / end() pairs."""

from __future__ import annotations

from contextvars import Token
from typing import Any, Self

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.context import Context


class CurrentSpanCall:
    """Inside the block the call's span is current, so spans the user opens nest under it.

    Subclasses provide ``start()``, ``end(exc)`` and ``span``, and set ``_token = None``.
    """

    __slots__ = ("_token",)
    _token: Token[Context] | None

    @property
    def span(self) -> trace.Span:
        raise NotImplementedError

    def start(self) -> Self:
        raise NotImplementedError

    def end(self, exc: BaseException | None = None) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        span = self.start().span
        if span is not trace.INVALID_SPAN:
            self._token = otel_context.attach(trace.set_span_in_context(span))
        return self

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        if self._token is not None:
            otel_context.detach(self._token)
            self._token = None
        self.end(exc)

    async def __aenter__(self) -> Self:
        return self.__enter__()

    async def __aexit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        self.__exit__(exc_type, exc, tb)
