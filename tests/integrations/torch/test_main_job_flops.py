"""The main job (examples/train_tiny.py) reports measured FLOPs that agree with an independent
``FlopCounterMode`` count of the same step, and its formula counts N as the literature does."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

import mlcost_sdk as mlcost
from mlcost_sdk import conventions as c
from mlcost_sdk.integrations import torch as mt
from mlcost_sdk.testing import capture
from tests.conftest import FULL_TAGS

REPO = Path(__file__).resolve().parents[3]
BATCH, SEQ = 4, 32


def _main_job() -> ModuleType:
    spec = importlib.util.spec_from_file_location("train_tiny", REPO / "examples/train_tiny.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow  # the fake-tensor count of a transformer takes tens of seconds here
def test_main_job_flops_per_step_match_an_independent_flop_counter() -> None:
    job = _main_job()
    model, vocab = job.build(SEQ)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-4)
    batch = torch.randint(0, vocab, (BATCH, SEQ + 1))
    steps = 3
    with capture(price=1.0, tags={**FULL_TAGS, "experiment_id": "e"}) as cap:
        with mlcost.training_run("tiny", params=mt.non_embedding_params(model),
                                 layers=job.LAYERS, d_model=job.D_MODEL, seq_len=SEQ), \
                mt.instrument(model, opt):
            for _ in range(steps):
                job.train_step(model, opt, batch, vocab)
    attrs = cap.span(c.KIND_TRAINING_RUN).attributes
    assert attrs[c.FLOPS_SOURCE] == "flop_counter"
    sdk_per_step = attrs[c.FLOPS_TOTAL] / steps

    with FlopCounterMode(display=False) as independent:  # real tensors, the same step
        logits = model(batch[:, :-1])
        loss = nn.functional.cross_entropy(logits.reshape(-1, vocab), batch[:, 1:].reshape(-1))
        loss.backward()  # type: ignore[no-untyped-call]
    reference = independent.get_total_flops()
    assert sdk_per_step == pytest.approx(reference, rel=0.05)


def test_non_embedding_params_leave_out_embedding_tables() -> None:
    model, _ = _main_job().build(SEQ)
    total = sum(p.numel() for p in model.parameters())
    assert mt.non_embedding_params(model) == total - model.embed.weight.numel()
    tied = nn.Sequential(nn.Embedding(10, 4), nn.Linear(4, 10, bias=False))
    tied[1].weight = tied[0].weight  # a tied output head shares the table: left out with it
    assert mt.non_embedding_params(tied) == 0


def test_formula_names_itself_and_adds_palms_attention_term() -> None:
    tags = {**FULL_TAGS, "experiment_id": "e"}
    with capture(price=1.0, tags=tags, peak_flops_per_s=1e12) as cap:
        with mlcost.training_run("plain", params=1e6) as run:
            run.step(tokens=100)
        with mlcost.training_run("palm", params=1e6, layers=2, d_model=64, seq_len=100) as run:
            run.step(tokens=100)
    spans = {s.name: s.attributes for s in cap.spans(c.KIND_TRAINING_RUN)}
    assert spans["plain"][c.FLOPS_SOURCE] == "formula_6nd"
    assert spans["plain"][c.FLOPS_TOTAL] == 6e6 * 100
    assert spans["palm"][c.FLOPS_SOURCE] == "formula_6nd_attn"
    assert spans["palm"][c.FLOPS_TOTAL] == (6e6 + 12 * 2 * 64 * 100) * 100
    with pytest.raises(mlcost.InvalidParameterError, match="layers"):
        mlcost.training_run("half", params=1e6, layers=2)


def test_the_torch_integration_supplies_n_from_the_module() -> None:
    model = nn.Sequential(nn.Embedding(100, 8), nn.Linear(8, 8))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with capture(price=1.0, tags={**FULL_TAGS, "experiment_id": "e"}) as cap:
        with mlcost.training_run("t") as run, mt.instrument(model, opt, count_flops=False):
            model(torch.randint(0, 100, (2, 5))).sum().backward()
            opt.step()
    attrs = cap.span(c.KIND_TRAINING_RUN).attributes
    assert attrs[c.FLOPS_SOURCE] == "formula_6nd"
    assert attrs[c.FLOPS_TOTAL] == 6 * (8 * 8 + 8) * 10  # 10 tokens; the table is not N
    assert run.summary.flops_source == "formula_6nd"
