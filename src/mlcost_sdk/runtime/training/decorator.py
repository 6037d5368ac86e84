"""The entry points: ``training_run(...)`` and the ``@track_training`` decorator."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar, overload

from .run import TrainingRun

P = ParamSpec("P")
R = TypeVar("R")


def training_run(name: str = "training_run", **kwargs: Any) -> TrainingRun:
    """``with mlcost.training_run("finetune", tags={...}) as run: ... run.step(tokens=n)``"""
    return TrainingRun(name, **kwargs)


@overload
def track_training(func: Callable[P, R], /) -> Callable[P, R]: ...
@overload
def track_training(
    func: None = None, /, *, name: str | None = None, **kwargs: Any
) -> Callable[[Callable[P, R]], Callable[P, R]]: ...
def track_training(func: Any = None, /, *, name: str | None = None, **kwargs: Any) -> Any:
    """Decorator form: each call of the function is one training run (``current_run()``
    gives it to the function body)."""

    def decorate(fn: Callable[P, R]) -> Callable[P, R]:
        run_name = name or fn.__name__
        if inspect.iscoroutinefunction(fn):
            @functools.wraps(fn)
            async def awrapper(*args: P.args, **kw: P.kwargs) -> Any:
                async with TrainingRun(run_name, **kwargs):
                    return await fn(*args, **kw)
            return awrapper  # type: ignore[return-value]

        @functools.wraps(fn)
        def wrapper(*args: P.args, **kw: P.kwargs) -> R:
            with TrainingRun(run_name, **kwargs):
                return fn(*args, **kw)
        return wrapper

    return decorate(func) if func is not None else decorate
