"""Range checks shared by the cost model, the runtime and the exporters: one typed error that
names the parameter and its allowed range."""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterable
from numbers import Real

from .errors import InvalidParameterError


def _real(name: str, value: object, allowed: str) -> float:
    # bool is an int subclass: True as "1 GPU" is a bug in the caller, not a number.
    if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(value):
        raise InvalidParameterError(name, value, allowed)
    return float(value)


def positive(name: str, value: object) -> float:
    """A finite number > 0."""
    allowed = "a finite number > 0"
    number = _real(name, value, allowed)
    if number <= 0:
        raise InvalidParameterError(name, value, allowed)
    return number


def non_negative(name: str, value: object) -> float:
    """A finite number >= 0."""
    allowed = "a finite number >= 0"
    number = _real(name, value, allowed)
    if number < 0:
        raise InvalidParameterError(name, value, allowed)
    return number


def fraction(name: str, value: object, *, zero: bool = False, one: bool = True) -> float:
    """A number between 0 and 1; ``zero``/``one`` say whether each end is allowed."""
    allowed = f"a number in {'[' if zero else '('}0, 1{']' if one else ')'}"
    number = _real(name, value, allowed)
    if number < 0 or number > 1 or (number == 0 and not zero) or (number == 1 and not one):
        raise InvalidParameterError(name, value, allowed)
    return number


def count(name: str, value: object, *, minimum: int = 1) -> int:
    """A whole number >= ``minimum`` (an integral float such as 8.0 is accepted)."""
    allowed = f"a whole number >= {minimum}"
    number = _real(name, value, allowed)
    if not number.is_integer() or number < minimum:
        raise InvalidParameterError(name, value, allowed)
    return int(number)


def in_range(name: str, value: object, low: float, high: float, unit: str = "") -> float:
    """A finite number in [low, high]."""
    allowed = f"between {low:g} and {high:g}{' ' + unit if unit else ''}"
    number = _real(name, value, allowed)
    if not low <= number <= high:
        raise InvalidParameterError(name, value, allowed)
    return number


def did_you_mean(value: object, choices: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest valid names, or an empty string."""
    names = list(choices)
    close = difflib.get_close_matches(str(value).strip().lower(), [n.lower() for n in names],
                                      n=2, cutoff=0.6)
    by_lower = {n.lower(): n for n in names}
    return f" (did you mean {' or '.join(repr(by_lower[c]) for c in close)}?)" if close else ""


def choice(name: str, value: object, choices: Iterable[str], what: str = "one of") -> str:
    """``value`` when it is one of ``choices`` (exactly); else the typed error, with the
    closest names."""
    names = list(choices)
    if isinstance(value, str) and value in names:
        return value
    raise InvalidParameterError(name, value, f"{what} {', '.join(names)}"
                                + did_you_mean(value, names))
