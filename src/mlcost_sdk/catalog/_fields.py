"""Reading one catalog entry (a TOML or JSON table) field by field, with errors that say where."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping
from typing import Any

from ..errors import CatalogError


class EntryReader:
    """Typed access to one entry's fields; every problem names the file, the entry and the field."""

    def __init__(self, source: str, entry: str, table: object) -> None:
        if not isinstance(table, Mapping):
            raise CatalogError(source, entry, None, "must be a table of fields")
        self.source, self.entry, self._table = source, entry, table

    def error(self, field: str, problem: str) -> CatalogError:
        return CatalogError(self.source, self.entry, field, problem)

    def only(self, fields: Iterable[str]) -> None:
        """Reject unknown fields, so a typo is an error and not a silently ignored price."""
        unknown = sorted(set(self._table) - set(fields))
        if unknown:
            raise self.error(unknown[0], f"unknown field (allowed: {', '.join(sorted(fields))})")

    def _get(self, field: str) -> Any:
        if field not in self._table:
            raise self.error(field, "is required")
        return self._table[field]

    def string(self, field: str) -> str:
        value = self._get(field)
        if not isinstance(value, str) or not value.strip():
            raise self.error(field, f"must be a non-empty string, got {value!r}")
        return value.strip()

    def optional_string(self, field: str) -> str | None:
        return self.string(field) if field in self._table else None

    def strings(self, field: str) -> tuple[str, ...]:
        value = self._table.get(field, [])
        if not isinstance(value, list) or not all(isinstance(s, str) and s.strip() for s in value):
            raise self.error(field, f"must be a list of non-empty strings, got {value!r}")
        return tuple(s.strip() for s in value)

    def positive(self, field: str, value: object = None) -> float:
        value = self._get(field) if value is None else value
        if isinstance(value, bool) or not isinstance(value, int | float) or not (
                math.isfinite(value) and value > 0):
            raise self.error(field, f"must be a number > 0, got {value!r}")
        return float(value)

    def whole(self, field: str) -> int:
        value = self._get(field)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise self.error(field, f"must be a whole number >= 1, got {value!r}")
        return value

    def date(self, field: str) -> str:
        """An ISO date (TOML date or "YYYY-MM-DD" string), returned as that string."""
        value = self._get(field)
        if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
            return value.isoformat()
        try:
            return dt.date.fromisoformat(value).isoformat()
        except (TypeError, ValueError):
            raise self.error(field, f"must be a date YYYY-MM-DD, got {value!r}") from None

    def table(self, field: str) -> Mapping[str, Any]:
        value = self._get(field)
        if not isinstance(value, Mapping):
            raise self.error(field, f"must be a table, got {value!r}")
        return value
