"""torchrun / torch.distributed: one run per rank, one run id per job, whole-job figures once.

    dist.init_process_group("nccl")                  # then, on every rank:
    with mlcost_dist.training_run("pretrain", tags=..., window_steps=100) as run:
        ...                                          # run.step() as usual (or integrations.torch)

- Every span of the run carries ``mlcost.dist.rank``, ``mlcost.dist.local_rank`` and
  ``mlcost.dist.world_size``; all ranks share one ``mlcost.run.id`` (``TORCHELASTIC_RUN_ID``,
  else rank 0's, broadcast).
- Each rank samples and prices only its own devices: the GPU it computes on, or its equal share
  of a CPU host's CPUs. Summing the ranks' costs never counts a device twice.
- Rank 0's windows and run span also carry the whole job's figures (``mlcost.job=true``,
  ``mlcost.dist.job.*``: tokens, throughput, MFU of all ranks together). Ranks exchange their
  figures only when a window closes and when the run ends, over a gloo group of mlcost's own
  (CPU tensors: no device synchronisation, never in the way of the job's own collectives).
  Windows must therefore close at the same step everywhere: use ``window_steps``, not
  ``window_seconds``. A rank ending with an exception, a timed-out exchange or ranks out of
  step end the exchange for good (logged once) instead of waiting on each other.
"""

from __future__ import annotations

import logging
import math
import os
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

try:
    import torch
    import torch.distributed as dist
except ImportError as exc:  # pragma: no cover - exercised only without torch
    raise ImportError("mlcost_sdk.integrations.distributed needs PyTorch: "
                      "pip install 'mlcost-sdk[torch]'") from exc

from mlcost_sdk import conventions as c
from mlcost_sdk.errors import ConfigError, InvalidParameterError
from mlcost_sdk.instrumentation import TrainingRun, get_sampler

from ._instrumentor import check_supported

__all__ = ["RankInfo", "rank_info", "shared_run_id", "training_run"]

logger = logging.getLogger("mlcost_sdk")


@dataclass(frozen=True)
class RankInfo:
    rank: int
    local_rank: int
    world_size: int
    local_world_size: int

    def attributes(self) -> dict[str, Any]:
        return {c.DIST_RANK: self.rank, c.DIST_LOCAL_RANK: self.local_rank,
                c.DIST_WORLD_SIZE: self.world_size}


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "")
    return int(raw) if raw.strip().isdigit() else default


def rank_info() -> RankInfo:
    """This process's place in the job: the process group's rank and size when initialised,
    else torchrun's environment (RANK, LOCAL_RANK, WORLD_SIZE, LOCAL_WORLD_SIZE)."""
    if dist.is_available() and dist.is_initialized():
        rank, world = dist.get_rank(), dist.get_world_size()
    else:
        rank, world = _env_int("RANK", 0), _env_int("WORLD_SIZE", 1)
    return RankInfo(rank=rank, local_rank=_env_int("LOCAL_RANK", 0), world_size=world,
                    local_world_size=max(1, _env_int("LOCAL_WORLD_SIZE", 1)))


_group: tuple[Any, Any] = (None, None)  # (the default group it was made in, mlcost's group)


def _mlcost_group(timeout_s: float) -> Any:
    """mlcost's own gloo group over all ranks: made once per process group, collectively."""
    global _group
    world = dist.group.WORLD
    if _group[0] is not world:
        _group = (world, dist.new_group(backend="gloo", timeout=timedelta(seconds=timeout_s)))
    return _group[1]


def shared_run_id(group: Any = None) -> str:
    """One id for every rank: ``TORCHELASTIC_RUN_ID`` (torchrun sets it; "none" means unset),
    else a fresh id made by rank 0 and broadcast (a collective: call it on every rank)."""
    elastic = os.environ.get("TORCHELASTIC_RUN_ID", "").strip()
    if elastic and elastic.lower() != "none":
        return elastic
    box = [uuid.uuid4().hex if dist.get_rank() == 0 else ""]
    dist.broadcast_object_list(box, src=0, group=group)
    return str(box[0])


def _rank_gpu(info: RankInfo) -> str | None:
    """The UUID (NVML's "GPU-..." form) of the GPU this rank computes on, or None."""
    if not torch.cuda.is_available():
        return None
    # an uninitialised CUDA gets no context made here: torchrun's convention is LOCAL_RANK
    initialized = torch.cuda.is_initialized()  # type: ignore[no-untyped-call]
    index = torch.cuda.current_device() if initialized \
        else info.local_rank % torch.cuda.device_count()
    return f"GPU-{torch.cuda.get_device_properties(index).uuid}"


def _limit_sampling_to_rank(info: RankInfo) -> None:
    gpu = _rank_gpu(info)
    share = 1.0 if gpu is not None else 1.0 / info.local_world_size
    if not get_sampler().limit_to(gpus=gpu, cpu_share=share):
        logger.warning("mlcost: the hardware sampler was already running when the distributed "
                       "run was set up; rank %d prices every device it sees", info.rank)


