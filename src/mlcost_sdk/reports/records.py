"""Reading exported span records, streamed: JSONL files (rotated ones too) or a Phoenix endpoint.

A report reads each record once and keeps nothing per record, so memory follows the number of
groups it reports on, not the number of spans (``read()`` yields records; ``load()`` still makes
a list, for small inputs and tests).

A report must survive what a crashed process, a half-copied file or a hostile one leaves
behind, so a bad record is skipped and counted as a :class:`Problem` naming its file and line,
never raised: not JSON, not the export format, a negative or non-finite cost, timestamps outside
int64 nanoseconds or one record spanning more than a year (a report spreads a record's cost over
the hours, days and weeks it covers; that bounds the work one record can cause).

The same span read twice counts once, with bounded memory. Duplicates arise in two ways:

- a whole file read twice: a file given twice, or a rotated sibling that a folder or glob also
  matches (the same path is opened once), or a copy of a file (same size and the same first and
  last 64 KiB: skipped whole, its lines counted as duplicates);
- a span written again soon after: a batch re-sent after a timeout that in fact arrived. Those
  lie close together, so the last 65,536 to 131,072 (trace id, span id) keys are remembered, in
  two generations. A span repeated further apart than that is counted twice; remembering every
  key would make memory grow with the number of spans again.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from .. import conventions as c
from ..errors import InvalidParameterError

MAX_NS = 2**63 - 1  # OTLP's fixed64 read as int64: beyond it no clock of ours can be
MAX_SPAN_NS = 366 * 86_400 * 10**9  # one record spread over more than a year: refused
MAX_COST_USD = 1e12  # a trillion dollars in one record is a broken writer, not a bill
DEDUP_GENERATION = 1 << 16
MAX_KEPT_PROBLEMS = 100  # the first ones are kept to show; all are counted
_FINGERPRINT_BYTES = 1 << 16


class SpanRecord:
    """One finished span, as the JSONL exporter writes it (the fields reports use)."""

    __slots__ = ("name", "trace_id", "span_id", "parent_span_id", "start_ns", "end_ns",
                 "attributes", "resource")

    def __init__(self, name: str, trace_id: str, span_id: str, parent_span_id: str | None,
                 start_ns: int, end_ns: int, attributes: Mapping[str, Any],
                 resource: Mapping[str, Any]) -> None:
        self.name, self.trace_id, self.span_id = name, trace_id, span_id
        self.parent_span_id = parent_span_id
        self.start_ns, self.end_ns = start_ns, end_ns
        self.attributes, self.resource = attributes, resource

    @property
    def kind(self) -> str | None:
        kind = self.attributes.get(c.KIND)
        return kind if isinstance(kind, str) else None

    @property
    def cost_usd(self) -> float:
        return self.number(c.COST_USD) or 0.0

    @property
    def tags(self) -> dict[str, str]:
        return tags_of(self.attributes)

    def number(self, name: str) -> float | None:
        """A numeric attribute, or None when absent or not a finite number."""
        return finite_number(self.attributes.get(name))


def tags_of(attributes: Mapping[str, Any]) -> dict[str, str]:
    """The ``mlcost.tag.*`` attributes, by tag key."""
    n = len(c.TAG_PREFIX)
    return {k[n:]: str(v) for k, v in attributes.items() if k.startswith(c.TAG_PREFIX)}


def finite_number(value: Any) -> float | None:
    """``value`` as a float when it is a finite number (not a bool), else None."""
    kind = type(value)
    if kind is float:
        return value if value - value == 0.0 else None  # NaN and infinities give NaN
    if kind is int:
        try:
            return float(value)
        except OverflowError:  # beyond a double: Python's json reads any int
            return None
    return None


@dataclass(frozen=True, slots=True)
class Problem:
    """A record that was skipped, and why."""

    source: str
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.source}:{self.line}: {self.reason}"


def parse_record(raw: Any) -> SpanRecord:
    """Check one decoded record against the export contract; ValueError names the field."""
    if not isinstance(raw, dict):
        raise ValueError("not a JSON object")
    trace_id, span_id = raw.get("trace_id"), raw.get("span_id")
    if not isinstance(trace_id, str) or not trace_id:
        raise ValueError("'trace_id' must be a non-empty string")
    if not isinstance(span_id, str) or not span_id:
        raise ValueError("'span_id' must be a non-empty string")
    start, end = raw.get("start_time_unix_nano"), raw.get("end_time_unix_nano")
    if type(start) is not int or not 0 <= start <= MAX_NS:
        raise ValueError("'start_time_unix_nano' must be an integer from 0 to 2**63 - 1")
    if type(end) is not int or not 0 <= end <= MAX_NS:
        raise ValueError("'end_time_unix_nano' must be an integer from 0 to 2**63 - 1")
    if end < start:
        raise ValueError("'end_time_unix_nano' is before 'start_time_unix_nano'")
    if end - start > MAX_SPAN_NS:
        raise ValueError(f"the span lasts {(end - start) / 86_400e9:.6g} days: more than a "
                         "year (366 days), the most one record may cover")
    attributes = raw.get("attributes")
    if not isinstance(attributes, dict):
        raise ValueError("'attributes' must be an object")
    resource = raw.get("resource") or {}
    if not isinstance(resource, dict):
        raise ValueError("'resource' must be an object")
    cost = attributes.get(c.COST_USD)
    if cost is not None and (isinstance(cost, bool) or not isinstance(cost, int | float)
                             or not 0 <= cost <= MAX_COST_USD):  # also False for NaN
        raise ValueError(f"{c.COST_USD!r} must be a number from 0 to {MAX_COST_USD:g}, "
                         f"got {cost!r}")
    parent = raw.get("parent_span_id")
    return SpanRecord(str(raw.get("name", "")), trace_id, span_id,
                      parent if isinstance(parent, str) and parent else None,
                      start, end, attributes, resource)


def _decode(line: bytes) -> Any:
    try:
        return orjson.loads(line)
    except ValueError:
        pass
    try:  # what orjson refuses and Python's json reads: NaN literals, escaped lone surrogates
        return json.loads(line)
    except (ValueError, RecursionError) as e:  # also UnicodeDecodeError
        raise ValueError(f"not valid JSON ({str(e).split(':')[0]})") from None


def expand_paths(inputs: Iterable[str]) -> list[Path]:
    """Files to read: each given file with its rotated siblings (``<file>.1``, ``<file>.2``...),
    every ``*.jsonl*`` file of a given directory; each file once, oldest rotation first."""
    found: dict[Path, None] = {}
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            candidates = sorted(p for p in path.iterdir() if ".jsonl" in p.name and p.is_file())
        elif path.is_file():
            prefix = path.name + "."
            rotated = [p for p in path.parent.iterdir() if p.name.startswith(prefix)
                       and p.name[len(prefix):].isdigit() and p.is_file()]
            rotated.sort(key=lambda p: -int(p.name[len(prefix):]))
            candidates = [*rotated, path]
        else:
            raise InvalidParameterError("FILE", item,
                                        "an existing JSONL file or folder, or an http(s) URL")
        for p in candidates:
            found.setdefault(p.resolve(), None)
    return list(found)


def _fingerprint(path: Path) -> tuple[int, bytes]:
    """Size and a hash of the first and last 64 KiB: equal for a copy of a file."""
    with path.open("rb") as f:
        size = f.seek(0, 2)
        f.seek(0)
        digest = hashlib.blake2b(f.read(_FINGERPRINT_BYTES), digest_size=16)
        if size > _FINGERPRINT_BYTES:
            f.seek(max(_FINGERPRINT_BYTES, size - _FINGERPRINT_BYTES))
            digest.update(f.read())
    return size, digest.digest()


def _count_lines(path: Path) -> int:
    lines = 0
    with path.open("rb") as f:
        for line in f:
            lines += bool(line.strip())
    return lines


@dataclass
class Records:
    """The records of some inputs, each yielded once, as they are read; what was skipped and
    which duplicates were dropped is known once iteration has ended."""

    inputs: list[str]
    project: str = "default"
    sources: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)  # the first MAX_KEPT_PROBLEMS
    skipped: int = 0
    duplicates: int = 0

    def __iter__(self) -> Iterator[SpanRecord]:
        self.sources, self.problems, self.skipped, self.duplicates = [], [], 0, 0
        recent: set[str] = set()
        older: set[str] = set()
        for source, line, raw in self._raw():
            try:
                record = parse_record(_decode(raw) if isinstance(raw, bytes) else raw)
            except ValueError as e:
                self.skipped += 1
                if len(self.problems) < MAX_KEPT_PROBLEMS:
                    self.problems.append(Problem(source, line, str(e)))
                continue
            # one string, not a tuple of two: half the memory; the length prefix keeps it exact
            key = f"{len(record.trace_id)}:{record.trace_id}{record.span_id}"
            if key in recent or key in older:
                self.duplicates += 1
                continue
            if len(recent) >= DEDUP_GENERATION:
                older, recent = recent, set()
            recent.add(key)
            yield record

    def _raw(self) -> Iterator[tuple[str, int, Any]]:
        urls = [i for i in self.inputs if i.startswith(("http://", "https://"))]
        for url in urls:
            from .phoenix import fetch_spans  # the HTTP client is only needed for a URL

            self.sources.append(url)
            for index, raw in enumerate(fetch_spans(url, self.project), start=1):
                yield url, index, raw
        fingerprints: set[tuple[int, bytes]] = set()
        for path in expand_paths(i for i in self.inputs if i not in urls):
            self.sources.append(str(path))
            try:
                fingerprint = _fingerprint(path)
                if fingerprint in fingerprints:
                    self.duplicates += _count_lines(path)
                    continue
                fingerprints.add(fingerprint)
                with path.open("rb") as f:
                    for number, line in enumerate(f, start=1):
                        if line.strip():
                            yield str(path), number, line
            except OSError as e:
                raise InvalidParameterError("FILE", str(path),
                                            f"a readable file ({e.strerror})") from e


def read(inputs: Iterable[str], *, project: str = "default") -> Records:
    """Span records of JSONL files/folders and Phoenix endpoints (http(s) URLs), streamed."""
    return Records(list(inputs), project)


@dataclass
class Loaded:
    records: list[SpanRecord] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    duplicates: int = 0


def load(inputs: Iterable[str], *, project: str = "default") -> Loaded:
    """Every record of the inputs in one list (see read() for the streamed form)."""
    stream = read(inputs, project=project)
    records = list(stream)
    return Loaded(records, stream.problems, stream.sources, stream.duplicates)
