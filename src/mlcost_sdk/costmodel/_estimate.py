"""What every estimate result shares: ``as_dict()`` (the keys of ``mlcost estimate --json``) and
the old names of renamed fields and parameters, kept working as deprecated aliases.

Internal names follow one pattern (``<thing>_usd_per_hour``, ``peak_flops_per_s``,
``<thing>_monthly_usd``, docs/architecture.md); JSON keys are a contract and keep the names
they were published under, so a renamed field maps back to its old key here.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable, Mapping
from dataclasses import asdict
from typing import Any, ClassVar, TypeVar, cast

from ..errors import InvalidParameterError

F = TypeVar("F", bound=Callable[..., Any])


class Estimate:
    """Base of the frozen result dataclasses."""

    __slots__ = ()
    # field -> the JSON key it was published under, where a rename made them differ
    json_keys: ClassVar[Mapping[str, str]] = {}

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = asdict(cast(Any, self))
        if not self.json_keys:
            return data
        return {self.json_keys.get(k, k): value for k, value in data.items()}


def _deprecated(old: str, new: str, where: str) -> None:
    warnings.warn(f"{where}: {old} is deprecated, use {new}", DeprecationWarning, stacklevel=3)


def field_alias(old: str, new: str) -> Any:
    """A read-only attribute ``old`` that returns the renamed field ``new`` (and warns)."""

    def get(self: object) -> Any:
        _deprecated(old, new, type(self).__name__)
        return getattr(self, new)

    return property(get, doc=f"Deprecated alias of ``{new}``.")


def renamed_parameters(**renames: str) -> Callable[[F], F]:
    """Accept each old keyword (``old=new``) as its new name, with a DeprecationWarning; an
    error about the value names the keyword the caller used."""

    def decorate(fn: F) -> F:
        @functools.wraps(fn)
        def call(*args: Any, **kwargs: Any) -> Any:
            used = {renames[old]: old for old in renames if old in kwargs}
            for new, old in used.items():
                if new in kwargs:
                    raise InvalidParameterError(old, kwargs[old], f"given instead of {new}")
                _deprecated(old, new, f"{fn.__name__}()")
                kwargs[new] = kwargs.pop(old)
            try:
                return fn(*args, **kwargs)
            except InvalidParameterError as e:
                if e.parameter not in used:
                    raise
                raise InvalidParameterError(used[e.parameter], e.value, e.allowed) from None

        return cast(F, call)

    return decorate