class _JobFigures:
    """Window and end listeners: all ranks exchange their figures; rank 0 writes the job's."""

    _FIELDS = (c.TOKENS, c.SAMPLES, c.TOKENS_PER_S, c.SAMPLES_PER_S, c.FLOPS_ACHIEVED_PER_S)

    def __init__(self, group: Any, info: RankInfo) -> None:
        self._group = group
        self._info = info
        self._enabled = True

    def window_closed(self, run: TrainingRun, attrs: dict[str, Any]) -> None:
        self._exchange(run, attrs, phase=0)

    def run_ended(self, run: TrainingRun, attrs: dict[str, Any]) -> None:
        self._exchange(run, attrs, phase=1)

    def _stop(self, why: str) -> None:
        self._enabled = False
        logger.warning("mlcost: whole-job figures stop on rank %d: %s", self._info.rank, why)

    def _exchange(self, run: TrainingRun, attrs: dict[str, Any], phase: int) -> None:
        if not self._enabled:
            return
        if run.ending_error is not None:  # the other ranks may never get here: do not wait
            self._stop(f"the run ended with {type(run.ending_error).__name__}")
            return
        hw = run.hardware
        peak = hw.peak_flops_per_s if hw is not None else None
        # (phase, steps so far) must agree: every rank sums figures of the same steps
        row = [float(phase), float(run.summary.steps),
               *(float(attrs.get(k, 0.0)) for k in self._FIELDS),
               math.nan if peak is None else float(peak)]
        mine = torch.tensor(row, dtype=torch.float64)
        rows = [torch.empty_like(mine) for _ in range(self._info.world_size)]
        try:
            dist.all_gather(rows, mine, group=self._group)
        except Exception as exc:  # noqa: BLE001 - a timeout or a dead peer: stop, never hang
            self._stop(f"exchange failed: {exc!r}")
            return
        table = torch.stack(rows)
        if not bool((table[:, :2] == table[0, :2]).all()):
            self._stop("ranks are out of step (use window_steps, not window_seconds, and the "
                       "same number of steps on every rank)")
            return
        if self._info.rank == 0:
            attrs.update(_job_attributes(table[:, 2:].sum(dim=0).tolist()))


def _job_attributes(sums: list[float]) -> dict[str, Any]:
    tokens, samples, tokens_per_s, samples_per_s, achieved, peak = sums
    attrs: dict[str, Any] = {c.JOB_SCOPE: True, c.DIST_JOB_TOKENS: int(tokens),
                             c.DIST_JOB_SAMPLES: int(samples),
                             c.DIST_JOB_TOKENS_PER_S: tokens_per_s,
                             c.DIST_JOB_SAMPLES_PER_S: samples_per_s}
    if achieved > 0:
        attrs[c.DIST_JOB_FLOPS_ACHIEVED_PER_S] = achieved
        if not math.isnan(peak):  # one rank without a known peak: no job MFU at all
            attrs[c.DIST_JOB_FLOPS_PEAK_PER_S] = peak
            attrs[c.DIST_JOB_MFU] = achieved / peak
    return attrs


def training_run(name: str = "training_run", *, sync_timeout_s: float = 300.0,
                 **kwargs: Any) -> TrainingRun:
    """``mlcost.training_run(name, **kwargs)`` for one rank of a torch.distributed job.

    Call it on every rank, after ``init_process_group()`` (it is a collective: it makes
    mlcost's gloo group and agrees on the run id). ``sync_timeout_s``: the longest a rank waits
    for the others at a window boundary before giving up the whole-job figures. In a process
    that is not part of a multi-process job this is a plain training run with rank attributes.
    """
    check_supported("torch")
    if kwargs.get("window_seconds") is not None:
        raise InvalidParameterError("window_seconds", kwargs["window_seconds"],
                                    "None in a distributed run: windows must close at the same "
                                    "step on every rank (use window_steps)")
    if not sync_timeout_s > 0:
        raise InvalidParameterError("sync_timeout_s", sync_timeout_s, "a number of seconds > 0")
    info = rank_info()
    if info.world_size == 1:
        run = TrainingRun(name, **kwargs)
        run.set_attributes(info.attributes())
        return run
    if not (dist.is_available() and dist.is_initialized()):
        raise ConfigError("call torch.distributed.init_process_group() on every rank before "
                          "mlcost's distributed training_run()")
    group = _mlcost_group(sync_timeout_s)
    kwargs["run_id"] = kwargs.get("run_id") or shared_run_id(group)
    run = TrainingRun(name, **kwargs)
    _limit_sampling_to_rank(info)  # after the core's own limit: torch knows the real device
    run.set_attributes(info.attributes())
    job = _JobFigures(group, info)
    run.add_window_listener(job.window_closed)
    run.add_end_listener(job.run_ended)
    return run
