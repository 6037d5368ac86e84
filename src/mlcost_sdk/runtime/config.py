"""configure(): incremental, environment-aware, and respectful of the application's providers.

``None`` leaves a setting unchanged, so configuration is incremental. With no call at all, the
first wrapper configures from ``OTEL_*`` and ``MLCOST_*`` environment variables.
"""

from __future__ import annotations

import atexit
import os
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from opentelemetry import metrics, trace

from .. import _deadline
from .. import _validate as v
from ..errors import ConfigError, InvalidParameterError
from ..sampling.sampler import checked_interval
from . import providers
from .clock import Clock, SystemClock
from .price import Price
from .providers import exports_own_spans as exports_own_spans  # the accessors, re-exported
from .providers import tracer_provider as tracer_provider
from .tags import DEFAULT_REQUIRED_TAGS, Tags, validate_tags

MissingTagPolicy = Literal["warn", "error", "ignore"]
ExporterSpec = str | Any  # a name ("jsonl", "otlp", "console", "none") or a SpanExporter


@dataclass(frozen=True)
class Settings:
    service_name: str = "mlcost"
    tags: Tags = field(default_factory=dict)
    required_tags: tuple[str, ...] = DEFAULT_REQUIRED_TAGS
    on_missing_tags: MissingTagPolicy = "warn"
    price: Price | None = None
    warmup_steps: int = 2
    sample_interval_s: float = 0.1
    idle_flush_s: float = 60.0
    console_summary: bool = False
    progress: bool | None = None  # the live line; None: only when stderr is a terminal
    peak_flops_per_s: float | None = None  # user override of the device peak
    dtype: str | None = None
    metric_tag_keys: tuple[str, ...] = ("team", "model", "environment", "cost_center")
    disabled: bool = False
    aggregate: bool = False  # inference: per-group window records instead of a span per call
    ledger_window_s: float = 10.0  # aggregate windows and training checkpoints
    clock: Clock = field(default_factory=SystemClock)
    shutdown_timeout_s: float = _deadline.DEFAULT_SHUTDOWN_TIMEOUT_S  # all flushes at exit
    handle_sigterm: bool = True
    record_exception_details: bool = False  # exception messages and stack traces (privacy)


_lock = threading.RLock()
_settings: Settings | None = None
_listeners: list[Callable[[Settings], None]] = []



def _env_bool(name: str) -> bool | None:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return None
    return raw.strip().lower() in ("1", "true", "yes", "on")


def _env_float(name: str) -> float | None:
    raw = os.environ.get(name)
    if not raw:
        return None
    try:
        return float(raw)
    except ValueError:
        raise ConfigError(f"environment variable {name}={raw!r} is not a number") from None


def _env_tags() -> Tags:
    """MLCOST_TAGS="team=search,model=bert" (and OTEL_RESOURCE_ATTRIBUTES' deployment env)."""
    tags: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in os.environ.get("MLCOST_TAGS", "").split(","))):
        key, sep, value = part.partition("=")
        if not sep:
            raise ConfigError(f"MLCOST_TAGS entry {part!r} is not key=value")
        tags[key.strip()] = value.strip()
    return validate_tags(tags, "MLCOST_TAGS")


def _from_env() -> Settings:
    s = Settings(
        service_name=os.environ.get("OTEL_SERVICE_NAME", "mlcost"),
        tags=_env_tags(),
        disabled=bool(_env_bool("OTEL_SDK_DISABLED")),
        console_summary=bool(_env_bool("MLCOST_CONSOLE_SUMMARY")),
        progress=_env_bool("MLCOST_PROGRESS"),
    )
    price = _env_float("MLCOST_PRICE_USD_PER_HOUR")
    if price is not None:
        s = replace(s, price=Price(usd_per_hour=price))
    elif os.environ.get("MLCOST_INSTANCE"):
        s = replace(s, price=Price(instance=os.environ["MLCOST_INSTANCE"]))
    interval = _env_float("MLCOST_SAMPLE_INTERVAL_S")
    if interval is not None:
        s = replace(s, sample_interval_s=interval)
    aggregate = _env_bool("MLCOST_AGGREGATE")
    if aggregate is not None:
        s = replace(s, aggregate=aggregate)
    window = _env_float("MLCOST_LEDGER_WINDOW_S")
    if window is not None:
        s = replace(s, ledger_window_s=_window(window))
    bound = _env_float("MLCOST_SHUTDOWN_TIMEOUT_S")
    if bound is not None:
        s = replace(s, shutdown_timeout_s=v.in_range("MLCOST_SHUTDOWN_TIMEOUT_S", bound, 0, 600,
                                                     "seconds"))
    sigterm = _env_bool("MLCOST_HANDLE_SIGTERM")
    if sigterm is not None:
        s = replace(s, handle_sigterm=sigterm)
    details = _env_bool("MLCOST_RECORD_EXCEPTION_DETAILS")
    if details is not None:
        s = replace(s, record_exception_details=details)
    return s


