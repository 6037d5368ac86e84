"""What this process's hardware costs per hour: a flat price, a per-device price, or an instance."""

from __future__ import annotations

import contextlib
import sys
import warnings
from dataclasses import dataclass

from .. import _validate as v
from ..errors import ConfigError
from ..guard import OnceLog

# One text for the warning and the summary's cost row, so they never drift apart.
HOW_TO_SET_PRICE = "configure(price=...) or MLCOST_PRICE_USD_PER_HOUR or MLCOST_INSTANCE"
NO_PRICE = f"unknown — no price set ({HOW_TO_SET_PRICE})"


class NoPriceWarning(UserWarning):
    """A run or serving process started with no price: its cost is unknown (warned once)."""


_no_price = OnceLog(max_sites=1)


def warn_no_price(what: str) -> None:
    """Warn once per process that ``what`` has no price, and how to set one."""
    if not _no_price.hit("no price"):
        return
    # Swallowed if the application turned warnings into errors: telemetry never raises.
    with contextlib.suppress(Warning):
        warnings.warn(f"mlcost: {what} has no price, so its cost is unknown; set one with "
                      f"{HOW_TO_SET_PRICE}", NoPriceWarning, stacklevel=_user_stacklevel())


_unpriced_models = OnceLog(max_sites=100)


def warn_no_token_price(provider: str, model: str) -> None:
    """Warn once per (provider, model) that an LLM call has no token price, and how to give one
    (a bounded set: a process calling thousands of unknown models warns for the first 100)."""
    if not _unpriced_models.hit(f"{provider}/{model}"):
        return
    with contextlib.suppress(Warning):
        warnings.warn(f"mlcost: LLM calls to {provider}/{model} have no token price (genai-prices "
                      "does not know the model), so their cost is unknown; give one with "
                      "input_usd_per_1k= and output_usd_per_1k= (record_llm_call, llm_call or "
                      "instrument(client, ...))", NoPriceWarning, stacklevel=_user_stacklevel())


def _user_stacklevel() -> int:
    """The ``stacklevel`` that points the warning at the application's line (the first frame
    outside mlcost and contextlib), however deep in mlcost it was raised."""
    level, frame = 2, sys._getframe(2)  # 1: warn_no_price; 2: its caller
    while frame.f_back is not None and str(frame.f_globals.get("__name__", "")).startswith(
            ("mlcost_sdk", "contextlib")):
        frame, level = frame.f_back, level + 1
    return level


@dataclass(frozen=True)
class Price:
    """Give exactly one of the three.

    - ``usd_per_hour``: the whole process costs this much an hour.
    - ``usd_per_device_hour``: times the devices in use (GPUs, or CPUs on a CPU-only host).
    - ``instance``: a catalog instance name; on a GPU host the process pays the share of the
      instance's accelerators it uses (2 of an 8-GPU instance pay a quarter).
    """

    usd_per_hour: float | None = None
    usd_per_device_hour: float | None = None
    instance: str | None = None

    def __post_init__(self) -> None:
        given = [n for n in ("usd_per_hour", "usd_per_device_hour", "instance")
                 if getattr(self, n) is not None]
        if len(given) != 1:
            raise ConfigError("Price takes exactly one of usd_per_hour, usd_per_device_hour, "
                              f"instance; got {given or 'none'}")
        for name in ("usd_per_hour", "usd_per_device_hour"):
            value = getattr(self, name)
            if value is not None:
                v.non_negative(f"Price.{name}", value)
        if self.instance is not None:
            from ..catalog import require_instance

            # Checked here, not at the first run: a typo is the user's, and said so at once.
            require_instance(self.instance, "Price.instance")

    def resolve(self, hw_kind: str, hw_count: float) -> tuple[float, str]:
        """(USD per hour for this process, where the figure came from)."""
        if self.usd_per_hour is not None:
            return float(self.usd_per_hour), "user"
        if self.usd_per_device_hour is not None:
            return float(self.usd_per_device_hour) * hw_count, "user_per_device"
        from ..catalog import lookup_instance

        assert self.instance is not None
        inst = lookup_instance(self.instance)
        if inst is None:  # removed from the catalog since (reset_catalog, a new override file)
            raise ConfigError(f"Price.instance={self.instance!r} is not in the instance catalog")
        share = 1.0
        if hw_kind == "gpu" and inst.accelerator_count > 0:
            share = min(1.0, hw_count / inst.accelerator_count)
        return inst.usd_per_hour * share, f"catalog:{inst.name}"
