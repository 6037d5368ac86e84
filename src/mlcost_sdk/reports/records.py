"""Reading exported span records: JSONL files (rotated ones too) or a Phoenix endpoint.

A report must survive what a crashed process or a half-copied file leaves behind, so a bad
line is skipped and recorded as a :class:`Problem` naming its file and line, never raised.
The same span read twice (a file given twice, a rotated file also matched by a glob) counts
once: records are keyed by trace and span id.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import conventions as c
from ..errors import InvalidParameterError


@dataclass(frozen=True, slots=True)
class SpanRecord:
    """One finished span, as the JSONL exporter writes it (the fields reports use)."""

    name: str
    trace_id: str
    span_id: str
    parent_span_id: str | None
    start_ns: int
    end_ns: int
    attributes: Mapping[str, Any]
    resource: Mapping[str, Any]

    @property
    def kind(self) -> str | None:
        kind = self.attributes.get(c.KIND)
        return kind if isinstance(kind, str) else None

    @property
    def cost_usd(self) -> float:
        return self.number(c.COST_USD) or 0.0

    @property
    def tags(self) -> dict[str, str]:
        n = len(c.TAG_PREFIX)
        return {k[n:]: str(v) for k, v in self.attributes.items() if k.startswith(c.TAG_PREFIX)}

    def number(self, name: str) -> float | None:
        """A numeric attribute, or None when absent or not a finite number."""
        value = self.attributes.get(name)
        if isinstance(value, bool) or not isinstance(value, int | float):
            return None
        return float(value) if math.isfinite(value) else None


@dataclass(frozen=True, slots=True)
class Problem:
    """A record that was skipped, and why."""

    source: str
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.source}:{self.line}: {self.reason}"


@dataclass
class Loaded:
    records: list[SpanRecord] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    duplicates: int = 0


def parse_record(raw: Any) -> SpanRecord:
    """Check one decoded record against the export contract; ValueError names the field."""
    if not isinstance(raw, dict):
        raise ValueError("not a JSON object")
    for key in ("trace_id", "span_id"):
        if not isinstance(raw.get(key), str) or not raw[key]:
            raise ValueError(f"{key!r} must be a non-empty string")
    for key in ("start_time_unix_nano", "end_time_unix_nano"):
        if isinstance(raw.get(key), bool) or not isinstance(raw.get(key), int):
            raise ValueError(f"{key!r} must be an integer")
    if raw["end_time_unix_nano"] < raw["start_time_unix_nano"]:
        raise ValueError("'end_time_unix_nano' is before 'start_time_unix_nano'")
    attributes = raw.get("attributes")
    if not isinstance(attributes, dict):
        raise ValueError("'attributes' must be an object")
    resource = raw.get("resource") or {}
    if not isinstance(resource, dict):
        raise ValueError("'resource' must be an object")
    cost = attributes.get(c.COST_USD)
    if cost is not None and (isinstance(cost, bool) or not isinstance(cost, int | float)
                             or not math.isfinite(cost) or cost < 0):
        raise ValueError(f"{c.COST_USD!r} must be a finite number >= 0, got {cost!r}")
    parent = raw.get("parent_span_id")
    attributes, resource = _shared(attributes), _shared(resource)
    return SpanRecord(
        name=str(raw.get("name", "")), trace_id=raw["trace_id"], span_id=raw["span_id"],
        parent_span_id=parent if isinstance(parent, str) and parent else None,
        start_ns=raw["start_time_unix_nano"], end_ns=raw["end_time_unix_nano"],
        attributes=attributes, resource=resource)


def _shared(attributes: dict[str, Any]) -> dict[str, Any]:
    """The same names and short values recur on every record: keep one copy of each (a
    report holds every record at once; this halves its memory)."""
    return {sys.intern(k): sys.intern(v) if isinstance(v, str) and len(v) <= 128 else v
            for k, v in attributes.items()}


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


def _decode(line: bytes) -> Any:
    try:
        return json.loads(line)
    except ValueError as e:  # also UnicodeDecodeError
        raise ValueError(f"not valid JSON ({str(e).split(':')[0]})") from None


def load(inputs: Iterable[str], *, project: str = "default") -> Loaded:
    """Read span records from JSONL files/folders and Phoenix endpoints (http(s) URLs)."""
    out = Loaded()
    seen: set[tuple[str, str]] = set()

    def add(source: str, line: int, raw: Any) -> None:
        try:
            record = parse_record(_decode(raw) if isinstance(raw, bytes) else raw)
        except ValueError as e:
            out.problems.append(Problem(source, line, str(e)))
            return
        key = (record.trace_id, record.span_id)
        if key in seen:
            out.duplicates += 1
            return
        seen.add(key)
        out.records.append(record)

    inputs = list(inputs)
    urls = [i for i in inputs if i.startswith(("http://", "https://"))]
    for url in urls:
        from .phoenix import fetch_spans  # the HTTP client is only needed for a URL

        out.sources.append(url)
        for index, raw in enumerate(fetch_spans(url, project), start=1):
            add(url, index, raw)
    for path in expand_paths(i for i in inputs if i not in urls):
        out.sources.append(str(path))
        try:
            with path.open("rb") as f:
                for number, line in enumerate(f, start=1):
                    if line.strip():
                        add(str(path), number, line)
        except OSError as e:
            raise InvalidParameterError("FILE", str(path), f"a readable file ({e.strerror})") from e
    return out
