"""A torchrun worker whose ranks take different numbers of steps (rank 1 stops early): the
whole-job exchange must notice the ranks are out of step and stop, never hang."""

from __future__ import annotations

import torch.distributed as dist

import mlcost_sdk as mlcost
from mlcost_sdk.integrations import distributed as mlcost_dist


def main() -> None:
    dist.init_process_group("gloo")
    mlcost.configure(tags={"team": "t", "model": "m", "environment": "dev", "cost_center": "c",
                           "owner": "o"}, price=1.0, warmup_steps=0)
    steps = 3 if dist.get_rank() == 1 else 12
    with mlcost_dist.training_run("uneven", tags={"experiment_id": "e"}, window_steps=5,
                                  sync_timeout_s=60) as run:
        for _ in range(steps):
            run.step(tokens=10)
    mlcost.flush()
    print(f"rank {dist.get_rank()} done", flush=True)
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
