"""The settings reference (src/mlcost_sdk/settings_reference.py) names every configure()
argument with the default Settings really has and every MLCOST_* variable the code reads, and
docs/configuration.md and the README show exactly it."""

from __future__ import annotations

import ast
import inspect
import re
from dataclasses import fields
from pathlib import Path

from mlcost_sdk import settings_reference as ref
from mlcost_sdk.runtime.config import Settings, configure

ROOT = Path(__file__).resolve().parents[2]
REGENERATE = "regenerate: python -m mlcost_sdk.settings_reference > docs/configuration.md"


HOW = ("add a Setting for it to src/mlcost_sdk/settings_reference.py (configure() order), then "
       "regenerate docs/configuration.md and the README's table (see the tests below)")


def test_every_configure_argument_is_in_the_reference() -> None:
    params = list(inspect.signature(configure).parameters)
    missing = [p for p in params if p not in ref.arguments()]
    assert missing == [], f"configure() arguments missing from the reference: {missing}; {HOW}"
    assert ref.arguments() == params, "the reference lists arguments configure() lacks or in " \
        "another order"


def test_defaults_are_the_settings_defaults() -> None:
    defaults = Settings()
    names = {f.name for f in fields(Settings)}
    checked = 0
    for s in ref.SETTINGS:
        if s.argument in names:
            try:
                shown = ast.literal_eval(s.default)
            except ValueError:  # e.g. SystemClock(): not a literal
                continue
            assert shown == getattr(defaults, s.argument), s.argument
            checked += 1
    assert checked >= 12


def test_every_mlcost_environment_variable_the_code_reads_is_in_the_reference() -> None:
    read = set()
    for folder in ("src", "integrations", "exporters"):
        for path in (ROOT / folder).rglob("*.py"):
            read.update(re.findall(r"\bMLCOST_[A-Z0-9_]*[A-Z0-9]\b", path.read_text()))
    missing = read - set(ref.environment_variables())
    assert missing == set(), f"variables missing from the reference: {sorted(missing)}; {HOW}"


def test_docs_configuration_is_generated_from_the_module() -> None:
    doc = (ROOT / "docs" / "configuration.md").read_text()
    assert doc == ref.render_markdown(), REGENERATE


def test_readme_shows_the_same_table() -> None:
    assert ref.render_markdown_table() in (ROOT / "README.md").read_text(), \
        "README: paste `python -c 'from mlcost_sdk import settings_reference as r; " \
        "print(r.render_markdown_table())'` into its configuration reference"
