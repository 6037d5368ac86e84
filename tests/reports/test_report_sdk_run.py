"""End to end: a real tiny PyTorch training run and real inference calls through the SDK,
exported by the JSONL exporter, then `mlcost report` on the file."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

import mlcost_sdk as mlcost
from mlcost_sdk import conventions as c
from mlcost_sdk.cli import main
from mlcost_sdk.exporters.jsonl import JsonlSpanExporter
from mlcost_sdk.testing import capture
from tests.conftest import FULL_TAGS

torch = pytest.importorskip("torch")
REQUESTS = 5


def test_report_on_a_real_training_run_and_requests(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(32, 64), torch.nn.ReLU(), torch.nn.Linear(64, 4))
    params = sum(p.numel() for p in model.parameters())
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    with capture(tags=FULL_TAGS, price=3.6, sample_interval_s=0.05) as cap:
        with mlcost.training_run("tiny", params=params, window_steps=4,
                                 tags={"experiment_id": "exp-e2e"}) as run:
            for _ in range(12):
                x = torch.randn(16, 32)
                loss = torch.nn.functional.cross_entropy(model(x), torch.randint(0, 4, (16,)))
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                run.step(tokens=16, samples=16)
        for _ in range(REQUESTS):
            with mlcost.inference("predict", model="bert"), torch.no_grad():
                model(torch.randn(1, 32))
    spans = cap.spans()
    assert len(cap.spans(c.KIND_TRAINING_WINDOW)) == 3  # a breakdown the report must not add
    path = tmp_path / "mlcost-spans.jsonl"
    exporter = JsonlSpanExporter(path)
    exporter.export(spans)
    exporter.shutdown()

    def kind_cost(kind: str) -> float:
        costs = [(s.attributes or {}).get(c.COST_USD, 0.0) for s in cap.spans(kind)]
        assert all(isinstance(x, float) for x in costs)
        return math.fsum(x for x in costs if isinstance(x, float))

    assert main(["report", str(path), "--json", "--by", "experiment_id"]) == 0
    report = json.loads(capsys.readouterr().out)
    total, by_exp = report["rows"][0], {r["group"]["experiment_id"]: r for r in report["rows"][1:]}
    serving = kind_cost(c.KIND_INFERENCE) + kind_cost(c.KIND_IDLE)
    assert total["cost_usd"] == pytest.approx(kind_cost(c.KIND_TRAINING_RUN) + serving)
    assert total["requests"] == REQUESTS and total["runs"] == 1
    assert by_exp["exp-e2e"]["cost_usd"] == pytest.approx(run.summary.cost_usd)
    assert by_exp["(none)"]["cost_per_prediction_usd"] == pytest.approx(serving / REQUESTS)
    assert by_exp["exp-e2e"]["mfu"] == (pytest.approx(run.summary.mfu)
                                        if run.summary.mfu is not None else None)
    assert by_exp["exp-e2e"]["tokens"] == 12 * 16
