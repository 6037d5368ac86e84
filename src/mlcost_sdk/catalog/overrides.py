"""Catalog files: the bundled data and user overrides share one schema, in TOML or JSON.

    [accelerators.my-gpu]                 # add, or replace an entry with the same key
    vendor = "ACME"
    names = ["ACME X1"]                   # exactly as the driver reports it
    memory_gb = 64
    dense_tflops = { bf16 = 400, fp32 = 50 }
    source = "ACME X1 datasheet rev 2"
    date = 2026-01-15

    [instances."p5.48xlarge"]             # e.g. the price your contract really gives you
    provider = "aws"
    region = "us-east-1"
    accelerator = "h100-sxm"
    accelerator_count = 8
    usd_per_hour = 55.04
    source = "our AWS invoice"
    date = 2026-10-01

A malformed file raises CatalogError naming the file, the entry and the field, and changes nothing.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Mapping
from importlib import resources
from pathlib import Path

from ..errors import CatalogError
from ._store import Catalog, update
from .accelerators import parse_accelerator
from .instances import parse_instance, resolve_accelerator

_SECTIONS = ("accelerators", "instances")
_BUNDLED = ("accelerators.toml", "instances.toml")


def apply_document(tables: Catalog, document: object, source: str) -> None:
    """Add every entry of a parsed catalog document to ``tables`` (accelerators first)."""
    if not isinstance(document, Mapping):
        raise CatalogError(source, None, None, "must be a table with accelerators and instances")
    for section in document:
        if section not in _SECTIONS:
            raise CatalogError(source, None, str(section),
                               "unknown section (allowed: accelerators, instances)")
    accelerators = _section(document, "accelerators", source)
    instances = _section(document, "instances", source)
    for key, table in accelerators.items():
        tables.accelerators.add(parse_accelerator(source, str(key), table))
    for name, table in instances.items():
        instance = parse_instance(source, str(name), table)
        tables.instances.add(resolve_accelerator(source, instance, tables))


def _section(document: Mapping[str, object], name: str, source: str) -> Mapping[str, object]:
    section = document.get(name, {})
    if not isinstance(section, Mapping):
        raise CatalogError(source, None, name, "must be a table of entries")
    return section


def read_document(path: str | Path) -> object:
    """Parse a ``.json`` file as JSON and anything else as TOML."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
        return json.loads(text) if path.suffix.lower() == ".json" else tomllib.loads(text)
    except OSError as e:
        raise CatalogError(str(path), None, None, f"cannot be read: {e.strerror or e}") from None
    except (ValueError, UnicodeDecodeError) as e:  # JSONDecodeError and TOMLDecodeError
        kind = "JSON" if path.suffix.lower() == ".json" else "TOML"
        raise CatalogError(str(path), None, None, f"is not valid {kind}: {e}") from None


def apply_file(tables: Catalog, path: str | Path) -> None:
    apply_document(tables, read_document(path), str(path))


def apply_bundled(tables: Catalog) -> None:
    data = resources.files("mlcost_sdk.catalog") / "data"
    for name in _BUNDLED:
        text = (data / name).read_text(encoding="utf-8")
        apply_document(tables, tomllib.loads(text), f"mlcost_sdk/catalog/data/{name}")


def load_overrides(path: str | Path) -> None:
    """Add or replace catalog entries from a TOML or JSON file (all of it, or nothing)."""
    document = read_document(path)
    update(lambda tables: apply_document(tables, document, str(path)))
