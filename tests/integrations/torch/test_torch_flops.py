"""The PyTorch integration on real PyTorch (CPU): measured FLOPs, metering, dtype, safety."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn
from torch.utils._python_dispatch import _get_current_dispatch_mode_stack

import mlcost_sdk as mlcost
from mlcost_sdk import conventions as c
from mlcost_sdk.integrations import torch as mt
from mlcost_sdk.runtime.clock import ManualClock
from mlcost_sdk.testing import Capture, capture
from tests.conftest import FULL_TAGS
from tests.span_files import final_run_spans

EXP = {"experiment_id": "exp-1"}
REPO = Path(__file__).resolve().parents[3]


def mlp() -> nn.Sequential:
    return nn.Sequential(nn.Linear(32, 64), nn.ReLU(), nn.Linear(64, 16))


def linear_flops(batch: int, *layers: tuple[int, int]) -> int:
    """2 x batch x in x out per Linear: one multiply and one add per weight and row."""
    return sum(2 * batch * fan_in * fan_out for fan_in, fan_out in layers)


# ---- FLOPs ---------------------------------------------------------------------------------------
def test_mlp_flops_match_the_analytic_count() -> None:
    batch = 8
    forward = linear_flops(batch, (32, 64), (64, 16))
    assert mt.FlopCounter(mlp(), backward=False)(torch.randn(batch, 32)) == forward
    # Backward: every weight gradient costs its forward again; input gradients cost it once more,
    # except the first layer's (the input needs no gradient, so autograd skips it).
    backward = forward + linear_flops(batch, (64, 16))
    assert mt.FlopCounter(mlp())(torch.randn(batch, 32)) == forward + backward


def test_flops_are_three_times_forward_when_every_input_needs_a_gradient() -> None:
    # An embedding in front: every Linear's input is an activation that needs a gradient.
    model = nn.Sequential(nn.Embedding(100, 32), nn.Linear(32, 64), nn.ReLU(), nn.Linear(64, 16))
    ids = torch.randint(0, 100, (4, 10))
    forward = linear_flops(4 * 10, (32, 64), (64, 16))
    assert mt.FlopCounter(model)(ids) == 3 * forward


def test_counts_are_cached_per_input_shape() -> None:
    counter = mt.FlopCounter(mlp())
    first = counter(torch.randn(8, 32))
    for _ in range(5):
        assert counter(torch.randn(8, 32)) == first
    assert counter.measurements == 1
    assert counter(torch.randn(16, 32)) == 2 * first  # a new shape is measured once more
    assert counter.measurements == 2
    model = mlp()
    counter = mt.FlopCounter(model)
    counter(torch.randn(8, 32))
    model.eval()  # train/eval can take different paths: a new signature
    counter(torch.randn(8, 32))
    assert counter.measurements == 2


class Recorder(nn.Module):
    """Remembers, for each forward, whether its input was real and which dispatch modes were on."""

    def __init__(self) -> None:
        super().__init__()
        self.inner = mlp()
        self.seen: list[tuple[bool, int]] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        from torch._subclasses.fake_tensor import FakeTensor

        self.seen.append((not isinstance(x, FakeTensor), len(_get_current_dispatch_mode_stack())))
        out: torch.Tensor = self.inner(x)
        return out


def test_the_flop_counter_is_never_active_in_the_training_loop(cap: Capture) -> None:
    model = Recorder()
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    with mlcost.training_run("t", tags=EXP) as run, mt.instrument(model, opt):
        for _ in range(6):
            model(torch.randn(8, 32)).sum().backward()
            opt.step()
            opt.zero_grad()
    real = [modes for is_real, modes in model.seen if is_real]
    fake = [modes for is_real, modes in model.seen if not is_real]
    assert real == [0] * 6  # no dispatch mode (no FlopCounterMode) around any real forward
    assert len(fake) == 1 and fake[0] >= 1  # one measurement, on fake tensors, under the counter
    assert run.summary.flops_source == "flop_counter"


# ---- instrument(): steps, tokens, FLOPs ----------------------------------------------------------
class TokenModel(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Embedding(50, 16)
        self.head = nn.Linear(16, 50)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.head(self.embed(input_ids) * attention_mask.unsqueeze(-1))
        return out


def padded_batch(gen: torch.Generator, batch: int = 4, seq: int = 12) -> dict[str, torch.Tensor]:
    lengths = torch.randint(1, seq + 1, (batch, 1), generator=gen)
    return {"input_ids": torch.randint(0, 50, (batch, seq), generator=gen),
            "attention_mask": (torch.arange(seq) < lengths).long()}


def test_optimizer_steps_are_training_steps_with_accumulated_tokens_and_flops(cap: Capture) -> None:
    model = TokenModel()
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    gen = torch.Generator().manual_seed(0)
    tokens = samples = 0
    with mlcost.training_run("t", tags=EXP, window_steps=2) as run, mt.instrument(model, opt):
        for _ in range(3):
            for _ in range(4):  # gradient accumulation: 4 micro-batches per optimizer step
                batch = padded_batch(gen)
                tokens += int(batch["attention_mask"].sum())
                samples += 4
                model(**batch).sum().backward()
            opt.step()
            opt.zero_grad()
        model.eval()
        with torch.no_grad():  # evaluation: neither tokens nor FLOPs of training
            model(**padded_batch(gen))
        model.train()
        model(**padded_batch(gen)).sum().backward()  # a micro-batch without a step: not counted
    a = cap.span(c.KIND_TRAINING_RUN).attributes
    assert a[c.STEPS] == 3
    assert a[c.TOKENS] == tokens  # non-padding tokens, counted from the attention masks
    assert a[c.SAMPLES] == samples
    assert a[c.FLOPS_SOURCE] == "flop_counter"
    # per micro-batch: the head's forward, its weight gradient and its input gradient
    assert a[c.FLOPS_TOTAL] == 12 * 3 * linear_flops(4 * 12, (16, 50))
    assert [w.attributes[c.STEPS] for w in cap.spans(c.KIND_TRAINING_WINDOW)] == [2, 1]
    assert run.summary.tokens == tokens


def test_custom_counters_and_run_none_meter_the_current_run(cap: Capture) -> None:
    model = mlp()
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    inst = mt.instrument(model, opt, tokens_from=lambda x: 100, samples_from=lambda x: 1,
                         count_flops=False)
    opt.step()  # no run yet: nothing to meter, nothing raised
    for name in ("first", "second"):
        with mlcost.training_run(name, tags=EXP, params=1000):
            model(torch.randn(2, 32)).sum().backward()
            opt.step()
    inst.remove()
    runs = {s.attributes[c.RUN_NAME]: s.attributes for s in cap.spans(c.KIND_TRAINING_RUN)}
    assert [runs[n][c.TOKENS] for n in ("first", "second")] == [100, 100]
    assert runs["first"][c.FLOPS_SOURCE] == "formula_6nd"  # no counter: the run keeps its own


def test_instrumenting_again_warns_and_changes_nothing_and_remove_stops(cap: Capture) -> None:
    model = mlp()
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    with mlcost.training_run("t", tags=EXP) as run:
        inst = mt.instrument(model, opt)
        with pytest.warns(RuntimeWarning, match="already instrumented"):
            assert mt.instrument(model, opt, tokens_from=lambda x: 999) is inst  # no new hooks
        model(torch.randn(2, 32)).sum().backward()
        opt.step()
        inst.remove()
        model(torch.randn(2, 32)).sum().backward()
        opt.step()  # no longer metered
    assert run.summary.steps == 1 and run.summary.samples == 2


def test_uninstrument_undoes_and_warns_when_there_is_nothing_to_undo(cap: Capture) -> None:
    model = mlp()
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    with mlcost.training_run("t", tags=EXP) as run:
        mt.instrument(model, opt)
        model(torch.randn(2, 32)).sum().backward()
        opt.step()
        mt.uninstrument(model)
        with pytest.warns(RuntimeWarning, match="not instrumented"):
            mt.uninstrument(model)
        model(torch.randn(2, 32)).sum().backward()
        opt.step()  # no longer metered
        with mt.instrument(model, opt):  # instrumentable anew, without a warning
            model(torch.randn(3, 32)).sum().backward()
            opt.step()
    assert run.summary.steps == 2 and run.summary.samples == 5


class Peeking(nn.Module):
    """Data-dependent control flow: reads a value, which fake tensors do not have."""

    def __init__(self) -> None:
        super().__init__()
        self.inner = mlp()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.inner(x) * (2.0 if x.sum().item() > 0 else 1.0)
        return out


def test_a_model_fake_tensors_cannot_run_keeps_the_runs_own_flops(
        cap: Capture, caplog: pytest.LogCaptureFixture) -> None:
    model = Peeking()
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    with caplog.at_level(logging.WARNING, "mlcost_sdk"), \
            mlcost.training_run("t", tags=EXP, params=1e6) as run, mt.instrument(model, opt):
        for _ in range(3):
            model(torch.randn(2, 32)).sum().backward()
            opt.step()
    assert run.summary.steps == 3
    assert run.summary.flops_source == "formula_6nd"
    assert sum("cannot count FLOPs of Peeking" in r.message for r in caplog.records) == 1


def test_the_users_exception_passes_through_untouched(cap: Capture) -> None:
    model = mlp()
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    boom = ValueError("user bug")
    with pytest.raises(ValueError) as info, mlcost.training_run("t", tags=EXP), \
            mt.instrument(model, opt):
        model(torch.randn(2, 32)).sum().backward()
        opt.step()
        raise boom
    assert info.value is boom
    span = cap.span(c.KIND_TRAINING_RUN)
    assert span.attributes[c.STEPS] == 1 and span.status.status_code.name == "ERROR"


def test_budget_exceeded_leaves_through_optimizer_step() -> None:
    clock = ManualClock()
    model = mlp()
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    with capture(tags=FULL_TAGS, price=3600.0, clock=clock, warmup_steps=0), \
            pytest.raises(mlcost.BudgetExceeded), \
            mlcost.training_run("t", tags=EXP, budget_usd=2.0, on_budget="raise"), \
            mt.instrument(model, opt):
        for _ in range(10):
            clock.advance(1.0)  # $1 a step
            model(torch.randn(2, 32)).sum().backward()
            opt.step()


# ---- dtype ---------------------------------------------------------------------------------------
def test_dtype_from_parameters_and_autocast() -> None:
    model = mlp()
    assert mt.detect_dtype(model) == "fp32"  # CPU: TF32 applies to CUDA matmuls only
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert mt.detect_dtype(model) == "bf16"
    assert mt.detect_dtype(mlp().to(torch.float16)) == "fp16"
    assert mt.detect_dtype(mlp().double()) is None  # no fp64 peak in the catalog: say nothing


def test_the_run_takes_the_autocast_dtype_seen_in_training(cap: Capture) -> None:
    model = mlp()
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    with mlcost.training_run("t", tags=EXP) as run, mt.instrument(model, opt):
        assert run.hardware is not None and run.hardware.dtype == "fp32"
        for _ in range(2):
            with torch.autocast("cpu", dtype=torch.bfloat16):
                loss = model(torch.randn(4, 32)).float().sum()
            loss.backward()
            opt.step()
    assert cap.span(c.KIND_TRAINING_RUN).attributes[c.DTYPE] == "bf16"
    with mlcost.training_run("given", tags=EXP, dtype="fp16") as run, mt.instrument(model, opt):
        with torch.autocast("cpu", dtype=torch.bfloat16):
            model(torch.randn(4, 32)).float().sum().backward()
        opt.step()
    assert run.summary.attributes[c.DTYPE] == "fp16"  # the user's dtype wins


# ---- batch helpers -------------------------------------------------------------------------------
def test_token_and_sample_counts_of_common_batch_shapes() -> None:
    ids = torch.ones(3, 5, dtype=torch.long)
    mask = torch.tensor([[1, 1, 1, 0, 0]] * 3)
    assert mt.count_tokens(input_ids=ids, attention_mask=mask) == 9
    assert mt.count_tokens({"input_ids": ids, "attention_mask": mask}) == 9  # a batch dict
    assert mt.token_positions(input_ids=ids, attention_mask=mask) == 15
    assert mt.count_tokens(ids) == 15  # token ids, no mask
    assert mt.count_tokens(torch.randn(3, 5)) == 0  # features are not tokens
    assert mt.count_samples((torch.randn(7, 2), torch.zeros(7))) == 7  # an (x, y) batch
    assert mt.count_samples(input_ids=ids) == 3


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_gpu_time_comes_from_cuda_events_at_window_boundaries(cap: Capture) -> None:
    model = mlp().cuda()
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    with mlcost.training_run("t", tags=EXP, window_steps=5), mt.instrument(model, opt):
        for _ in range(10):
            model(torch.randn(64, 32, device="cuda")).sum().backward()
            opt.step()
    windows = cap.spans(c.KIND_TRAINING_WINDOW)
    assert len(windows) == 2
    for w in windows:
        assert 0 < w.attributes[c.GPU_DURATION_S] <= w.attributes[c.DURATION_S] * 1.5
    assert c.GPU_DURATION_S in cap.span(c.KIND_TRAINING_RUN).attributes


def _run_example(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env: dict[str, Any] = {"PATH": "/usr/bin:/bin", "HOME": str(cwd),
                           "MLCOST_SPANS_PATH": str(cwd / "spans.jsonl")}
    return subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=120, check=False)


@pytest.mark.slow
def test_the_example_runs_as_a_new_user_runs_it(tmp_path: Path) -> None:
    done = _run_example(str(REPO / "examples" / "torch_train.py"), "--steps", "12",
                        cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "training run 'torch-tiny'" in done.stdout and "MFU" in done.stdout
    assert len(final_run_spans(tmp_path / "spans.jsonl")) == 1
