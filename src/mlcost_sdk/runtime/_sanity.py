"""Nonsense on the hot path (a negative or non-finite count, a negative duration) never raises
into user code and never reaches a figure: the value is dropped, counted and warned once per
place, so a run's MFU and throughput stay sane."""

from __future__ import annotations

import logging
import math
import os
import threading
from collections import Counter

logger = logging.getLogger("mlcost_sdk")

_lock = threading.Lock()
_dropped: Counter[str] = Counter()  # "where.field" -> values dropped


def dropped_values() -> dict[str, int]:
    """How many invalid values each place dropped in this process."""
    with _lock:
        return dict(_dropped)


def count_or_zero(where: str, field: str, value: object) -> float:
    """``value`` when it is a finite number >= 0, else 0 (dropped, counted, warned once)."""
    if isinstance(value, int | float) and not isinstance(value, bool) \
            and math.isfinite(value) and value >= 0:
        return value
    key = f"{where}.{field}"
    with _lock:
        first = key not in _dropped
        _dropped[key] += 1
    if first:
        logger.warning("mlcost: %s(%s=%r): not a finite number >= 0; dropped (further ones are "
                       "counted, not logged)", where, field, value)
    return 0


def _after_fork_in_child() -> None:
    global _lock
    _lock = threading.Lock()


os.register_at_fork(after_in_child=_after_fork_in_child)
