"""OpenTelemetry's instrumentor semantics for every integration, per instrumented object.

As ``opentelemetry-instrumentation``'s ``BaseInstrumentor``: a second ``instrument()`` of the
same object warns and changes nothing (uninstrument it first to change its options);
``uninstrument()`` undoes, and warns when there was nothing to undo; each integration declares
the framework versions it supports (:data:`SUPPORTED`, sentry-python's minimum-version table)
and checks them once. Unlike BaseInstrumentor, a version outside the range warns but still
instruments: a newer release usually works, and refusing would lose its costs silently.
"""

from __future__ import annotations

import re
import warnings
import weakref
from importlib import metadata
from typing import Generic, TypeVar

# integration -> (distribution, lowest supported, first unsupported). The lowest is the extra's
# floor in pyproject.toml; the ceiling is the next major after the release the suite runs on
# (torch is pinned exactly, so only its tested minor line).
SUPPORTED: dict[str, tuple[str, str, str]] = {
    "torch": ("torch", "2.13", "2.14"),
    "openai": ("openai", "1.40", "4"),
    "transformers": ("transformers", "4.45", "6"),
    "lightning": ("lightning", "2.3", "3"),
    "asgi": ("starlette", "0.37", "2"),  # only for mounted routes; any ASGI app works
}

Target = TypeVar("Target")
State = TypeVar("State")


def _release(version: str) -> tuple[int, ...]:
    """The numeric release of a version string: "2.13.0+cpu" -> (2, 13, 0)."""
    found = re.match(r"\d+(?:\.\d+)*", version)
    return tuple(int(part) for part in found.group().split(".")) if found else ()


def unsupported_version(integration: str) -> str | None:
    """Why the installed framework is outside ``integration``'s supported range; None when it
    is inside, or not installed (the integration's import says so)."""
    dist, lowest, ceiling = SUPPORTED[integration]
    try:
        installed = metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None
    if _release(lowest) <= _release(installed) < _release(ceiling):
        return None
    return (f"mlcost_sdk.integrations.{integration} supports {dist} >={lowest},<{ceiling}; "
            f"{dist} {installed} is installed, so some costs may be missing or wrong")


_checked: set[str] = set()


def check_supported(integration: str, depth: int = 1) -> None:
    """Warn once per process when the framework's installed version is not supported; the
    warning points ``depth`` frames above the caller (1: the caller's caller, the user's code
    when the caller is a constructor or instrument())."""
    if integration in _checked:
        return
    _checked.add(integration)
    why = unsupported_version(integration)
    if why is not None:
        warnings.warn(f"mlcost: {why}", RuntimeWarning, stacklevel=2 + depth)


class Instrumented(Generic[Target, State]):
    """The objects one integration has instrumented, each with what undoes it (held weakly: an
    instrumented object that is dropped takes its entry along)."""

    def __init__(self, integration: str) -> None:
        self.integration = integration
        self._states: weakref.WeakKeyDictionary[Target, State] = weakref.WeakKeyDictionary()

    def get(self, target: Target) -> State | None:
        return self._states.get(target)

    def already(self, target: Target, what: str) -> State | None:
        """Before instrumenting ``target``: check the framework's version, and return the state
        of an earlier instrument() (warning that this one changes nothing), else None."""
        check_supported(self.integration, depth=2)
        state = self._states.get(target)
        if state is not None:
            warnings.warn(f"mlcost: {what} is already instrumented; this instrument() changes "
                          "nothing (uninstrument() it first to change its options)",
                          RuntimeWarning, stacklevel=3)
        return state

    def add(self, target: Target, state: State) -> State:
        self._states[target] = state
        return state

    def discard(self, target: Target, state: State | None = None) -> None:
        """Forget ``target`` (only if its state is ``state``, when given)."""
        if state is None or self._states.get(target) is state:
            self._states.pop(target, None)

    def pop(self, target: Target, what: str) -> State | None:
        """For uninstrument(): the state to undo, or None with a warning when there is none."""
        state = self._states.pop(target, None)
        if state is None:
            warnings.warn(f"mlcost: {what} is not instrumented; uninstrument() changes nothing",
                          RuntimeWarning, stacklevel=3)
        return state
