from __future__ import annotations

import re
from pathlib import Path

from mlcost_sdk import conventions

ROOT = Path(__file__).resolve().parents[2]


def test_docs_conventions_is_generated_from_the_module() -> None:
    doc = (ROOT / "docs" / "conventions.md").read_text()
    assert doc == conventions.render_markdown(), \
        "regenerate: python -m mlcost_sdk.conventions > docs/conventions.md"


def test_no_mlcost_attribute_name_is_spelled_outside_the_conventions_module() -> None:
    pattern = re.compile(r"""["']mlcost\.(kind|cost|tag|hw|mfu|flops|run|throughput|"""
                         r"""utilization|energy|tokens|samples|steps)[\w.]*["']""")
    offenders = []
    for folder in ("src/mlcost_sdk", "integrations", "exporters"):
        for path in (ROOT / folder).rglob("*.py"):
            if path.name == "conventions.py":
                continue
            for lineno, line in enumerate(path.read_text().splitlines(), 1):
                if pattern.search(line):
                    offenders.append(f"{path.relative_to(ROOT)}:{lineno}: {line.strip()}")
    assert not offenders, "\n".join(offenders)
