"""The torch.distributed integration, with real torchrun jobs of 2 ranks on gloo (CPU)."""

from __future__ import annotations

import importlib.util
import json
import math
import os
import socket
import subprocess
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

import mlcost_sdk as mlcost
from mlcost_sdk import conventions as c
from mlcost_sdk.host import effective_cpu_count
from mlcost_sdk.integrations import distributed as mlcost_dist
from mlcost_sdk.sampling import Sampler
from mlcost_sdk.testing import Capture

REPO = Path(__file__).resolve().parents[3]
EXP = {"experiment_id": "exp-1"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def torchrun(script: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("OTEL_", "MLCOST_", "TORCHELASTIC_"))}
    env.update(MLCOST_SPANS_PATH=str(cwd / "spans.jsonl"), PYTHONPATH=str(REPO))
    # No --standalone: TORCHELASTIC_RUN_ID stays "none", so rank 0 broadcasts the run id.
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
           "--master_addr", "127.0.0.1", "--master_port", str(free_port()), str(script), *args]
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=240,
                          check=False)


def by_rank(spans_file: Path) -> dict[int, dict[str, list[dict[str, Any]]]]:
    """Span attributes from the JSONL file both ranks appended to, by rank and kind (a run's
    cumulative checkpoint records left out: the final record speaks for the run)."""
    out: dict[int, dict[str, list[dict[str, Any]]]] = defaultdict(lambda: defaultdict(list))
    for line in spans_file.read_text().splitlines():
        a = json.loads(line)["attributes"]
        if a.get(c.RECORD) != c.RECORD_CHECKPOINT:
            out[a[c.DIST_RANK]][a[c.KIND]].append(a)
    return out


