"""A dated snapshot of on-demand $/hour for common cloud GPU instances.

List prices change (AWS cut P4 and P5 prices in June 2025, for example) and differ by region and
contract: every entry says where and when its price was taken, and an override file or
:func:`register_instance` replaces it with the price you actually pay.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from .._validate import did_you_mean
from ..errors import CatalogError, InvalidParameterError
from ._fields import EntryReader
from ._store import Catalog, catalog, update

_FIELDS = ("provider", "region", "accelerator", "accelerator_count", "usd_per_hour", "aliases",
           "source", "date", "note")


@dataclass(frozen=True)
class Instance:
    name: str  # the provider's instance type, e.g. "p4d.24xlarge"
    provider: str  # aws, gcp, azure
    region: str
    accelerator: str  # key of an accelerator catalog entry
    accelerator_count: int
    usd_per_hour: float  # on-demand list price, whole instance
    source: str
    date: str  # ISO date of the price
    aliases: tuple[str, ...] = ()
    note: str | None = None

    @property
    def usd_per_accelerator_hour(self) -> float:
        return self.usd_per_hour / self.accelerator_count

    def lookup_names(self) -> tuple[str, ...]:
        return (self.name, *self.aliases)


def parse_instance(source: str, name: str, table: object) -> Instance:
    r = EntryReader(source, name, table)
    r.only(_FIELDS)
    return Instance(
        name=name, provider=r.string("provider"), region=r.string("region"),
        accelerator=r.string("accelerator"), accelerator_count=r.whole("accelerator_count"),
        usd_per_hour=r.positive("usd_per_hour"), source=r.string("source"), date=r.date("date"),
        aliases=r.strings("aliases"), note=r.optional_string("note"))


def lookup_instance(name: str) -> Instance | None:
    """The instance named exactly ``name`` (case-insensitive); None when unknown."""
    return catalog().instances.get(name)


def require_instance(name: str, parameter: str = "instance") -> Instance:
    """Like :func:`lookup_instance`, but an unknown name is an InvalidParameterError."""
    instance = lookup_instance(name) if isinstance(name, str) else None
    if instance is None:
        known = sorted(i.name for i in catalog().instances)
        raise InvalidParameterError(parameter, name, "an instance in the catalog ("
                                    + ", ".join(known) + ") or one added by an override"
                                    + did_you_mean(name, known))
    return instance


def register_instance(name: str, **fields: Any) -> Instance:
    """Add or replace an instance; ``fields`` are those of a catalog file entry.

    ``register_instance("my-node", provider="onprem", region="lab", accelerator="h100-sxm",
    accelerator_count=8, usd_per_hour=40.0, source="internal chargeback", date="2026-01-01")``
    """
    source = "register_instance()"
    instance = resolve_accelerator(source, parse_instance(source, name, fields), catalog())
    update(lambda tables: tables.instances.add(instance))
    return instance


def resolve_accelerator(source: str, instance: Instance, tables: Catalog) -> Instance:
    """The instance with its accelerator named by catalog key; an unknown one is an error."""
    accelerator = tables.accelerators.get(instance.accelerator)
    if accelerator is None:
        raise CatalogError(source, instance.name, "accelerator",
                           f"unknown accelerator {instance.accelerator!r}")
    return replace(instance, accelerator=accelerator.key)


def all_instances() -> list[Instance]:
    return list(catalog().instances)
