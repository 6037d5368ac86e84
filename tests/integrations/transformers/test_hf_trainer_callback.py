"""The Hugging Face integration: a real Trainer on a tiny GPT-2 with random weights (CPU)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch
from torch._subclasses.fake_tensor import FakeTensor
from torch.utils.flop_counter import FlopCounterMode

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # before transformers is imported: no hub, ever
from transformers import GPT2Config, GPT2LMHeadModel, Trainer, TrainingArguments  # noqa: E402

import mlcost_sdk as mlcost  # noqa: E402
from mlcost_sdk import conventions as c  # noqa: E402
from mlcost_sdk.integrations.transformers import MlcostCallback  # noqa: E402
from mlcost_sdk.testing import Capture  # noqa: E402
from tests.span_files import final_run_spans

pytestmark = pytest.mark.slow  # every test trains a real model

REPO = Path(__file__).resolve().parents[3]
SEQ, VOCAB, BATCH, ACCUMULATE, STEPS = 16, 128, 2, 2, 3


@pytest.fixture(autouse=True)
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


def tiny_gpt2(cls: type[GPT2LMHeadModel] = GPT2LMHeadModel) -> GPT2LMHeadModel:
    torch.manual_seed(0)
    return cls(GPT2Config(n_layer=2, n_embd=64, n_head=4, vocab_size=VOCAB, n_positions=SEQ,
                          bos_token_id=0, eos_token_id=0, pad_token_id=0))


def padded_rows(n: int) -> list[dict[str, torch.Tensor]]:
    gen = torch.Generator().manual_seed(1)
    rows = []
    for _ in range(n):
        mask = (torch.arange(SEQ) < int(torch.randint(3, SEQ + 1, (1,), generator=gen))).long()
        ids = torch.randint(1, VOCAB, (SEQ,), generator=gen) * mask
        rows.append({"input_ids": ids, "attention_mask": mask,
                     "labels": ids.masked_fill(mask == 0, -100)})
    return rows


def train(model: GPT2LMHeadModel, callback: MlcostCallback, tmp_path: Path,
          rows: list[dict[str, torch.Tensor]]) -> Trainer:
    args = TrainingArguments(output_dir=str(tmp_path), max_steps=STEPS,
                             per_device_train_batch_size=BATCH,
                             gradient_accumulation_steps=ACCUMULATE, report_to="none",
                             use_cpu=True, save_strategy="no", logging_strategy="no",
                             disable_tqdm=True)
    trainer = Trainer(model=model, args=args, train_dataset=rows, callbacks=[callback])
    trainer.train()
    return trainer


def real_step_flops(model: GPT2LMHeadModel, row: dict[str, torch.Tensor]) -> int:
    """An independent count: the real model's forward and backward on one micro-batch."""
    batch = {k: torch.stack([v] * BATCH) for k, v in row.items()}
    with FlopCounterMode(display=False) as counter:
        model(**batch).loss.backward()
    model.zero_grad()
    return int(counter.get_total_flops())


def test_a_trainer_run_counts_optimizer_steps_non_padding_tokens_and_measured_flops(
        cap: Capture, tmp_path: Path) -> None:
    # exactly one epoch (3 steps x 2 micro-batches x 2 rows): every row is seen once, any order
    rows = padded_rows(STEPS * ACCUMULATE * BATCH)
    model = tiny_gpt2()
    callback = MlcostCallback("hf", tags={"experiment_id": "hf-1"}, window_steps=2)
    trainer = train(model, callback, tmp_path, rows)
    a = cap.span(c.KIND_TRAINING_RUN).attributes
    assert a[c.STEPS] == trainer.state.global_step == STEPS
    assert a[c.TOKENS] == sum(int(r["attention_mask"].sum()) for r in rows)
    assert a[c.SAMPLES] == len(rows)
    assert a[c.FLOPS_SOURCE] == "flop_counter"
    assert a[c.FLOPS_TOTAL] == STEPS * ACCUMULATE * real_step_flops(model, rows[0])
    assert [w.attributes[c.STEPS] for w in cap.spans(c.KIND_TRAINING_WINDOW)] == [2, 1]
    assert a[c.RUN_NAME] == "hf" and a[c.TAG_PREFIX + "experiment_id"] == "hf-1"
    assert callback.run is not None and callback.run.summary.steps == STEPS


