"""The embedded default exporter: one JSON object per finished span, appended to a local file.

Crash safety: each batch is encoded first and written with a single ``os.write`` of whole lines
on an ``O_APPEND`` descriptor. Appends to a regular file are atomic with respect to other
writers, so concurrent processes (torchrun ranks sharing ``./mlcost-spans.jsonl``) never
interleave inside a line, and a process that dies between batches leaves only whole lines. The
one way to leave a torn tail is a write cut short (disk full, a fatal signal inside a huge
write); the descriptor is then dropped, and whoever opens the file next terminates the torn tail
with a newline first, so it can never glue onto the next record; readers skip it
(``mlcost_sdk.reports.records`` reports it as a skipped line). A process opening the file while
another is mid-write may take that write for a torn tail: the cost is one blank line.

"Flushed per batch" means handed to the kernel: it survives the process dying, not the machine
losing power (no fsync; that would cost milliseconds per batch).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import logging
import math
import os
import threading
import weakref
from binascii import hexlify
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import orjson
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.trace import StatusCode

from mlcost_sdk import _validate as v
from mlcost_sdk.guard import OnceLog

logger = logging.getLogger("mlcost_sdk")

DEFAULT_PATH = "mlcost-spans.jsonl"
PATH_ENV = "MLCOST_SPANS_PATH"
DEFAULT_MAX_BYTES = 64 * 1024 * 1024
DEFAULT_BACKUP_COUNT = 5


def _json_value(value: Any) -> Any:
    """An OTel attribute value as JSON. Non-finite floats become the strings OTLP/JSON uses
    ("NaN", "Infinity", "-Infinity"): bare NaN is not JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, list | tuple):
        return [_json_value(v) for v in value]
    return value


_PLAIN = frozenset({str, int, bool})


def _attributes(attrs: Mapping[str, Any] | None) -> dict[str, Any]:
    if not attrs:
        return {}
    return {key: value if type(value) in _PLAIN else _json_value(value)
            for key, value in attrs.items()}


# A process has one or two resources and a few instrumentation scopes, shared by all its spans
# and immutable: each is encoded once. The object is kept alongside, so its id cannot be reused
# while cached.
_resources: dict[int, tuple[Any, bytes]] = {}
_scopes: dict[int, tuple[Any, bytes]] = {}


def _dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), allow_nan=False, default=str).encode()


def _cached_json(cache: dict[int, tuple[Any, bytes]], obj: Any,
                 convert: Callable[[Any], Any]) -> bytes:
    cached = cache.get(id(obj))
    if cached is None or cached[0] is not obj:
        if len(cache) > 16:
            cache.clear()
        cached = cache[id(obj)] = (obj, _dumps(convert(obj)))
    return cached[1]


def _resource_json(resource: Any) -> bytes:
    return _cached_json(_resources, resource, lambda r: _attributes(r.attributes))


def _scope_json(scope: Any) -> bytes:
    return _cached_json(_scopes, scope, _scope)


def _scope(scope: Any) -> dict[str, Any]:
    return {"name": scope.name if scope else "", "version": scope.version if scope else None}


def _as_is(attrs: Mapping[str, Any] | None) -> dict[str, Any]:
    return dict(attrs) if attrs else {}


def _span_attributes_as_is(span: ReadableSpan) -> dict[str, Any]:
    """The span's attributes without a copy where the SDK keeps them in a plain dict (its
    BoundedAttributes' ``_dict``): copying through the Mapping protocol, a Python-level call
    per key, cost more than encoding the whole record. Anything else is copied."""
    own = getattr(getattr(span, "_attributes", None), "_dict", None)
    return own if type(own) is dict else _as_is(span.attributes)


def _hex(value: int, size: int) -> str:
    """An id as lower-case hex of ``size`` bytes (4x faster than a format spec)."""
    try:
        return value.to_bytes(size, "big").hex()
    except OverflowError:  # wider than an OTel id can be: written as it is
        return format(value, "x")


