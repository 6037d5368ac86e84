"""What every inference span of this process shares, added at export instead of per request.

On mlcost's own tracer provider a request's span carries only what is its own (kind, model,
the call site's tags, its cost and hardware reading). The configure-level tags, the hardware
and the price are the same on every request; they are added to each inference span on the
exporter's thread (``exporters/_stamp.py``) and on the span processor's shed path, so the
OpenTelemetry SDK does not validate a dozen identical attributes per request on the
application's thread. What leaves the process is unchanged: every exported span carries them.

Not the Resource: it is built when configure() runs, before the hardware and price are known,
and cannot change afterwards; and Phoenix (like ``mlcost report`` on it) keeps span attributes
only. On an application's own tracer provider, whose other processors mlcost cannot reach,
spans carry everything themselves.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .. import conventions as c

_attributes: dict[str, Any] = {}  # replaced whole, never mutated: readers need no lock


def attributes() -> dict[str, Any]:
    return _attributes


def set_attributes(attrs: dict[str, Any]) -> None:
    """The constants in effect from now on (set by the inference meter)."""
    global _attributes
    _attributes = attrs


def stamped(attrs: Mapping[str, Any]) -> Mapping[str, Any]:
    """An inference span's attributes with the process constants under them (its own win)."""
    if not _attributes or attrs.get(c.KIND) != c.KIND_INFERENCE:
        return attrs
    return {**_attributes, **attrs}


def own(static: Mapping[str, Any]) -> dict[str, Any]:
    """``static`` less what the process constants already say, the same way."""
    return {k: v for k, v in static.items() if k not in _attributes or _attributes[k] != v}