def _window(seconds: float) -> float:
    return v.in_range("ledger_window_s", seconds, 0.01, 3600, "seconds")


def configure(
    *,
    service_name: str | None = None,
    tags: Mapping[str, str] | None = None,
    required_tags: Sequence[str] | None = None,
    on_missing_tags: MissingTagPolicy | None = None,
    price: Price | float | None = None,
    exporters: Sequence[ExporterSpec] | None = None,
    warmup_steps: int | None = None,
    sample_interval_s: float | None = None,
    idle_flush_s: float | None = None,
    console_summary: bool | None = None,
    progress: bool | None = None,
    peak_flops_per_s: float | None = None,
    dtype: str | None = None,
    metric_tag_keys: Sequence[str] | None = None,
    aggregate: bool | None = None,
    ledger_window_s: float | None = None,
    tracer_provider: Any = None,
    meter_provider: Any = None,
    clock: Clock | None = None,
    shutdown_timeout_s: float | None = None,
    handle_sigterm: bool | None = None,
    record_exception_details: bool | None = None,
) -> Settings:
    """Set up mlcost. Every argument is optional; ``None`` leaves that setting as it was.

    Providers: spans and metrics go to the application's global providers when it has set
    them; otherwise mlcost installs SDK providers with ``exporters`` (default: OTLP when
    ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set, else the local JSONL file). ``tracer_provider`` /
    ``meter_provider`` route mlcost's telemetry to given providers without touching globals.

    ``aggregate=True``: inference calls are counted in one record per group and window
    (``ledger_window_s``, default 10 s, also the training checkpoint period) instead of a span
    each; a span is still made for calls inside a trace the application samples.

    Under failure (README "Under failure"): ``shutdown_timeout_s`` bounds all flushes at exit
    together (default 1.5 s); ``handle_sigterm=False`` installs no SIGTERM handler;
    ``record_exception_details=True`` adds exception messages and stack traces to spans
    (off by default: they may quote request bodies, prompts or secrets).
    """
    global _settings
    with _lock:
        base = _settings if _settings is not None else _from_env()
        changes: dict[str, Any] = {}
        if service_name is not None:
            changes["service_name"] = str(service_name)
        if tags is not None:
            changes["tags"] = {**base.tags, **validate_tags(tags, "configure(tags)")}
        if required_tags is not None:
            changes["required_tags"] = tuple(required_tags)
        if on_missing_tags is not None:
            if on_missing_tags not in ("warn", "error", "ignore"):
                raise InvalidParameterError("on_missing_tags", on_missing_tags,
                                            "'warn', 'error' or 'ignore'")
            changes["on_missing_tags"] = on_missing_tags
        if price is not None:
            changes["price"] = price if isinstance(price, Price) else Price(usd_per_hour=price)
        if warmup_steps is not None:
            changes["warmup_steps"] = v.count("warmup_steps", warmup_steps, minimum=0)
        if sample_interval_s is not None:
            changes["sample_interval_s"] = checked_interval(sample_interval_s, "sample_interval_s")
        if idle_flush_s is not None:
            changes["idle_flush_s"] = v.positive("idle_flush_s", idle_flush_s)
        if console_summary is not None:
            changes["console_summary"] = bool(console_summary)
        if progress is not None:
            changes["progress"] = bool(progress)
        if peak_flops_per_s is not None:
            changes["peak_flops_per_s"] = v.positive("peak_flops_per_s", peak_flops_per_s)
        if dtype is not None:
            changes["dtype"] = _checked_dtype(dtype)
        if metric_tag_keys is not None:
            changes["metric_tag_keys"] = tuple(metric_tag_keys)
        if aggregate is not None:
            if not isinstance(aggregate, bool):
                raise InvalidParameterError("aggregate", aggregate, "True or False")
            changes["aggregate"] = aggregate
        if ledger_window_s is not None:
            changes["ledger_window_s"] = _window(ledger_window_s)
        if clock is not None:
            changes["clock"] = _checked_clock(clock)
        if shutdown_timeout_s is not None:
            changes["shutdown_timeout_s"] = v.in_range("shutdown_timeout_s", shutdown_timeout_s,
                                                       0, 600, "seconds")
        for name, flag in (("handle_sigterm", handle_sigterm),
                           ("record_exception_details", record_exception_details)):
            if flag is not None:
                changes[name] = _checked_bool(name, flag)
        if exporters is not None:
            _checked_exporters(exporters)
        _checked_catalog()
        new = replace(base, **changes)
        if not new.disabled:  # first: a bad exporter must leave the settings as they were
            providers.setup(new, exporters, tracer_provider, meter_provider)
        _settings = new
        _deadline.set_timeout_s(new.shutdown_timeout_s)
        if not new.disabled:
            from . import _lifecycle

            # Exit handlers run last-registered first: ours must run before any the
            # application registered earlier (its providers' own shutdown).
            atexit.unregister(_lifecycle._at_exit)
            atexit.register(_lifecycle._at_exit)
            _lifecycle.install_sigterm_handler(new.handle_sigterm)
        for listener in list(_listeners):
            listener(new)
        return new


