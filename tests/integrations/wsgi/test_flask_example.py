"""examples/flask_server.py runs as a new user runs it, and its spans say what it served."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from mlcost_sdk import conventions as c

pytestmark = pytest.mark.slow  # runs an example as a new user does

EXAMPLE = Path(__file__).parents[3] / "examples" / "flask_server.py"
# as a new user runs it: no collector configured, spans to ./mlcost-spans.jsonl
ENV = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "MLCOST_"))}


def test_the_flask_example_serves_costs_and_summarizes(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, str(EXAMPLE), "--usd-per-hour", "2.0"],
                            cwd=tmp_path, env=ENV, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("-> 200") == 3
    summary = result.stderr[result.stderr.index("mlcost: inference"):]  # printed at exit
    assert re.search(r"requests\s+│ 3 ", summary), summary
    assert "cost per prediction" in summary
    records = [json.loads(line) for line in (tmp_path / "mlcost-spans.jsonl").open()]
    routes = sorted(r["attributes"][c.HTTP_ROUTE] for r in records
                    if r["attributes"].get(c.KIND) == c.KIND_INFERENCE)
    assert routes == ["/generate/<int:n_tokens>", "/score/<text>", "/score/<text>"]
