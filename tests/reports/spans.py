"""Write span records the way the SDK does: a real OpenTelemetry TracerProvider exporting
through the JSONL exporter, with explicit start and end times (so records span weeks)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from mlcost_sdk import conventions as c
from mlcost_sdk.exporters.jsonl import JsonlSpanExporter

T0 = datetime(2025, 3, 3, tzinfo=UTC)  # a Monday


def ns(when: datetime) -> int:
    return int(when.timestamp()) * 10**9 + when.microsecond * 1000


@dataclass
class Spec:
    """What one written span claims: the truth tests compute expectations from."""

    kind: str
    start: datetime
    seconds: float
    cost: float | None
    tags: dict[str, str]
    attrs: dict[str, Any] = field(default_factory=dict)


class Writer:
    """One process's spans (``service`` = its service.name) appended to ``path``."""

    def __init__(self, path: Path, service: str = "svc", **exporter_kwargs: Any) -> None:
        self.provider = TracerProvider(resource=Resource.create({"service.name": service}))
        self.provider.add_span_processor(
            SimpleSpanProcessor(JsonlSpanExporter(path, **exporter_kwargs)))
        self.tracer = self.provider.get_tracer(c.INSTRUMENTATION_SCOPE)
        self.specs: list[Spec] = []

    def span(self, kind: str, start: datetime, seconds: float, *, cost: float | None,
             tags: dict[str, str], parent: Any = None, **attrs: Any) -> Any:
        attributes: dict[str, Any] = {c.KIND: kind, **attrs}
        attributes.update({c.tag_attribute(k): v for k, v in tags.items()})
        if "environment" in tags:
            attributes[c.DEPLOYMENT_ENVIRONMENT] = tags["environment"]
        if cost is not None:
            attributes[c.COST_USD] = cost
        ctx = trace.set_span_in_context(parent) if parent is not None else None
        span = self.tracer.start_span(kind, context=ctx, attributes=attributes,
                                      start_time=ns(start))
        span.end(end_time=ns(start + timedelta(seconds=seconds)))
        self.specs.append(Spec(kind, start, seconds, cost, tags, attrs))
        return span

    def close(self) -> None:
        self.provider.shutdown()


def gpu(count: float, usd_per_hour: float, **extra: Any) -> dict[str, Any]:
    """Hardware attributes of a process with ``count`` GPUs at ``usd_per_hour``."""
    return {c.HW_KIND: "gpu", c.HW_COUNT: float(count), c.HW_MODEL: "NVIDIA H100 80GB HBM3",
            c.PRICE_USD_PER_HOUR: usd_per_hour, c.PRICE_SOURCE: "user", **extra}


def cpu(count: float, usd_per_hour: float, **extra: Any) -> dict[str, Any]:
    return {c.HW_KIND: "cpu", c.HW_COUNT: float(count), c.PRICE_USD_PER_HOUR: usd_per_hour,
            c.PRICE_SOURCE: "user", **extra}
