"""What the runtime builds mlcost's export pipeline from: each exporter wrapped in a
:class:`StampingExporter`, attached with :func:`span_processor` (bounded, counting what it
drops, carrying the cost of what it sheds), and :func:`abandon_all` at a hard exit.

StampingExporter adds the process constants to inference spans on their way out (see
``mlcost_sdk.runtime.spans.stamped``): one dict merge per span, on the batch processor's worker
thread, or, for an exporter that encodes one span at a time (JSONL), as the span ends, with the
encoding (``_health.EncodedSpan``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from mlcost_sdk.runtime.spans import stamped

from ._health import abandon_all, span_processor

__all__ = ["StampingExporter", "abandon_all", "span_processor"]


class StampingExporter(SpanExporter):
    def __init__(self, inner: SpanExporter) -> None:
        self.inner = inner
        # An exporter that encodes one span at a time (JSONL) gets each span stamped and
        # encoded as it ends (see _health.EncodedSpan); None: spans are stamped at export.
        encode: Callable[..., bytes] | None = getattr(inner, "encode_line", None)
        self.encode_line: Callable[[ReadableSpan], bytes] | None = None
        if encode is not None:
            def encode_line(span: ReadableSpan) -> bytes:
                scope = span.instrumentation_scope
                return encode(span, stamped(_plain_attributes(span),
                                            scope.attributes if scope is not None else None))
            self.encode_line = encode_line

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return self.inner.export([s if isinstance(s, bytes) else _stamp(s) for s in spans])

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self.inner.force_flush(timeout_millis)

    def shutdown(self) -> None:
        self.inner.shutdown()

    def __repr__(self) -> str:
        return repr(self.inner)


def _probe() -> bool:
    """Whether a ReadableSpan keeps its state in its instance dict, attributes under
    ``_attributes`` (true of every OTel SDK so far): then a stamped copy is one dict copy,
    several times cheaper than the constructor. Checked once, on a span of our own."""
    try:
        marker: dict[str, Any] = {}
        copy = object.__new__(ReadableSpan)
        copy.__dict__.update(vars(ReadableSpan(name="probe")))
        copy.__dict__["_attributes"] = marker
        return copy.attributes is marker and copy.name == "probe"
    except Exception:  # noqa: BLE001 - a future SDK: take the constructor
        return False


_COPY_STATE = _probe()


def _plain_attributes(span: ReadableSpan) -> Mapping[str, Any]:
    """The SDK's own dict behind a finished span's attributes where it keeps one: merging
    through the Mapping protocol is a Python call per key, ten times the cost."""
    own = getattr(getattr(span, "_attributes", None), "_dict", None)
    return own if type(own) is dict else (span.attributes or {})


def _stamp(span: ReadableSpan) -> ReadableSpan:
    attrs = _plain_attributes(span)
    scope = span.instrumentation_scope
    full = stamped(attrs, scope.attributes if scope is not None else None)
    if full is attrs:
        return span
    if _COPY_STATE:  # this runs on the worker thread, but under the application's GIL
        copy = object.__new__(ReadableSpan)
        state = copy.__dict__
        state.update(vars(span))
        state["_attributes"] = full
        return copy
    return ReadableSpan(
        name=span.name, context=span.context, parent=span.parent, resource=span.resource,
        attributes=full, events=span.events, links=span.links, kind=span.kind,
        status=span.status, start_time=span.start_time, end_time=span.end_time,
        instrumentation_scope=span.instrumentation_scope)
