"""Layer 4, total cost of ownership: self-hosted vs managed, and the compute that breaks even.

    engineer rate   = annual fully-loaded cost / 52 / 40
    self-hosted     = 12 x compute/month + self-hosted ops hours/week x 52 x rate
    managed         = 12 x compute/month x (1 + premium) + managed ops hours/week x 52 x rate
    break-even      = (ops hours saved per year x rate) / premium        (annual compute)

Above the break-even compute the managed premium costs more than the engineering it saves.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from .. import _validate as v
from ._estimate import Estimate, field_alias
from ._units import MONTHS_PER_YEAR, WEEKS_PER_YEAR

WORK_HOURS_PER_WEEK = 40


@dataclass(frozen=True)
class TcoEstimate(Estimate):
    compute_monthly_usd: float
    managed_premium: float  # share added to compute by the managed service
    engineer_annual_usd: float
    engineer_usd_per_hour: float
    self_hosted_hours_per_week: float
    managed_hours_per_week: float
    self_hosted_compute_annual_usd: float
    self_hosted_engineering_annual_usd: float
    self_hosted_annual_usd: float
    managed_compute_annual_usd: float
    managed_engineering_annual_usd: float
    managed_annual_usd: float
    winner: Literal["self-hosted", "managed"]  # managed on a tie: same cost, less to run
    difference_usd: float  # annual saving of the winner
    break_even_compute_annual_usd: float | None  # None: managed saves no hours, or no premium

    json_keys = {"engineer_usd_per_hour": "engineer_hourly_usd"}
    engineer_hourly_usd = field_alias("engineer_hourly_usd", "engineer_usd_per_hour")


def estimate_tco(*, compute_monthly_usd: float, managed_premium: float,
                 engineer_annual_usd: float, self_hosted_hours_per_week: float,
                 managed_hours_per_week: float) -> TcoEstimate:
    compute = v.non_negative("compute_monthly_usd", compute_monthly_usd)
    premium = v.non_negative("managed_premium", managed_premium)
    salary = v.non_negative("engineer_annual_usd", engineer_annual_usd)
    self_hours = v.non_negative("self_hosted_hours_per_week", self_hosted_hours_per_week)
    managed_hours = v.non_negative("managed_hours_per_week", managed_hours_per_week)

    rate = salary / WEEKS_PER_YEAR / WORK_HOURS_PER_WEEK
    self_compute = MONTHS_PER_YEAR * compute
    self_eng = self_hours * WEEKS_PER_YEAR * rate
    managed_compute = self_compute * (1 + premium)
    managed_eng = managed_hours * WEEKS_PER_YEAR * rate
    self_total, managed_total = self_compute + self_eng, managed_compute + managed_eng
    saved_eng = self_eng - managed_eng
    return TcoEstimate(
        compute_monthly_usd=compute, managed_premium=premium, engineer_annual_usd=salary,
        engineer_usd_per_hour=rate, self_hosted_hours_per_week=self_hours,
        managed_hours_per_week=managed_hours, self_hosted_compute_annual_usd=self_compute,
        self_hosted_engineering_annual_usd=self_eng, self_hosted_annual_usd=self_total,
        managed_compute_annual_usd=managed_compute, managed_engineering_annual_usd=managed_eng,
        managed_annual_usd=managed_total,
        winner="self-hosted" if self_total < managed_total else "managed",
        difference_usd=abs(managed_total - self_total),
        break_even_compute_annual_usd=saved_eng / premium if premium > 0 and saved_eng > 0
        else None)
