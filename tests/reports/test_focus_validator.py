"""The FOCUS export against the FinOps Foundation's own validator (focus-validator 2.2.1, FOCUS
1.2 rules), on a real export of a real SDK run: no failed mandatory (MUST, "-M") rule."""

from __future__ import annotations

import csv
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from mlcost_sdk.cli import main

from . import focus_validator

pytestmark = [pytest.mark.slow, pytest.mark.backend]

_RUN = """
    import mlcost_sdk as mlcost
    mlcost.configure(service_name="focus-demo", exporters=["jsonl"],
                     price=mlcost.Price(usd_per_hour=3.0),
                     tags={"team": "t", "product": "feed", "model": "m",
                           "environment": "production", "cost_center": "cc-1", "owner": "o"})
    with mlcost.training_run("r", tags={"experiment_id": "e"}) as run:
        for _ in range(3):
            run.step(tokens=10)
    with mlcost.inference("predict"):
        pass
    for model in ("claude-3-5-sonnet-20241022", "claude-sonnet-4-20250514"):
        mlcost.record_llm_call(provider="anthropic", model=model, input_tokens=100,
                               output_tokens=20)
    mlcost.flush()
"""


def test_a_real_export_passes_every_mandatory_rule_of_focus_1_2(tmp_path: Path) -> None:
    try:
        focus_validator.ensure()
    except focus_validator.Unreachable as exc:
        pytest.skip(f"package registry unreachable, focus-validator not installed: {exc}")
    spans = tmp_path / "spans.jsonl"
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(_RUN)], cwd=tmp_path,
                          env={"MLCOST_SPANS_PATH": str(spans), "PATH": "/usr/bin:/bin"},
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    out = tmp_path / "focus.csv"
    assert main(["report", str(spans), "--format", "focus", "-o", str(out)]) == 0
    rows = list(csv.DictReader(out.open()))
    llm = {r["ResourceId"] for r in rows if r["x_CostKind"] == "llm_call"}
    assert llm == {"mlcost/llm/anthropic/claude-3-5-sonnet-20241022",
                   "mlcost/llm/anthropic/claude-sonnet-4-20250514"}  # not merged under "m"
    assert {r["x_FocusVersion"] for r in rows} == {"1.2"}
    report = focus_validator.validate(out)
    total = re.search(r"Total: (\d+) \| Pass: (\d+) \| Fail: (\d+)", report)
    assert total is not None, report[-3000:]
    assert int(total.group(1)) > 500  # the 1.2 rule set really ran
    failed = re.findall(r"^❌ (\S+): FAIL", report, flags=re.MULTILINE)
    assert [rule for rule in failed if rule.endswith("-M")] == [], report[-6000:]
