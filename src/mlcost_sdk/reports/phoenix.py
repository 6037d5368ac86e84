"""Read spans back from an Arize Phoenix server, as the shared record format the reports use.

Uses Phoenix's REST API, ``GET /v1/projects/{project}/spans`` (cursor-paginated). Phoenix puts
a span in the project named by its resource attribute ``openinference.project.name`` (the
``default`` project otherwise). What Phoenix does not keep cannot be returned:

- ``resource`` is empty: Phoenix stores span attributes only (the SDK repeats what reports need,
  like ``deployment.environment.name``, on every span);
- ``scope`` is unknown (name ``""``, version ``None``);
- times have microsecond resolution (Phoenix stores datetimes).

And Phoenix adds what it derives: on spans with ``gen_ai.*`` attributes, their OpenInference
equivalents (``llm.*``, ``output.*``). Every attribute the SDK sent comes back unchanged.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

from ..errors import ConfigError, InvalidParameterError

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
API_KEY_ENV = "PHOENIX_API_KEY"


def _unix_nano(iso: str) -> int:
    moment = datetime.fromisoformat(iso)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    delta = moment - _EPOCH  # integer arithmetic: no float rounding of nanoseconds
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1_000


def phoenix_span_to_record(span: Mapping[str, Any]) -> dict[str, Any]:
    """One span of Phoenix's REST response as the shared record format."""
    return {
        "name": span["name"],
        "trace_id": span["context"]["trace_id"],
        "span_id": span["context"]["span_id"],
        "parent_span_id": span.get("parent_id") or None,
        "start_time_unix_nano": _unix_nano(span["start_time"]),
        "end_time_unix_nano": _unix_nano(span["end_time"]),
        "status": {"code": span.get("status_code") or "UNSET",
                   "description": span.get("status_message") or None},
        "attributes": dict(span.get("attributes") or {}),  # Phoenix hands them back flat
        "resource": {},
        "scope": {"name": "", "version": None},
        "events": [{"name": e.get("name", ""), "time_unix_nano": _unix_nano(e["timestamp"]),
                    "attributes": dict(e.get("attributes") or {})}
                   for e in span.get("events") or []],
    }


def fetch_spans(endpoint: str, project: str = "default", *,
                       api_key: str | None = None, timeout_s: float = 30.0,
                       page_size: int = 1000) -> Iterator[dict[str, Any]]:
    """Every span of ``project`` on the Phoenix server at ``endpoint`` (e.g.
    ``http://127.0.0.1:6006``), newest first, as records.

    ``api_key`` (default ``$PHOENIX_API_KEY``) is sent as a bearer token when given. An unknown
    project raises InvalidParameterError; an unreachable or failing server raises ConfigError.
    """
    if not project or any(ch in project for ch in "/?#"):
        raise InvalidParameterError("project", project, "a Phoenix project name without / ? #")
    if not 1 <= page_size <= 1000:
        raise InvalidParameterError("page_size", page_size, "between 1 and 1000 (Phoenix's cap)")
    key = api_key if api_key is not None else os.environ.get(API_KEY_ENV)
    headers = {"Accept": "application/json", **({"Authorization": f"Bearer {key}"} if key else {})}
    base = f"{endpoint.rstrip('/')}/v1/projects/{urllib.parse.quote(project)}/spans"
    cursor: str | None = None
    while True:
        query = {"limit": str(page_size), **({"cursor": cursor} if cursor else {})}
        url = f"{base}?{urllib.parse.urlencode(query)}"
        try:
            with urllib.request.urlopen(urllib.request.Request(url, headers=headers),
                                        timeout=timeout_s) as response:
                page = json.load(response)
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                raise InvalidParameterError("project", project,
                                            f"a project that exists on {endpoint}") from exc
            raise ConfigError(f"Phoenix at {endpoint} answered {exc.code} {exc.reason} "
                              f"for {url}") from exc
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise ConfigError(f"cannot read spans from Phoenix at {endpoint}: {exc}") from exc
        for span in page.get("data") or []:
            yield phoenix_span_to_record(span)
        cursor = page.get("next_cursor")
        if not cursor:
            return
