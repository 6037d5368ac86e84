"""The Lightning integration: a real Trainer on a tiny LightningModule (CPU)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import lightning.pytorch as pl
import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from mlcost_sdk import conventions as c
from mlcost_sdk.integrations.lightning import MlcostCallback
from mlcost_sdk.testing import Capture
from tests.span_files import final_run_spans

REPO = Path(__file__).resolve().parents[3]
VOCAB, D, SEQ, BATCH = 64, 32, 8, 2


class TinyLM(pl.LightningModule):
    def __init__(self, fail_at: int | None = None) -> None:
        super().__init__()
        self.embed = nn.Embedding(VOCAB, D)
        self.head = nn.Linear(D, VOCAB)
        self.fail_at = fail_at

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.head(self.embed(input_ids))
        return out

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        if batch_idx == self.fail_at:
            raise RuntimeError("user bug in training_step")
        logits = self(batch["input_ids"])
        loss = nn.functional.cross_entropy(logits.reshape(-1, VOCAB),
                                           batch["input_ids"].reshape(-1), reduction="none")
        return (loss * batch["attention_mask"].reshape(-1)).mean()

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=0.1)


class PaddedRows(Dataset[dict[str, torch.Tensor]]):
    def __init__(self, n: int) -> None:
        gen = torch.Generator().manual_seed(0)
        lengths = torch.randint(1, SEQ + 1, (n, 1), generator=gen)
        self.rows = [{"input_ids": ids, "attention_mask": mask} for ids, mask in zip(
            torch.randint(0, VOCAB, (n, SEQ), generator=gen),
            (torch.arange(SEQ) < lengths).long(), strict=True)]

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return self.rows[i]


def fit(module: TinyLM, callback: MlcostCallback, rows: PaddedRows,
        max_steps: int, accumulate: int) -> pl.Trainer:
    trainer = pl.Trainer(max_steps=max_steps, accumulate_grad_batches=accumulate,
                         accelerator="cpu", devices=1, enable_checkpointing=False, logger=False,
                         enable_progress_bar=False, enable_model_summary=False,
                         callbacks=[callback])
    trainer.fit(module, DataLoader(rows, batch_size=BATCH))
    return trainer


def test_a_fit_counts_optimizer_steps_non_padding_tokens_and_measured_flops(cap: Capture) -> None:
    steps, accumulate = 3, 2
    rows = PaddedRows(steps * accumulate * BATCH)  # one epoch, in order
    callback = MlcostCallback("pl", tags={"experiment_id": "pl-1"}, window_steps=2)
    trainer = fit(TinyLM(), callback, rows, steps, accumulate)
    a = cap.span(c.KIND_TRAINING_RUN).attributes
    assert a[c.STEPS] == trainer.global_step == steps
    assert a[c.TOKENS] == sum(int(r["attention_mask"].sum()) for r in rows.rows)
    assert a[c.SAMPLES] == len(rows)
    assert a[c.FLOPS_SOURCE] == "flop_counter"
    # per micro-batch: the head's forward, weight gradient and input gradient (2 x tokens x D x V)
    assert a[c.FLOPS_TOTAL] == steps * accumulate * 3 * 2 * BATCH * SEQ * D * VOCAB
    assert [w.attributes[c.STEPS] for w in cap.spans(c.KIND_TRAINING_WINDOW)] == [2, 1]
    assert a[c.DTYPE] == "fp32"
    assert callback.run is not None and callback.run.summary.steps == steps


def test_a_failing_fit_keeps_the_users_exception_and_records_the_run(cap: Capture) -> None:
    with pytest.raises(RuntimeError, match="user bug in training_step"):
        fit(TinyLM(fail_at=3), MlcostCallback(tags={"experiment_id": "e"}), PaddedRows(16),
            max_steps=5, accumulate=1)
    span = cap.span(c.KIND_TRAINING_RUN)
    assert span.status.status_code.name == "ERROR"
    assert span.attributes[c.STEPS] == 3  # the steps before the failure


def test_the_precision_sets_the_dtype(cap: Capture) -> None:
    trainer = pl.Trainer(max_steps=1, accelerator="cpu", devices=1, precision="bf16-mixed",
                         enable_checkpointing=False, logger=False, enable_progress_bar=False,
                         enable_model_summary=False,
                         callbacks=[MlcostCallback(tags={"experiment_id": "e"})])
    trainer.fit(TinyLM(), DataLoader(PaddedRows(4), batch_size=BATCH))
    assert cap.span(c.KIND_TRAINING_RUN).attributes[c.DTYPE] == "bf16"


@pytest.mark.slow
def test_the_example_runs_as_a_new_user_runs_it(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path),
           "MLCOST_SPANS_PATH": str(tmp_path / "spans.jsonl")}
    done = subprocess.run([sys.executable, str(REPO / "examples" / "lightning_train.py"),
                           "--steps", "6"], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=180, check=False)
    assert done.returncode == 0, done.stderr
    assert "training run 'lightning-tiny'" in done.stdout and "MFU" in done.stdout
    assert len(final_run_spans(tmp_path / "spans.jsonl")) == 1
