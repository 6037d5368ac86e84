"""examples/openai_client.py runs as a new user runs it, against its own local API."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # runs an example as a new user does

EXAMPLE = Path(__file__).parents[3] / "examples" / "openai_client.py"
# as a new user runs it: no collector configured, spans to ./mlcost-spans.jsonl
ENV = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "MLCOST_"))}


def test_the_openai_example_prices_each_call(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, str(EXAMPLE), "--model", "my-llm",
                             "--usd-per-1k-in", "1.0", "--usd-per-1k-out", "2.0"],
                            cwd=tmp_path, env=ENV, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    calls = [line for line in result.stdout.splitlines() if line.startswith("  chat my-llm")]
    # the local API reports 14 input and 10 output tokens per call: 14 x $1/1k + 10 x $2/1k
    assert calls == ["  chat my-llm: 14 in, 10 out -> $0.034000 (user)"] * 3
    # the same calls in the JSONL file, so `mlcost report` shows their LLM cost
    report = subprocess.run([sys.executable, "-m", "mlcost_sdk", "report", "--json"],
                            cwd=tmp_path, env=ENV, capture_output=True, text=True, timeout=120)
    assert report.returncode == 0, report.stderr
    total = json.loads(report.stdout)["rows"][0]
    assert total["requests"] == 3 and abs(total["llm_usd"] - 3 * 0.034) < 1e-9
