"""Time units shared by the cost model. A month is 730 hours (8,760 / 12) unless a caller says."""

from __future__ import annotations

SECONDS_PER_HOUR = 3600.0
MONTH_HOURS = 730.0
MONTHS_PER_YEAR = 12
WEEKS_PER_YEAR = 52


def usd_per_second(usd_per_hour: float) -> float:
    """An hourly price per second: how the runtime accrues a price by the second."""
    return usd_per_hour / SECONDS_PER_HOUR
