"""The quick tier stays quick: a test that starts a process is marked ``slow``.

Read from the test sources (no test is run): a test that calls ``subprocess`` or
``sys.executable``, directly or through a helper function of its own module, must carry
``@pytest.mark.slow`` or sit in a module whose ``pytestmark`` has it (docs/testing.md)."""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parent
STARTS_A_PROCESS = ("subprocess.", "sys.executable", "Popen(")


def _marks_slow(node: ast.AST) -> bool:
    return "pytest.mark.slow" in ast.unparse(node)


def _module_is_slow(path: Path) -> bool:
    """Its ``pytestmark`` has ``slow``: assigned here, or imported from a sibling test module."""
    for n in ast.parse(path.read_text()).body:
        if isinstance(n, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "pytestmark" for t in n.targets):
            return _marks_slow(n)
        if isinstance(n, ast.ImportFrom) and n.module and any(
                a.name == "pytestmark" for a in n.names):
            base = path.parents[n.level - 1] if n.level else TESTS.parent
            return _module_is_slow(base.joinpath(*n.module.split(".")).with_suffix(".py"))
    return False


def _unmarked_process_tests(path: Path) -> list[str]:
    if _module_is_slow(path):
        return []
    tree = ast.parse(path.read_text())
    functions = {n.name: n for n in tree.body
                 if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)}
    spawning = {name for name, f in functions.items()
                if any(s in ast.unparse(f) for s in STARTS_A_PROCESS)}
    changed = True
    while changed:  # helpers that call helpers that start a process
        called = {name for name, f in functions.items() if name not in spawning and any(
            isinstance(n, ast.Name) and n.id in spawning for n in ast.walk(f))}
        spawning |= called
        changed = bool(called)
    return [f"{path.relative_to(TESTS.parent)}::{name}" for name in sorted(spawning)
            if name.startswith("test_")
            and not any(_marks_slow(d) for d in functions[name].decorator_list)]


def test_every_test_that_starts_a_process_is_slow() -> None:
    unmarked = [t for path in sorted(TESTS.rglob("test_*.py"))
                for t in _unmarked_process_tests(path)]
    assert unmarked == [], "mark these @pytest.mark.slow (they start a process):\n" + \
        "\n".join(unmarked)