@pytest.mark.slow
def test_a_torchrun_job_has_one_run_id_rank_attributes_and_job_figures_on_rank_0(
        tmp_path: Path) -> None:
    done = torchrun(REPO / "examples" / "ddp_train.py", "--steps", "12", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    ranks = by_rank(tmp_path / "spans.jsonl")
    assert sorted(ranks) == [0, 1]
    runs = {rank: spans[c.KIND_TRAINING_RUN][0] for rank, spans in ranks.items()}
    assert runs[0][c.RUN_ID] == runs[1][c.RUN_ID]
    for rank, spans in ranks.items():
        for a in (*spans[c.KIND_TRAINING_RUN], *spans[c.KIND_TRAINING_WINDOW]):
            assert a[c.DIST_RANK] == rank and a[c.DIST_LOCAL_RANK] == rank
            assert a[c.DIST_WORLD_SIZE] == 2
            assert a.get(c.JOB_SCOPE) is (True if rank == 0 else None)  # job figures: rank 0 only
        assert [w[c.STEPS] for w in spans[c.KIND_TRAINING_WINDOW]] == [5, 5, 2]
    # each rank pays for its half of this CPU host: summing ranks counts every CPU once
    assert runs[0][c.HW_COUNT] + runs[1][c.HW_COUNT] == pytest.approx(effective_cpu_count())
    # the ranks padded differently, so their token counts differ; the job's are their sum
    assert runs[0][c.TOKENS] != runs[1][c.TOKENS]
    job = runs[0]
    assert job[c.DIST_JOB_TOKENS] == runs[0][c.TOKENS] + runs[1][c.TOKENS]
    assert job[c.DIST_JOB_SAMPLES] == runs[0][c.SAMPLES] + runs[1][c.SAMPLES] == 2 * 12 * 2 * 8
    assert job[c.DIST_JOB_TOKENS_PER_S] == pytest.approx(
        runs[0][c.TOKENS_PER_S] + runs[1][c.TOKENS_PER_S])
    achieved = runs[0][c.FLOPS_ACHIEVED_PER_S] + runs[1][c.FLOPS_ACHIEVED_PER_S]
    peak = runs[0][c.FLOPS_PEAK_PER_S] + runs[1][c.FLOPS_PEAK_PER_S]
    assert job[c.DIST_JOB_MFU] == pytest.approx(achieved / peak)
    windows = list(zip(ranks[0][c.KIND_TRAINING_WINDOW], ranks[1][c.KIND_TRAINING_WINDOW],
                       strict=True))
    for w0, w1 in windows:
        assert w0[c.WINDOW_INDEX] == w1[c.WINDOW_INDEX]
        assert w0[c.DIST_JOB_TOKENS] == w0[c.TOKENS] + w1[c.TOKENS]
    assert math.fsum(w[c.TOKENS] for w in ranks[1][c.KIND_TRAINING_WINDOW]) == runs[1][c.TOKENS]
    assert "job: " in done.stdout  # rank 0 printed the job's figures


@pytest.mark.slow
def test_ranks_out_of_step_stop_the_exchange_instead_of_hanging(tmp_path: Path) -> None:
    done = torchrun(Path(__file__).with_name("uneven_worker.py"), cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "rank 0 done" in done.stdout and "rank 1 done" in done.stdout
    assert "whole-job figures stop" in done.stderr
    ranks = by_rank(tmp_path / "spans.jsonl")
    assert ranks[0][c.KIND_TRAINING_RUN][0][c.STEPS] == 12
    assert ranks[1][c.KIND_TRAINING_RUN][0][c.STEPS] == 3
    for spans in ranks.values():  # rank 1's partial window (3 steps) never met rank 0's (5)
        assert all(c.JOB_SCOPE not in a for kind in spans.values() for a in kind)


def test_a_single_process_gets_a_plain_run_with_rank_attributes(
        cap: Capture, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("RANK", "LOCAL_RANK", "WORLD_SIZE", "LOCAL_WORLD_SIZE"):
        monkeypatch.delenv(name, raising=False)
    with mlcost_dist.training_run("t", tags=EXP) as run:
        run.step(tokens=5)
    a = cap.span(c.KIND_TRAINING_RUN).attributes
    assert (a[c.DIST_RANK], a[c.DIST_LOCAL_RANK], a[c.DIST_WORLD_SIZE]) == (0, 0, 1)
    assert c.JOB_SCOPE not in a


def test_rank_info_reads_torchruns_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RANK", "5")
    monkeypatch.setenv("LOCAL_RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "8")
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "4")
    assert mlcost_dist.rank_info() == mlcost_dist.RankInfo(5, 1, 8, 4)


def test_torchelastic_run_id_is_the_shared_run_id(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TORCHELASTIC_RUN_ID", "job-42")
    assert mlcost_dist.shared_run_id() == "job-42"  # no collective needed


def test_bad_arguments_get_one_typed_error(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(mlcost.InvalidParameterError, match="window_seconds"):
        mlcost_dist.training_run("t", window_seconds=10.0)
    with pytest.raises(mlcost.InvalidParameterError, match="sync_timeout_s"):
        mlcost_dist.training_run("t", sync_timeout_s=0)
    monkeypatch.setenv("WORLD_SIZE", "2")  # a job, but no process group yet
    with pytest.raises(mlcost.ConfigError, match="init_process_group"):
        mlcost_dist.training_run("t")


def _fake_nvml() -> Any:
    """tests/sampling/fake_nvml.py: the test double for the GPUs these machines lack."""
    if "fake_nvml" not in sys.modules:  # as tests/sampling imports it
        spec = importlib.util.spec_from_file_location(
            "fake_nvml", REPO / "tests" / "sampling" / "fake_nvml.py")
        assert spec is not None and spec.loader is not None
        sys.modules["fake_nvml"] = module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    return sys.modules["fake_nvml"]


def test_a_rank_samples_and_prices_only_its_own_gpu(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)  # the rank sees every GPU
    fake = _fake_nvml()
    uuids = [f"GPU-{i}{i}{i}{i}0000-0000-0000-0000-000000000000" for i in range(4)]
    sampler = Sampler(nvml=fake.FakeNvml([fake.FakeGpu(u) for u in uuids]))
    assert sampler.limit_to(gpus=uuids[2])
    assert sampler.hw_count == 1.0 and [d.uuid for d in sampler.devices] == [uuids[2]]
    assert not sampler.limit_to(gpus=uuids[0])  # the backend is open: nothing changes any more
    assert [d.uuid for d in sampler.devices] == [uuids[2]]


def test_ranks_sharing_a_cpu_host_each_price_their_share() -> None:
    sampler = Sampler()  # no GPU on these machines: psutil
    assert sampler.limit_to(cpu_share=0.25)
    assert sampler.hw_kind == "cpu" and sampler.cpu_share == 0.25
    assert sampler.hw_count == pytest.approx(effective_cpu_count() / 4)
    for bad in (0.0, 1.5):
        with pytest.raises(mlcost.InvalidParameterError, match="cpu_share"):
            Sampler().limit_to(cpu_share=bad)