def span_to_record(span: ReadableSpan) -> dict[str, Any]:
    """A finished span as the shared record format (the one converter; reports read this;
    ``_encode_fast`` writes the same JSON faster)."""
    ctx, status = span.context, span.status
    scope = span.instrumentation_scope
    # ``span.events`` copies the SDK's locked list on every read; most spans have none
    events = span.events if getattr(span, "_events", True) else ()
    return {
        "name": span.name,
        "trace_id": _hex(ctx.trace_id, 16) if ctx else None,
        "span_id": _hex(ctx.span_id, 8) if ctx else None,
        "parent_span_id": _hex(span.parent.span_id, 8) if span.parent else None,
        "start_time_unix_nano": span.start_time,
        "end_time_unix_nano": span.end_time,
        # _name_: the Enum API's own attribute, a plain read where .name is a descriptor call
        "status": {"code": status.status_code._name_, "description": status.description},
        "attributes": _attributes(span.attributes),
        "resource": _attributes(span.resource.attributes),
        "scope": _scope(scope),
        "events": [{"name": e.name, "time_unix_nano": e.timestamp,
                    "attributes": _attributes(e.attributes)} for e in events],
    }


def _encode_stdlib(span: ReadableSpan, attributes: Mapping[str, Any] | None = None) -> bytes:
    # default=str: a value the OTel SDK let through but JSON cannot hold must not lose the batch.
    record = span_to_record(span)
    if attributes is not None:
        record["attributes"] = _attributes(attributes)
    return _dumps(record) + b"\n"


# span_to_record's fields in its order, filled in as JSON text.
_LINE = (b'{"name":%b,"trace_id":"%b","span_id":"%b","parent_span_id":%b,'
         b'"start_time_unix_nano":%d,"end_time_unix_nano":%d,"status":{"code":%b,'
         b'"description":%b},"attributes":%b,"resource":%b,"scope":%b,"events":%b}\n')
_CODES = {code: b'"%b"' % code.name.encode() for code in StatusCode}


def _encode_fast(span: ReadableSpan, attributes: Mapping[str, Any] | None = None) -> bytes:
    """The line filled in from parts: the resource and scope encoded once each, the attributes
    by orjson as they are (several times the stdlib's speed); the SDK span's fields read
    directly (a property call each costs more). orjson writes a non-finite float as ``null``
    where the format wants "NaN"/"Infinity", and attribute values are never null, so a ``null``
    in the attributes' or events' JSON sends the span down the converting path (taken too for
    what orjson refuses, ints over 64 bits and lone surrogates, and for a span without ids or
    times). ``attributes`` replace the span's own (the pipeline's stamped ones)."""
    try:
        attrs = orjson.dumps(_span_attributes_as_is(span) if attributes is None else attributes)
        events = b"[]"
        if span._events:  # ``span.events`` copies a locked list per read; most spans have none
            events = orjson.dumps([{"name": e.name, "time_unix_nano": e.timestamp,
                                    "attributes": _as_is(e.attributes)} for e in span._events])
        if b"null" in attrs or b"null" in events:
            raise TypeError("a non-finite float")
        ctx, parent, status = span._context, span._parent, span._status
        if ctx is None:
            raise TypeError("no span context")
        description = status.description
        return _LINE % (
            orjson.dumps(span._name), hexlify(ctx.trace_id.to_bytes(16, "big")),
            hexlify(ctx.span_id.to_bytes(8, "big")),
            b"null" if parent is None else b'"%b"' % hexlify(parent.span_id.to_bytes(8, "big")),
            span._start_time, span._end_time, _CODES[status.status_code],
            b"null" if description is None else orjson.dumps(description), attrs,
            _resource_json(span._resource), _scope_json(span._instrumentation_scope), events)
    except (TypeError, KeyError, AttributeError, OverflowError):  # JSONEncodeError: TypeError
        return _encode_stdlib(span, attributes)


def _encode(spans: Sequence[ReadableSpan | bytes]) -> bytes:
    """One batch: lines encoded when their span ended (see ``encode_line``) as they are."""
    return b"".join([s if isinstance(s, bytes) else _encode_fast(s) for s in spans])


