"""The OpenTelemetry providers mlcost's telemetry goes to: for each signal the one passed to
configure(), else the one already chosen, else the application's global, else one mlcost
installs and owns. Flushed, and (the owned ones) shut down, within the shared exit deadline."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from opentelemetry import metrics, trace

from .. import _deadline

if TYPE_CHECKING:
    from .config import ExporterSpec, Settings


@dataclass(frozen=True)
class ProviderState:
    tracer_provider: Any = None
    meter_provider: Any = None
    tracer: trace.Tracer | None = None
    meter: metrics.Meter | None = None
    owned: tuple[Any, ...] = ()  # SDK providers mlcost installed (shut down at exit)
    slot: Any = None  # the ExporterSlot mlcost added to slot_provider
    slot_provider: Any = None


_s = ProviderState()  # replaced whole (under config's lock), so readers need none


def state() -> ProviderState:
    return _s


def set_state(state: ProviderState | None) -> None:
    global _s
    _s = state if state is not None else ProviderState()


def current_tracer() -> trace.Tracer | None:
    return _s.tracer


def current_meter() -> metrics.Meter | None:
    return _s.meter


def tracer_provider() -> Any:
    """The tracer provider mlcost's spans go to (None before the first configure())."""
    return _s.tracer_provider


def exports_own_spans() -> bool:
    """True when mlcost's spans go to a tracer provider mlcost installed, so every exporter
    they reach is behind mlcost's span processor (which adds the process constants)."""
    provider = _s.tracer_provider
    return provider is not None and any(p is provider for p in _s.owned)


def scoped_tracer(attributes: dict[str, Any]) -> trace.Tracer:
    """mlcost's tracer with ``attributes`` on its instrumentation scope: set once, carried by
    every span it starts at no cost per span."""
    from .._version import __version__
    from ..conventions import INSTRUMENTATION_SCOPE

    provider = _s.tracer_provider
    if provider is None:
        from .config import tracer

        return tracer()
    return cast(trace.Tracer, provider.get_tracer(INSTRUMENTATION_SCOPE, __version__,
                                                  attributes=attributes))


def setup(s: Settings, exporters: Sequence[ExporterSpec] | None,
          tracer_provider: Any, meter_provider: Any) -> None:
    """Choose the providers for settings ``s``; ``exporters`` replace what mlcost's span
    processor holds (one per provider: a second configure(exporters=...) never adds)."""
    global _s
    from .._version import __version__
    from ..conventions import INSTRUMENTATION_SCOPE
    from . import _instruments, _sdk

    owned = list(_s.owned)
    tp, installed = _choose(tracer_provider, _s.tracer_provider, _sdk.app_has_tracer_provider,
                            trace.get_tracer_provider, lambda: _sdk.install_tracer_provider(s),
                            owned)
    slot, slot_provider = _s.slot, _s.slot_provider
    if installed and exporters is None:
        exporters = _sdk.default_exporter_names()
    if exporters is not None:
        if slot is None or slot_provider is not tp:
            slot, slot_provider = _sdk.attach_slot(tp), tp
        slot.replace(exporters)
    mp, _ = _choose(meter_provider, _s.meter_provider, _sdk.app_has_meter_provider,
                    metrics.get_meter_provider, lambda: _sdk.install_meter_provider(s), owned)
    meter = mp.get_meter(INSTRUMENTATION_SCOPE, __version__)
    _s = ProviderState(tp, mp, tp.get_tracer(INSTRUMENTATION_SCOPE, __version__), meter,
                       tuple(owned), slot, slot_provider)
    _instruments.reset(meter)


def _choose(given: Any, current: Any, app_has: Callable[[], bool], app_provider: Callable[[], Any],
            install: Callable[[], Any], owned: list[Any]) -> tuple[Any, bool]:
    """The provider passed to configure(), else the one already chosen, else the application's,
    else one mlcost installs and owns (then True)."""
    if given is not None:
        return given, False
    if current is not None:
        return current, False
    if app_has():
        return app_provider(), False
    provider = install()
    owned.append(provider)
    return provider, True


def _all() -> list[Any]:
    st = _s
    return list({id(p): p for p in (st.tracer_provider, st.meter_provider, *st.owned)
                 if p is not None}.values())


def force_flush(timeout_s: float | None = None) -> bool:
    """Hand buffered spans and metrics to the exporters, all within ``timeout_s`` together
    (default: ``shutdown_timeout_s``); False if time ran out. A dead collector must not hurt
    the host: each flush runs on a bounded daemon thread."""
    left = _deadline.remaining(timeout_s)  # inside the exit window: what is left of it
    return _deadline.run_bounded(
        [functools.partial(p.force_flush, int(left * 1000)) for p in _all()
         if callable(getattr(p, "force_flush", None))], left)


def shutdown() -> None:
    """At exit, inside the shared deadline: shut down the providers mlcost owns, flush the
    application's (it shuts them down itself), all at once."""
    left = _deadline.remaining()
    owned = _s.owned
    works: list[Callable[[], object]] = []
    for p in _all():
        if any(p is o for o in owned):
            works.append(functools.partial(_shutdown_one, p, left))
        elif callable(getattr(p, "force_flush", None)):
            works.append(functools.partial(p.force_flush, int(left * 1000)))
    _deadline.run_bounded(works, left)


def _shutdown_one(provider: Any, left_s: float) -> None:
    try:
        provider.shutdown(timeout_millis=int(left_s * 1000))  # the MeterProvider takes one
    except TypeError:
        provider.shutdown()
