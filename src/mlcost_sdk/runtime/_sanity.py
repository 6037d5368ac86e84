"""Nonsense on the hot path (a negative or non-finite count, a negative duration) never raises
into user code and never reaches a figure: the value is dropped, counted and warned once per
place, so a run's MFU and throughput stay sane."""

from __future__ import annotations

import logging
import math

from ..guard import OnceLog

logger = logging.getLogger("mlcost_sdk")

_dropped = OnceLog()  # "where.field" -> values dropped


def dropped_values() -> dict[str, int]:
    """How many invalid values each place dropped in this process."""
    return _dropped.counts()


def count_or_zero(where: str, field: str, value: object) -> float:
    """``value`` when it is a finite number >= 0, else 0 (dropped, counted, warned once)."""
    if isinstance(value, int | float) and not isinstance(value, bool) \
            and math.isfinite(value) and value >= 0:
        return value
    if _dropped.hit(f"{where}.{field}"):
        logger.warning("mlcost: %s(%s=%r): not a finite number >= 0; dropped (further ones are "
                       "counted, not logged)", where, field, value)
    return 0
