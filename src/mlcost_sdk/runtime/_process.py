"""What every inference span of this process shares, added at export instead of per request.

On mlcost's own tracer provider a request's span carries only what is its own: its cost, the
hardware reading (for a request shorter than a sampler tick, just the utilization), and what
the caller added. The configure-level tags, the hardware and the price are the same on every
request; the call site's kind, model and tags on every request of that site, and they ride on
the site's tracer (its instrumentation scope, set once). All of it is added to each inference
span on the exporter's thread (``exporters/pipeline.py``) and on the span processor's shed path,
so the OpenTelemetry SDK does not validate a dozen identical attributes per request on the
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
_utilization_source = "none"


def attributes() -> dict[str, Any]:
    return _attributes


def set_attributes(attrs: dict[str, Any], utilization_source: str = "none") -> None:
    """The constants in effect from now on (set by the inference meter)."""
    global _attributes, _utilization_source
    _attributes, _utilization_source = attrs, utilization_source


def stamped(attrs: Mapping[str, Any],
            scope: Mapping[str, Any] | None = None) -> Mapping[str, Any]:
    """An inference span's full attributes: the process constants, then its call site's
    (carried by its tracer's instrumentation scope), then its own."""
    base = _base(scope) if scope else None
    if base is None:
        if attrs.get(c.KIND) != c.KIND_INFERENCE or not _attributes:
            return attrs
        base = _attributes
    full = {**base, **attrs}
    if c.UTILIZATION_SAMPLES not in attrs and c.RECORD not in full:
        # a request that saw no tick: what standing on the current reading implies
        full[c.UTILIZATION_SAMPLES] = 0
        full.setdefault(c.UTILIZATION_SOURCE, _utilization_source
                        if c.UTILIZATION_MEAN in attrs else "none")
        full.setdefault(c.ENERGY_SOURCE, "nvml_power" if c.ENERGY_JOULES in attrs else "none")
    return full


# A call site's scope attributes merged onto the constants, once per (scope, constants): every
# span of a site shares its scope's mapping, and the constants are replaced whole on change.
_bases: dict[int, tuple[Mapping[str, Any], dict[str, Any], dict[str, Any] | None]] = {}


def _base(scope: Mapping[str, Any]) -> dict[str, Any] | None:
    entry = _bases.get(id(scope))
    if entry is None or entry[0] is not scope or entry[1] is not _attributes:
        if len(_bases) > 64:
            _bases.clear()
        merged = {**_attributes, **scope} if scope.get(c.KIND) == c.KIND_INFERENCE else None
        entry = _bases[id(scope)] = (scope, _attributes, merged)
    return entry[2]


def own(static: Mapping[str, Any]) -> dict[str, Any]:
    """``static`` less what the process constants already say, the same way."""
    return {k: v for k, v in static.items() if k not in _attributes or _attributes[k] != v}