def test_the_callback_meters_a_run_the_user_opened(cap: Capture, tmp_path: Path) -> None:
    rows = padded_rows(STEPS * ACCUMULATE * BATCH)
    with mlcost.training_run("mine", tags={"experiment_id": "e"}) as run:
        train(tiny_gpt2(), MlcostCallback(), tmp_path, rows)
        assert cap.spans(c.KIND_TRAINING_RUN) == []  # the callback did not end the user's run
    assert run.summary.steps == STEPS
    assert cap.span(c.KIND_TRAINING_RUN).attributes[c.RUN_NAME] == "mine"


class PeekingGPT2(GPT2LMHeadModel):  # type: ignore[no-untyped-call]
    """Reads a token id's value in forward: fake tensors cannot run it."""

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None,
                labels: torch.Tensor | None = None, **kwargs: Any) -> Any:
        if int(input_ids.max()) < 0:
            raise AssertionError("unreachable")
        return super().forward(input_ids=input_ids, attention_mask=attention_mask,
                               labels=labels, **kwargs)


def test_a_model_the_counter_cannot_run_falls_back_to_the_trainers_formula(
        cap: Capture, tmp_path: Path) -> None:
    rows = padded_rows(STEPS * ACCUMULATE * BATCH)
    model = tiny_gpt2(PeekingGPT2)
    train(model, MlcostCallback(tags={"experiment_id": "e"}), tmp_path, rows)
    a = cap.span(c.KIND_TRAINING_RUN).attributes
    assert a[c.FLOPS_SOURCE] == "formula_6nd"
    # Trainer.floating_point_ops: 6 x token ids (padding included) x non-embedding parameters
    expected = 6 * len(rows) * SEQ * model.num_parameters(exclude_embeddings=True)
    assert a[c.FLOPS_TOTAL] == expected


class FailingGPT2(PeekingGPT2):  # type: ignore[no-untyped-call]
    fail = True

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None,
                labels: torch.Tensor | None = None, **kwargs: Any) -> Any:
        if self.fail and not isinstance(input_ids, FakeTensor):
            raise ValueError("user bug")
        return super().forward(input_ids, attention_mask, labels, **kwargs)


def test_a_train_that_raised_is_ended_as_failed_by_the_next_one(
        cap: Capture, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rows = padded_rows(STEPS * ACCUMULATE * BATCH)
    model, callback = tiny_gpt2(FailingGPT2), MlcostCallback(tags={"experiment_id": "e"})
    with pytest.raises(ValueError, match="user bug"):
        train(model, callback, tmp_path, rows)
    assert mlcost.current_run() is not None  # the Trainer has no hook for exceptions
    monkeypatch.setattr(FailingGPT2, "fail", False)
    train(model, callback, tmp_path, rows)
    failed, ok = cap.spans(c.KIND_TRAINING_RUN)
    assert failed.status.status_code.name == "ERROR" and failed.attributes[c.STEPS] == 0
    assert ok.attributes[c.STEPS] == STEPS
    assert ok.attributes[c.RUN_ID] != failed.attributes[c.RUN_ID]
    assert mlcost.current_run() is None


def test_the_example_runs_as_a_new_user_runs_it(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "HF_HUB_OFFLINE": "1",
           "MLCOST_SPANS_PATH": str(tmp_path / "spans.jsonl")}
    done = subprocess.run([sys.executable, str(REPO / "examples" / "hf_trainer.py"),
                           "--steps", "4"], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=180, check=False)
    assert done.returncode == 0, done.stderr
    assert "training run 'hf-tiny-gpt2'" in done.stdout and "MFU" in done.stdout
    assert len(final_run_spans(tmp_path / "spans.jsonl")) == 1
