"""Cost reports from exported span records: roll-ups, FOCUS rows, an HTML page, idle resources
and week-over-week anomalies. The ``mlcost report | idle | anomalies`` commands sit on these.

    loaded = load(["mlcost-spans.jsonl"])         # skipped lines in loaded.problems
    rows = rollup(usages(loaded.records), ("team", "model"))
"""

from __future__ import annotations

from .anomalies import Anomaly, find_anomalies
from .focus import focus_rows
from .idle import IdleResource, find_idle
from .page import render as render_html
from .records import Loaded, Problem, SpanRecord, load
from .rollup import DEFAULT_BY, Row, Stats, rollup
from .usage import Usage, usages

__all__ = [
    "DEFAULT_BY", "Anomaly", "IdleResource", "Loaded", "Problem", "Row", "SpanRecord", "Stats",
    "Usage", "find_anomalies", "find_idle", "focus_rows", "load", "render_html", "rollup",
    "usages",
]
