"""The import rule of docs/architecture.md, checked mechanically: no module imports a private
name (``_x``) or a private module from another top-level package of mlcost_sdk.

A top-level package ("room") is ``mlcost_sdk.<name>`` (runtime, sampling, catalog, costmodel,
exporters, integrations, reports, cli, ... and each module directly in mlcost_sdk/). Within a
room private names are fine. The only privates shared by every room are the root's own helper
modules in SHARED. Imports are read with ``ast`` (under TYPE_CHECKING and inside functions too).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# folder -> the package it is installed as (pyproject's package-dir)
FOLDERS = {ROOT / "src" / "mlcost_sdk": ("mlcost_sdk",),
           ROOT / "integrations": ("mlcost_sdk", "integrations"),
           ROOT / "exporters": ("mlcost_sdk", "exporters")}
# Private modules directly in mlcost_sdk/: the SDK's shared plumbing, no room's own.
SHARED = {"_validate", "_deadline", "_version"}

Module = tuple[str, ...]


def _private(part: str) -> bool:
    return part.startswith("_") and not part.startswith("__")


def _modules() -> Iterator[tuple[Path, Module, bool]]:
    """(file, its module name, whether it is a package's __init__)."""
    for folder, base in FOLDERS.items():
        for path in sorted(folder.rglob("*.py")):
            rel = path.relative_to(folder).with_suffix("").parts
            package = rel[-1] == "__init__"
            yield path, base + (rel[:-1] if package else rel), package


def _room(module: Module) -> Module:
    return module[:2]


def _owner(module: Module, name: str | None) -> Module | None:
    """The room a private module path or private name belongs to; None when public or shared."""
    full = module + ((name,) if name else ())
    for i, part in enumerate(full):
        if i and _private(part):
            if i == 1:
                return None if part in SHARED else full[:2]
            return full[:2]
    return None


def _imports(tree: ast.AST, module: Module,
             package: bool) -> Iterator[tuple[int, Module, str | None]]:
    """(line, module imported from, name imported from it or None) for every import."""
    here = module if package else module[:-1]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, tuple(alias.name.split(".")), None
        elif isinstance(node, ast.ImportFrom):
            base = here[:len(here) - node.level + 1] if node.level else ()
            target = base + (tuple(node.module.split(".")) if node.module else ())
            for alias in node.names:
                yield node.lineno, target, alias.name


def violations() -> list[str]:
    found = []
    for path, module, package in _modules():
        tree = ast.parse(path.read_text(), str(path))
        for line, target, name in _imports(tree, module, package):
            if target[:1] != ("mlcost_sdk",):
                continue
            owner = _owner(target, None) or _owner(target, name)
            if owner is not None and owner != _room(module):
                what = ".".join(target) + (f" import {name}" if name else "")
                where = f"{path.relative_to(ROOT)}:{line}"
                found.append(f"{where}: {what} (private to {'.'.join(owner)})")
    return found


def test_no_module_imports_a_private_name_from_another_package() -> None:
    found = violations()
    assert not found, "private names imported across packages:\n" + "\n".join(found)


def test_the_checker_sees_what_it_should() -> None:
    here = ("mlcost_sdk", "integrations", "openai")
    crossing = ast.parse("from mlcost_sdk.runtime._safety import x\nfrom ..runtime import _y\n"
                         "import mlcost_sdk.runtime._z\nfrom .. import _validate\n"
                         "from ._http_common import _site\n")
    owners = [_owner(t, None) or _owner(t, n) for _, t, n in _imports(crossing, here, False)]
    runtime = ("mlcost_sdk", "runtime")
    assert owners == [runtime, runtime, runtime, None, ("mlcost_sdk", "integrations")]
    assert sum(1 for _ in _modules()) > 50  # it found the code
