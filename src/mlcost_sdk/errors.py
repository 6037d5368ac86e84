"""The SDK's typed errors. Bad input gets one of these, naming the field; nothing else escapes."""

from __future__ import annotations

from typing import Any


class MlcostError(Exception):
    """Base class of every error mlcost-sdk raises on purpose."""


class InvalidParameterError(MlcostError, ValueError):
    """A parameter is out of its allowed range: the message names both."""

    def __init__(self, parameter: str, value: Any, allowed: str) -> None:
        self.parameter = parameter
        self.value = value
        self.allowed = allowed
        super().__init__(f"{parameter}={value!r} is invalid: must be {allowed}")


class CatalogError(MlcostError, ValueError):
    """A price or device catalog (bundled or an override file) is malformed."""

    def __init__(self, source: str, entry: str | None, field: str | None, problem: str) -> None:
        self.source = source
        self.entry = entry
        self.field = field
        where = source + (f": entry {entry!r}" if entry else "")
        where += f", field {field!r}" if field else ""
        super().__init__(f"{where}: {problem}")


class ConfigError(MlcostError, ValueError):
    """configure() or a wrapper was given something it cannot use."""


class TagError(ConfigError):
    """A tag key or value is invalid, or a required tag is missing."""


class BudgetExceeded(MlcostError):
    """A run's spend or projected cost crossed its budget (raised only when asked to)."""

    def __init__(self, budget_usd: float, spent_usd: float, projected_usd: float | None) -> None:
        self.budget_usd = budget_usd
        self.spent_usd = spent_usd
        self.projected_usd = projected_usd
        proj = f", projected ${projected_usd:,.4f}" if projected_usd is not None else ""
        super().__init__(f"budget ${budget_usd:,.4f} exceeded: spent ${spent_usd:,.4f}{proj}")
