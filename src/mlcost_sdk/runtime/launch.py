"""The launcher's view of this process (torchrun, Slurm), read from the environment only.

A job started by ``torchrun`` or ``srun`` runs the same code on every rank. Wrapped in the
plain core API, each rank would otherwise name its own run and price the whole host, so the
job would be billed once per rank. From the environment alone (torch is never imported):

- rank attributes on every training span (``mlcost.dist.rank``, ``local_rank``,
  ``world_size``);
- one run id per job and run: derived from ``TORCHELASTIC_RUN_ID`` (else ``SLURM_JOB_ID``,
  else ``MASTER_ADDR:MASTER_PORT``), the run's name and its sequence number in the process,
  so every rank computes the same id without talking to the others;
- each rank priced for its own share: the GPU at ``LOCAL_RANK`` among the visible devices
  (``CUDA_VISIBLE_DEVICES`` order), or on a CPU host 1 / ``LOCAL_WORLD_SIZE`` of its cores.

The distributed integration (``mlcost_sdk.integrations.distributed``) refines this with the
process group (the device torch really computes on) and adds whole-job figures.
"""

from __future__ import annotations

import itertools
import logging
import os
import threading
import uuid
from dataclasses import dataclass
from typing import Any

from .. import conventions as c

logger = logging.getLogger("mlcost_sdk")
_NAMESPACE = uuid.UUID("3b0c5f7e-1d0a-4f59-9a51-6d2f0b8e6c11")  # mlcost's run ids


@dataclass(frozen=True)
class Launch:
    rank: int
    local_rank: int
    world_size: int
    local_world_size: int
    job_id: str | None  # what every rank of the job shares

    def attributes(self) -> dict[str, Any]:
        return {c.DIST_RANK: self.rank, c.DIST_LOCAL_RANK: self.local_rank,
                c.DIST_WORLD_SIZE: self.world_size}

    def gpu_token(self) -> str:
        """This rank's GPU in CUDA_VISIBLE_DEVICES syntax: the LOCAL_RANK-th visible one."""
        visible = os.environ.get("CUDA_VISIBLE_DEVICES")
        if visible is None:
            return str(self.local_rank)
        tokens = [t.strip() for t in visible.split(",") if t.strip()]
        return tokens[self.local_rank % len(tokens)] if tokens else visible


def _int(*names: str) -> int | None:
    for name in names:
        raw = os.environ.get(name, "").strip()
        if raw.isdigit():
            return int(raw)
    return None


def _job_id() -> str | None:
    elastic = os.environ.get("TORCHELASTIC_RUN_ID", "").strip()
    if elastic and elastic.lower() != "none":  # torchrun's default --rdzv-id is "none"
        return "torchelastic:" + elastic
    slurm = os.environ.get("SLURM_JOB_ID", "").strip()
    if slurm:
        step = os.environ.get("SLURM_STEP_ID", "").strip()
        return f"slurm:{slurm}" + (f".{step}" if step else "")
    addr, port = os.environ.get("MASTER_ADDR", ""), os.environ.get("MASTER_PORT", "")
    return f"master:{addr}:{port}" if addr and port else None


def detect() -> Launch | None:
    """This process's rank, from torchrun's variables (RANK, LOCAL_RANK, WORLD_SIZE,
    LOCAL_WORLD_SIZE), else Slurm's (SLURM_PROCID, SLURM_LOCALID, SLURM_NTASKS,
    SLURM_NTASKS_PER_NODE); None when no launcher started it."""
    if _int("RANK") is not None and _int("WORLD_SIZE") is not None:
        rank, world = _int("RANK"), _int("WORLD_SIZE")
        local, local_world = _int("LOCAL_RANK"), _int("LOCAL_WORLD_SIZE")
    elif _int("SLURM_PROCID") is not None:
        rank, world = _int("SLURM_PROCID"), _int("SLURM_NTASKS")
        local, local_world = _int("SLURM_LOCALID"), _int("SLURM_NTASKS_PER_NODE")
    else:
        return None
    assert rank is not None
    world = max(world or 1, rank + 1)
    local = local if local is not None else 0
    local_world = max(local_world or 1, local + 1)
    return Launch(rank, local, world, local_world, _job_id())


_seq = itertools.count()
_seq_lock = threading.Lock()


def run_id(launch: Launch | None, name: str) -> str:
    """The id of a run starting now: the same on every rank of a launched job (its job id,
    the run's name and how many runs this process started before it), else a fresh one."""
    with _seq_lock:
        n = next(_seq)
    if launch is None or launch.job_id is None:
        return uuid.uuid4().hex
    return uuid.uuid5(_NAMESPACE, f"{launch.job_id}/{name}/{n}").hex


_limited = False


def limit_sampling(launch: Launch | None) -> None:
    """Price only this rank's share of the host when several ranks share it (once: the
    sampler keeps its limit for the life of the process)."""
    global _limited
    if launch is None or launch.local_world_size <= 1 or _limited:
        return
    from ..sampling import get_sampler

    _limited = True
    if not get_sampler().limit_to(gpus=launch.gpu_token(),
                                  cpu_share=1.0 / launch.local_world_size):
        logger.warning("mlcost: the hardware sampler was already running when rank %d's run "
                       "was set up; it prices every device it sees", launch.rank)