class JsonlSpanExporter(SpanExporter):
    """Append finished spans to ``path`` as JSON lines, rotating by size.

    ``path``: default ``$MLCOST_SPANS_PATH`` or ``./mlcost-spans.jsonl``. When a batch would take
    the file past ``max_bytes`` it is renamed to ``path.1`` (``path.1`` to ``path.2`` ... up to
    ``backup_count``; the oldest is deleted) and a fresh file started. Export failures return
    FAILURE (the span processor counts the spans as dropped); they never raise.
    """

    def __init__(self, path: str | os.PathLike[str] | None = None, *,
                 max_bytes: int = DEFAULT_MAX_BYTES,
                 backup_count: int = DEFAULT_BACKUP_COUNT) -> None:
        max_bytes = v.count("max_bytes", max_bytes)
        backup_count = v.count("backup_count", backup_count, minimum=0)
        raw = path if path is not None else os.environ.get(PATH_ENV) or DEFAULT_PATH
        self.path = Path(raw).absolute()  # immune to a later chdir
        self.max_bytes = max_bytes
        self.backup_count = backup_count
        self._lock = threading.Lock()
        self._fd: int | None = None
        self._closed = False
        self._warned = OnceLog()  # failure kinds already logged (read-only, disk full...)
        _exporters.add(self)

    def _after_fork_in_child(self) -> None:
        # The parent's writer thread may have held the lock at the fork. The inherited O_APPEND
        # descriptor stays valid: appends from both processes are still whole lines.
        self._lock = threading.Lock()

    def encode_line(self, span: ReadableSpan,
                    attributes: Mapping[str, Any] | None = None) -> bytes:
        """The span's JSON line. mlcost's span processor calls this as the span ends and
        queues the line instead of the span (see ``mlcost_sdk.exporters._health``);
        ``export`` takes such lines and spans alike."""
        return _encode_fast(span, attributes)

    def export(self, spans: Sequence[ReadableSpan | bytes]) -> SpanExportResult:
        if not spans:
            return SpanExportResult.SUCCESS
        data = _encode(spans)
        with self._lock:
            if self._closed:
                return SpanExportResult.FAILURE
            try:
                fd = self._fd_for(len(data))
                written = os.write(fd, data)
                if written != len(data):
                    raise OSError(f"short write: {written} of {len(data)} bytes")
            except OSError as exc:
                self._close_fd()  # a torn tail is repaired on reopen
                kind = errno.errorcode.get(exc.errno or 0, type(exc).__name__)
                if self._warned.hit(kind):  # once per kind, not once per batch
                    logger.warning("mlcost: cannot write spans to %s: %s (the spans are counted "
                                   "as dropped; this is logged once)", self.path, exc)
                return SpanExportResult.FAILURE
        return SpanExportResult.SUCCESS

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True  # nothing is buffered: each batch reaches the kernel in export()

    def shutdown(self) -> None:
        with self._lock:
            self._closed = True
            self._close_fd()

    # --- file handling (called with the lock held) ------------------------------------------
    def _fd_for(self, incoming: int) -> int:
        if self._fd is not None and not self._is_current(self._fd):
            self._close_fd()  # another process rotated or removed the file: follow it
        if self._fd is None:
            self._fd = self._open()
        size = os.fstat(self._fd).st_size
        if size and size + incoming > self.max_bytes:
            self._rotate(self._fd, incoming)
            self._close_fd()
            self._fd = self._open()
        return self._fd

    def _open(self) -> int:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            if _ends_torn(self.path):
                os.write(fd, b"\n")
        except OSError:
            os.close(fd)
            raise
        return fd

    def _is_current(self, fd: int) -> bool:
        try:
            on_disk = os.stat(self.path)
        except FileNotFoundError:
            return False
        mine = os.fstat(fd)
        return (on_disk.st_dev, on_disk.st_ino) == (mine.st_dev, mine.st_ino)

    def _rotate(self, fd: int, incoming: int) -> None:
        # flock serialises rotation between processes; whoever waited re-checks, so the files
        # shift once, not once per process.
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            size = os.fstat(fd).st_size
            if not self._is_current(fd) or size == 0 or size + incoming <= self.max_bytes:
                return
            if self.backup_count == 0:
                os.unlink(self.path)
                return
            for i in range(self.backup_count - 1, 0, -1):
                older = self._backup(i)
                if older.exists():
                    os.replace(older, self._backup(i + 1))
            os.replace(self.path, self._backup(1))
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)

    def _backup(self, i: int) -> Path:
        return self.path.with_name(f"{self.path.name}.{i}")

    def _close_fd(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            with contextlib.suppress(OSError):
                os.close(fd)


_exporters: weakref.WeakSet[JsonlSpanExporter] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for exporter in list(_exporters):
        exporter._after_fork_in_child()


os.register_at_fork(after_in_child=_after_fork_in_child)


def _ends_torn(path: Path) -> bool:
    """True when the file's last line has no newline (a write that was cut short)."""
    with open(path, "rb") as f:
        if f.seek(0, os.SEEK_END) == 0:
            return False
        f.seek(-1, os.SEEK_END)
        return f.read(1) != b"\n"

