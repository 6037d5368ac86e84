"""What every integration shares: the framework versions it supports, checked with one clear
message, and the one internal API module integrations import the runtime through."""

from __future__ import annotations

import ast
import warnings
from collections.abc import Callable
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


def _asgi() -> object:
    from starlette.applications import Starlette

    from mlcost_sdk.integrations.asgi import MlcostASGIMiddleware
    return MlcostASGIMiddleware(Starlette())


def _lightning() -> object:
    from mlcost_sdk.integrations.lightning import MlcostCallback
    return MlcostCallback()


def _transformers() -> object:
    from mlcost_sdk.integrations.transformers import MlcostCallback
    return MlcostCallback()


def _torch() -> object:
    import torch

    from mlcost_sdk.integrations import torch as mt
    model = torch.nn.Linear(2, 2)
    return mt.instrument(model, torch.optim.SGD(model.parameters(), lr=0.1)).remove()


def _openai() -> object:
    import openai

    from mlcost_sdk.integrations.openai import instrument
    return instrument(openai.OpenAI(api_key="k", base_url="http://127.0.0.1:9/v1"),
                      input_usd_per_1k=1.0, output_usd_per_1k=1.0)


SETUPS = [pytest.param("asgi", _asgi), pytest.param("torch", _torch),
          pytest.param("openai", _openai),
          pytest.param("lightning", _lightning, marks=pytest.mark.slow),  # heavy imports
          pytest.param("transformers", _transformers, marks=pytest.mark.slow)]


@pytest.mark.parametrize(("integration", "setup"), SETUPS)
def test_each_integration_checks_its_framework_version_where_the_user_sets_it_up(
        integration: str, setup: Callable[[], object], monkeypatch: pytest.MonkeyPatch) -> None:
    dist = SUPPORTED[integration][0]
    monkeypatch.setitem(SUPPORTED, integration, (dist, "0.0.1", "0.0.2"))
    monkeypatch.setattr(_instrumentor, "_checked", set())
    with pytest.warns(RuntimeWarning, match=f"integrations.{integration} supports {dist} ") \
            as caught:
        setup()
    assert [w.filename for w in caught] == [__file__]  # the user's line, not mlcost's
