"""torchrun with the plain core API: rank attributes, one run id per job, each rank priced for
its own share of the host (no double counting), from the launcher's environment alone."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from mlcost_sdk import conventions as c
from mlcost_sdk.host import effective_cpu_count
from mlcost_sdk.reports.records import load
from mlcost_sdk.reports.usage import usages
from mlcost_sdk.runtime import launch
from tests.integrations.distributed.test_torchrun_job import by_rank, free_port

REPO = Path(__file__).resolve().parents[3]


@pytest.mark.slow
def test_two_gloo_ranks_under_plain_training_run_share_one_id_and_split_the_host(
        tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("OTEL_", "MLCOST_", "TORCHELASTIC_"))}
    env.update(MLCOST_SPANS_PATH=str(tmp_path / "spans.jsonl"), PYTHONPATH=str(REPO))
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
           "--master_addr", "127.0.0.1", "--master_port", str(free_port()),
           str(Path(__file__).with_name("core_api_worker.py"))]
    done = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=240, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    ranks = by_rank(tmp_path / "spans.jsonl")
    assert sorted(ranks) == [0, 1]
    for rank, spans in ranks.items():
        assert [a[c.RUN_NAME] for a in spans[c.KIND_TRAINING_RUN]] == ["first", "second"]
        for a in (*spans[c.KIND_TRAINING_RUN], *spans[c.KIND_TRAINING_WINDOW]):
            assert (a[c.DIST_RANK], a[c.DIST_LOCAL_RANK], a[c.DIST_WORLD_SIZE]) == (rank, rank, 2)
    first, second = (
        [ranks[r][c.KIND_TRAINING_RUN][i] for r in (0, 1)] for i in (0, 1))
    assert first[0][c.RUN_ID] == first[1][c.RUN_ID] != second[0][c.RUN_ID] == second[1][c.RUN_ID]
    # each rank prices half of this CPU host: the two ranks together count each core once
    host = effective_cpu_count()
    for pair in (first, second):
        assert [a[c.HW_COUNT] for a in pair] == pytest.approx([host / 2, host / 2])
    jobs = [u for u in usages(load([str(tmp_path / "spans.jsonl")]).records)
            if u.kind == c.KIND_TRAINING_RUN]
    assert len(jobs) == 2 and all(u.ranks == 2 for u in jobs)
    assert all(u.cpu_hours == pytest.approx(host * u.process_hours / 2) for u in jobs)


def test_launch_reads_torchrun_then_slurm_without_torch(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("RANK", "LOCAL_RANK", "WORLD_SIZE", "LOCAL_WORLD_SIZE", "TORCHELASTIC_RUN_ID",
                 "MASTER_ADDR", "MASTER_PORT", "SLURM_PROCID", "SLURM_JOB_ID", "SLURM_STEP_ID",
                 "SLURM_LOCALID", "SLURM_NTASKS", "SLURM_NTASKS_PER_NODE",
                 "CUDA_VISIBLE_DEVICES"):
        monkeypatch.delenv(name, raising=False)
    assert launch.detect() is None
    monkeypatch.setenv("SLURM_PROCID", "3")
    monkeypatch.setenv("SLURM_LOCALID", "1")
    monkeypatch.setenv("SLURM_NTASKS", "8")
    monkeypatch.setenv("SLURM_NTASKS_PER_NODE", "4")
    monkeypatch.setenv("SLURM_JOB_ID", "991")
    assert launch.detect() == launch.Launch(3, 1, 8, 4, "slurm:991")
    monkeypatch.setenv("RANK", "5")
    monkeypatch.setenv("LOCAL_RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "6")
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "2")
    monkeypatch.setenv("TORCHELASTIC_RUN_ID", "none")  # torchrun's unset value: not a job id
    got = launch.detect()
    assert got is not None and (got.rank, got.local_rank, got.world_size) == (5, 1, 6)
    assert got.job_id == "slurm:991"
    monkeypatch.setenv("TORCHELASTIC_RUN_ID", "job-7")
    got = launch.detect()
    assert got is not None and got.job_id == "torchelastic:job-7"
    assert got.gpu_token() == "1"
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "GPU-aa,GPU-bb")
    assert got.gpu_token() == "GPU-bb"  # LOCAL_RANK indexes the visible devices
    assert launch.run_id(got, "r") != launch.run_id(got, "r")  # the next run gets a new id