def settings() -> Settings:
    """The current settings, configuring from the environment on first use."""
    s = _settings
    if s is None:
        with _lock:
            if _settings is None:
                configure()
            s = _settings
    assert s is not None
    return s


def on_configure(listener: Callable[[Settings], None]) -> None:
    """Run ``listener`` after every configure() (e.g. the sampler picks up its interval)."""
    _listeners.append(listener)


def tracer() -> trace.Tracer:
    t = providers.current_tracer()
    if t is None:
        settings()
        t = providers.current_tracer()
    return t if t is not None else trace.NoOpTracer()


def meter() -> metrics.Meter:
    m = providers.current_meter()
    if m is None:
        settings()
        m = providers.current_meter()
    return m if m is not None else metrics.NoOpMeter("mlcost_sdk")


def flush(timeout_s: float | None = None) -> bool:
    """Push out buffered spans and metrics (mlcost's own providers, or the given ones), all
    within ``timeout_s`` together (default: ``shutdown_timeout_s``). False if time ran out."""
    from . import inference

    inference.flush_idle()
    return providers.force_flush(timeout_s)


def _checked_bool(name: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise InvalidParameterError(name, value, "True or False")
    return value


def _checked_dtype(dtype: object) -> str:
    from ..catalog import normalize_dtype

    return normalize_dtype(dtype)  # type: ignore[arg-type]  # it names a non-str in its error


def _checked_clock(clock: object) -> Clock:
    if not all(callable(getattr(clock, m, None)) for m in ("monotonic", "time_ns")):
        raise InvalidParameterError("clock", clock, "an object with monotonic() and time_ns() "
                                    "(mlcost_sdk.testing.ManualClock, SystemClock)")
    return clock  # type: ignore[return-value]


def _checked_exporters(specs: object) -> None:
    from ._sdk import EXPORTER_NAMES

    if isinstance(specs, str) or not isinstance(specs, Sequence):
        raise InvalidParameterError("exporters", specs, "a list of exporter names or "
                                    "SpanExporter instances")
    for spec in specs:
        if isinstance(spec, str):
            v.choice("exporters", spec.strip().lower(), EXPORTER_NAMES)
        elif not all(callable(getattr(spec, m, None)) for m in ("export", "shutdown")):
            raise InvalidParameterError("exporters", spec, "a name (" + ", ".join(EXPORTER_NAMES)
                                        + ") or a SpanExporter (with export() and shutdown())")


def _checked_catalog() -> None:
    """A broken MLCOST_CATALOG is the user's file: say so now, not at every run."""
    from ..catalog import ENV_VAR, check_catalog
    from ..errors import CatalogError

    try:
        check_catalog()
    except CatalogError as exc:
        raise ConfigError(f"{ENV_VAR}={os.environ.get(ENV_VAR, '')!r}: {exc}") from exc


def _after_fork_in_child() -> None:
    global _lock
    _lock = threading.RLock()  # a parent thread may have held it at the fork


os.register_at_fork(after_in_child=_after_fork_in_child)


@dataclass(frozen=True)
class ConfigState:
    """Everything configure() set up, as ``snapshot()`` took it (opaque: give it to
    ``restore()``)."""

    settings: Settings | None
    providers: providers.ProviderState

    @property
    def tracer_provider(self) -> Any:
        return self.providers.tracer_provider


def snapshot() -> ConfigState:
    """The current configuration, to put back later with ``restore()`` (``testing.capture``)."""
    with _lock:
        return ConfigState(_settings, providers.state())


def restore(state: ConfigState) -> None:
    """Put back a configuration ``snapshot()`` took; the cost metrics go to its meter again."""
    global _settings
    with _lock:
        _settings = state.settings
        providers.set_state(state.providers)
        m = providers.current_meter()
        if m is not None:
            from . import _instruments

            _instruments.reset(m)


def reset() -> None:
    """Forget all configuration, as in a fresh process (tests: ``mlcost_sdk.testing.reset``).
    Providers are dropped, not shut down: they may be the application's, or a snapshot's."""
    global _settings
    with _lock:
        _settings = None
        providers.set_state(None)
        from . import _lifecycle

        _lifecycle._done_in_pid = None
