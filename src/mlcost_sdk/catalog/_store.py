"""The loaded catalog: bundled data, then the ``MLCOST_CATALOG`` file, then code registrations.

Nothing is read at import time. The first lookup loads the bundled TOML files and the override
file named by ``MLCOST_CATALOG`` (if set) under a lock, and the result is kept for the process.
Changes are made to a copy that is then published whole, so lookups need no lock.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Generic, TypeVar

if TYPE_CHECKING:
    from .accelerators import Accelerator
    from .instances import Instance

ENV_VAR = "MLCOST_CATALOG"
E = TypeVar("E")


def normalize(name: str) -> str:
    """Exact matching, forgiving only case and runs of whitespace."""
    return " ".join(name.split()).casefold()


class Table(Generic[E]):
    """Entries by key, findable by any of their names; a later entry replaces an earlier one."""

    def __init__(self, names_of: Callable[[E], tuple[str, ...]]) -> None:
        self._names_of = names_of
        self._entries: dict[str, E] = {}
        self._index: dict[str, str] = {}  # normalized name -> key

    def add(self, entry: E) -> None:
        names = self._names_of(entry)
        key = names[0]
        if (old := self._entries.get(key)) is not None:
            for name in self._names_of(old):
                if self._index.get(normalize(name)) == key:
                    del self._index[normalize(name)]
        self._entries[key] = entry
        for name in names:
            self._index[normalize(name)] = key  # an override takes the name over

    def get(self, name: str) -> E | None:
        key = self._index.get(normalize(name))
        return None if key is None else self._entries[key]

    def __iter__(self) -> Iterator[E]:
        return iter(list(self._entries.values()))

    def copy(self) -> Table[E]:
        twin = Table(self._names_of)
        twin._entries, twin._index = dict(self._entries), dict(self._index)
        return twin


@dataclass
class Catalog:
    accelerators: Table[Accelerator] = field(
        default_factory=lambda: Table(lambda a: a.lookup_names()))
    instances: Table[Instance] = field(default_factory=lambda: Table(lambda i: i.lookup_names()))

    def copy(self) -> Catalog:
        return Catalog(self.accelerators.copy(), self.instances.copy())


_lock = threading.RLock()
_catalog: Catalog | None = None


def catalog() -> Catalog:
    """The process catalog, loaded on first use; a broken override file raises CatalogError."""
    global _catalog
    if _catalog is not None:
        return _catalog
    with _lock:
        if _catalog is None:
            from .overrides import apply_bundled, apply_file

            loaded = Catalog()
            apply_bundled(loaded)
            path = os.environ.get(ENV_VAR, "").strip()
            if path:
                apply_file(loaded, path)
            _catalog = loaded  # only a fully loaded catalog is kept: a bad file fails every time
        return _catalog



def check_catalog() -> None:
    """Load the catalog now: a broken override file (``MLCOST_CATALOG``) raises CatalogError
    here rather than at the first lookup."""
    catalog()

def _after_fork_in_child() -> None:
    global _lock
    _lock = threading.RLock()


os.register_at_fork(after_in_child=_after_fork_in_child)


def update(change: Callable[[Catalog], None]) -> None:
    """Apply ``change`` to a copy and publish it: readers never see a half-applied change."""
    global _catalog
    with _lock:
        staged = catalog().copy()
        change(staged)
        _catalog = staged


def reset_catalog() -> None:
    """Forget code registrations and loaded files; the next lookup reloads (and rereads the env)."""
    global _catalog
    with _lock:
        _catalog = None
