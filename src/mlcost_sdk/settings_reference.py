"""Every setting in one table: each ``configure()`` argument and each environment variable mlcost
reads, with its default and meaning.

``docs/configuration.md`` and the README's configuration reference are generated from this
module (``python -m mlcost_sdk.settings_reference``); tests/runtime/test_settings_reference.py
checks that it names every configure() argument with the default ``Settings`` really has,
every environment variable the code reads, and that both documents match it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True)
class Setting:
    argument: str | None  # configure() keyword; None: environment only
    env: str | None  # the environment variable; None: configure() only
    default: str  # as a user would write it (Python or the variable's text); "-" for none
    meaning: str
    note: str = ""  # what the default means, when it is not obvious


SETTINGS: Final[tuple[Setting, ...]] = (
    Setting("service_name", "OTEL_SERVICE_NAME", '"mlcost"',
            "service.name of mlcost's own providers' resource"),
    Setting("tags", "MLCOST_TAGS", "{}",
            "tags on every record (`team=a,model=b` in the variable); merged with earlier ones"),
    Setting("required_tags", None, '("team", "model", "environment", "cost_center", "owner")',
            "tags every record must carry (training runs also need `experiment_id`)"),
    Setting("on_missing_tags", None, '"warn"',
            '`"warn"` (MissingTagsWarning), `"error"` (TagError) or `"ignore"`'),
    Setting("price", "MLCOST_PRICE_USD_PER_HOUR", "None",
            "`Price(usd_per_hour=...)`, `Price(usd_per_device_hour=...)`, "
            "`Price(instance=...)` or a number (USD per hour)",
            note="cost unknown, warned once"),
    Setting(None, "MLCOST_INSTANCE", "-",
            "a catalog instance name as the price (when MLCOST_PRICE_USD_PER_HOUR is unset)"),
    Setting("exporters", "OTEL_TRACES_EXPORTER", '["jsonl"]',
            "span exporters: `jsonl`, `otlp`, `console`, `none` or SpanExporter instances; "
            "a second call replaces them", note='`["otlp"]` when an OTLP endpoint is set'),
    Setting("warmup_steps", None, "2", "first steps left out of rates and MFU (not of cost)"),
    Setting("sample_interval_s", "MLCOST_SAMPLE_INTERVAL_S", "0.1",
            "seconds between hardware readings (NVML or psutil)"),
    Setting("idle_flush_s", None, "60.0",
            "seconds between the idle spans of a serving process"),
    Setting("console_summary", "MLCOST_CONSOLE_SUMMARY", "False",
            "print the summary box to stderr when a run ends and at exit when serving"),
    Setting("progress", "MLCOST_PROGRESS", "None",
            "the live progress line of training runs; True shows it on a pipe too",
            note="on when stderr is a terminal"),
    Setting("peak_flops_per_s", None, "None",
            "the device peak MFU is measured against", note="the catalog's dense peak"),
    Setting("dtype", None, "None",
            "compute dtype, choosing the catalog peak",
            note="autocast or the parameters; else bf16 on GPU, fp32 on CPU"),
    Setting("metric_tag_keys", None, '("team", "model", "environment", "cost_center")',
            "tags that become metric attributes (keep them low-cardinality)"),
    Setting("aggregate", "MLCOST_AGGREGATE", "False",
            "inference calls counted in one record per group and window instead of a span each"),
    Setting("ledger_window_s", "MLCOST_LEDGER_WINDOW_S", "10.0",
            "aggregate window length and training checkpoint period, in seconds"),
    Setting("tracer_provider", None, "None",
            "a TracerProvider to send mlcost's spans to",
            note="the application's, else mlcost's own"),
    Setting("meter_provider", None, "None",
            "a MeterProvider to send mlcost's metrics to",
            note="the application's, else mlcost's own"),
    Setting("clock", None, "SystemClock()",
            "time source (tests pass mlcost_sdk.testing.ManualClock)"),
    Setting("shutdown_timeout_s", "MLCOST_SHUTDOWN_TIMEOUT_S", "1.5",
            "the one bound on all flushes and shutdowns at exit (and SIGTERM), together: what "
            "is not delivered by then is counted and dropped"),
    Setting("handle_sigterm", "MLCOST_HANDLE_SIGTERM", "True",
            "on SIGTERM (where its disposition is the default): end runs with an error "
            "status, flush within the bound, re-raise"),
    Setting("record_exception_details", "MLCOST_RECORD_EXCEPTION_DETAILS", "False",
            "exception messages and stack traces on spans (they may quote bodies, prompts, "
            "secrets)", note="the exception's type only"),
    Setting(None, "OTEL_SDK_DISABLED", "false", "`true`: every wrapper is a near-free no-op"),
    Setting(None, "OTEL_RESOURCE_ATTRIBUTES", "-", "extra resource attributes (`k=v,k2=v2`)"),
    Setting(None, "OTEL_EXPORTER_OTLP_ENDPOINT", "-",
            "OTLP collector base URL; with it, spans (and metrics) go over OTLP"),
    Setting(None, "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "-",
            "where metrics go, when not to the endpoint above (e.g. with a traces-only "
            "backend)"),
    Setting(None, "OTEL_EXPORTER_OTLP_PROTOCOL", '"http/protobuf"',
            "`http/protobuf` or `grpc` (also `OTEL_EXPORTER_OTLP_TRACES_PROTOCOL`, "
            "`..._METRICS_PROTOCOL`); headers, timeout, TLS: the standard `OTEL_EXPORTER_OTLP_*`"),
    Setting(None, "OTEL_METRICS_EXPORTER", '"otlp"', "`none` turns OTLP metric export off"),
    Setting(None, "MLCOST_PROMETHEUS_PORT", "-", "serve `/metrics` for Prometheus on this port"),
    Setting(None, "MLCOST_SPANS_PATH", '"./mlcost-spans.jsonl"',
            "the JSONL exporter's file (and `mlcost report`'s default input)"),
    Setting(None, "MLCOST_CATALOG", "-",
            "a TOML or JSON file overriding catalog entries (prices, peaks)"),
)


def arguments() -> list[str]:
    return [s.argument for s in SETTINGS if s.argument is not None]


def environment_variables() -> list[str]:
    return [s.env for s in SETTINGS if s.env is not None]


def render_markdown_table() -> str:
    """The reference as one Markdown table (the README embeds it)."""
    lines = ["| `configure()` argument | environment variable | default | meaning |",
             "|---|---|---|---|"]
    for s in SETTINGS:
        arg = f"`{s.argument}`" if s.argument else "-"
        env = f"`{s.env}`" if s.env else "-"
        default = "-" if s.default == "-" else f"`{s.default}`"
        default += f" ({s.note})" if s.note else ""
        lines.append(f"| {arg} | {env} | {default} | {s.meaning} |")
    return "\n".join(lines)


def render_markdown() -> str:
    """The text of docs/configuration.md."""
    return ("# Configuration reference\n\n"
            "Generated from `src/mlcost_sdk/settings_reference.py` "
            "(`python -m mlcost_sdk.settings_reference > docs/configuration.md`).\n\n"
            "`configure()` takes every argument as optional: `None` leaves a setting as it "
            "was, so configuration is incremental. With no call at all, the first wrapper "
            "configures itself from the environment variables; arguments given to "
            "`configure()` win over them.\n\n" + render_markdown_table() + "\n")


if __name__ == "__main__":
    print(render_markdown(), end="")
