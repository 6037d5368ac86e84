"""What every integration shares: the framework versions it supports, checked with one clear
message, and the one internal API module integrations import the runtime through."""

from __future__ import annotations

import ast
import warnings
from importlib import metadata
from pathlib import Path

import pytest

from mlcost_sdk.integrations import _instrumentor
from mlcost_sdk.integrations._instrumentor import SUPPORTED, check_supported, unsupported_version

INTEGRATIONS = Path(__file__).resolve().parents[2] / "integrations"
# What an integration may take from mlcost_sdk (issue 13): everything else goes through
# mlcost_sdk.instrumentation, so the runtime can move behind it.
ALLOWED = {"mlcost_sdk", "mlcost_sdk.conventions", "mlcost_sdk.errors",
           "mlcost_sdk.instrumentation"}


@pytest.mark.parametrize("integration", sorted(SUPPORTED))
def test_the_installed_frameworks_are_inside_the_declared_ranges(integration: str) -> None:
    dist = SUPPORTED[integration][0]
    assert metadata.version(dist)  # the suite runs on it: the range must be honest about it
    assert unsupported_version(integration) is None


def test_a_version_outside_the_range_warns_once_naming_range_and_installed(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(SUPPORTED, "openai", ("openai", "99.1", "100"))
    monkeypatch.setattr(_instrumentor, "_checked", set())
    installed = metadata.version("openai")
    with pytest.warns(RuntimeWarning) as caught:
        check_supported("openai", depth=0)
    assert [str(w.message) for w in caught] == [
        f"mlcost: mlcost_sdk.integrations.openai supports openai >=99.1,<100; openai "
        f"{installed} is installed, so some costs may be missing or wrong"]
    assert caught[0].filename == __file__  # points at the caller
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_supported("openai", depth=0)  # once per process


def test_release_numbers_compare_numerically() -> None:
    assert _instrumentor._release("2.13.0+cpu") == (2, 13, 0)
    assert _instrumentor._release("4.0.0rc1") == (4, 0, 0)
    assert _instrumentor._release("1.10") > _instrumentor._release("1.9")


def test_integrations_import_mlcost_sdk_only_through_its_allowed_modules() -> None:
    offending = []
    for path in sorted(INTEGRATIONS.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else []
            offending += [f"{path.name}: {n}" for n in names
                          if n.split(".")[0] == "mlcost_sdk" and n not in ALLOWED]
    assert offending == []
