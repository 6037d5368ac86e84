"""Adds the process constants to inference spans on their way out (see runtime/_process.py).

Runs on the batch processor's worker thread, not the application's: one dict merge per span.
"""

from __future__ import annotations

from collections.abc import Sequence

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from mlcost_sdk.runtime import _process


class StampingExporter(SpanExporter):
    def __init__(self, inner: SpanExporter) -> None:
        self.inner = inner

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return self.inner.export([_stamp(s) for s in spans])

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self.inner.force_flush(timeout_millis)

    def shutdown(self) -> None:
        self.inner.shutdown()

    def __repr__(self) -> str:
        return repr(self.inner)


def _stamp(span: ReadableSpan) -> ReadableSpan:
    attrs = span.attributes or {}
    scope = span.instrumentation_scope
    full = _process.stamped(attrs, scope.attributes if scope is not None else None)
    if full is attrs:
        return span
    return ReadableSpan(
        name=span.name, context=span.context, parent=span.parent, resource=span.resource,
        attributes=full, events=span.events, links=span.links, kind=span.kind,
        status=span.status, start_time=span.start_time, end_time=span.end_time,
        instrumentation_scope=span.instrumentation_scope)
