"""The entry points: ``inference()`` (a cached call site per distinct arguments) and the
``track_inference`` decorator for sync, async, generator and async-generator handlers."""

from __future__ import annotations

import functools
import inspect
from collections.abc import AsyncIterator, Callable, Generator, Iterator
from contextlib import contextmanager
from typing import Any, ParamSpec, TypeVar, overload

from ...errors import MlcostError
from ...guard import record_internal_error
from .call import NOOP_CALL, CallSite, InferenceCall, NoopCall

P = ParamSpec("P")
R = TypeVar("R")

_sites: dict[tuple[Any, ...], CallSite] = {}
_MAX_CACHED_SITES = 512


def inference(name: str = "inference", *, model: str | None = None,
              tags: dict[str, str] | None = None, params: float | None = None,
              attributes: dict[str, Any] | None = None,
              aggregate: bool | None = None) -> InferenceCall | NoopCall:
    """``with mlcost.inference("predict", model="bert") as call: ...`` (or ``async with``).
    ``aggregate`` overrides configure()'s setting for this call site."""
    try:
        key = (name, model, tuple(tags.items()) if tags else None,
               tuple(attributes.items()) if attributes else None, params, aggregate)
        try:
            site, cacheable = _sites.get(key), True
        except TypeError:  # an unhashable value, e.g. a list attribute: valid, just not cached
            site, cacheable = None, False
        if site is None:
            site = CallSite(name, model, tags, attributes, params, aggregate)
            if cacheable and len(_sites) < _MAX_CACHED_SITES:
                _sites[key] = site
        return site.call()
    except MlcostError:
        raise  # bad tags, or a required tag missing in 'error' mode: the user asked for it
    except Exception as exc:  # noqa: BLE001
        record_internal_error("inference.callsite", exc)
        return NOOP_CALL


@contextmanager
def _paying(call: InferenceCall | NoopCall) -> Iterator[None]:
    """A generator's request, without making its span current: a context attached inside a
    generator would stay attached in the caller's code between items, and its detach would
    undo whatever the caller attached meanwhile."""
    call.start()
    try:
        yield
    except BaseException as exc:
        call.end(exc)
        raise
    call.end()


@overload
def track_inference(func: Callable[P, R], /) -> Callable[P, R]: ...
@overload
def track_inference(
    func: None = None, /, *, name: str | None = None, model: str | None = None,
    tags: dict[str, str] | None = None, params: float | None = None,
    aggregate: bool | None = None,
) -> Callable[[Callable[P, R]], Callable[P, R]]: ...
def track_inference(func: Any = None, /, *, name: str | None = None, model: str | None = None,
                    tags: dict[str, str] | None = None, params: float | None = None,
                    aggregate: bool | None = None) -> Any:
    """Decorator for sync, async, generator and async-generator handlers. A generator's
    request lasts until its last item (streaming responses are costed to the last byte); its
    span is not made current, as the generator's code runs interleaved with its caller's."""

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        site = CallSite(name or fn.__qualname__, model, tags, params=params,
                         aggregate=aggregate)

        if inspect.isasyncgenfunction(fn):
            @functools.wraps(fn)
            async def agen_wrapper(*args: Any, **kw: Any) -> AsyncIterator[Any]:
                with _paying(site.call()):
                    async for item in fn(*args, **kw):
                        yield item
            return agen_wrapper
        if inspect.iscoroutinefunction(fn):
            @functools.wraps(fn)
            async def async_wrapper(*args: Any, **kw: Any) -> Any:
                async with site.call():
                    return await fn(*args, **kw)
            return async_wrapper
        if inspect.isgeneratorfunction(fn):
            @functools.wraps(fn)
            def gen_wrapper(*args: Any, **kw: Any) -> Generator[Any, Any, Any]:
                with _paying(site.call()):
                    result = yield from fn(*args, **kw)
                return result
            return gen_wrapper

        @functools.wraps(fn)
        def wrapper(*args: Any, **kw: Any) -> Any:
            with site.call():
                return fn(*args, **kw)
        return wrapper

    return decorate(func) if func is not None else decorate

