"""The streaming reader gives what the reader that held every record gave: the outputs of
golden_cases.CASES on the fleet, kept in golden/ from before the change (numbers to 1e-9)."""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path
from typing import Any

import pytest

from mlcost_sdk.cli import main

from .fleet import write_fleet
from .golden_cases import CASES, normalize

GOLDEN = Path(__file__).parent / "golden"


def _close(got: Any, want: Any, where: str) -> None:
    """Equal, numbers to 1e-9 relative (sums in another order differ in the last bits)."""
    if isinstance(want, float | int) and not isinstance(want, bool) \
            and isinstance(got, float | int) and not isinstance(got, bool):
        assert math.isclose(got, want, rel_tol=1e-9, abs_tol=1e-12), where
    elif isinstance(want, dict):
        assert isinstance(got, dict) and list(got) == list(want), where
        for k in want:
            _close(got[k], want[k], f"{where}.{k}")
    elif isinstance(want, list):
        assert isinstance(got, list) and len(got) == len(want), where
        for i, (g, w) in enumerate(zip(got, want, strict=True)):
            _close(g, w, f"{where}[{i}]")
    else:
        assert got == want, where


def _cells(text: str) -> list[list[Any]]:
    def cell(x: str) -> Any:
        try:
            return float(x)
        except ValueError:
            return x
    return [[cell(x) for x in row] for row in csv.reader(io.StringIO(text))]


@pytest.fixture(scope="module")
def fleet_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("fleet") / "mlcost-spans.jsonl"
    write_fleet(path)
    return path


@pytest.mark.parametrize("name", sorted(CASES))
def test_streaming_report_equals_the_old_one(name: str, fleet_file: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    command, *flags = CASES[name]
    assert main([command, str(fleet_file), *flags]) == 0
    got = normalize(capsys.readouterr().out, str(fleet_file))
    want = (GOLDEN / name).read_text()
    if name.endswith(".json"):
        _close(json.loads(got), json.loads(want), name)
    elif name.endswith(".csv"):
        _close(_cells(got), _cells(want), name)
    else:
        assert got == want
