"""One rank of a real gloo job metered with the plain core API (not the distributed
integration): ``torchrun --nproc_per_node 2 core_api_worker.py``."""

from __future__ import annotations

import torch
import torch.distributed as dist

import mlcost_sdk as mlcost


def main() -> None:
    dist.init_process_group("gloo")
    mlcost.configure(service_name="core-ranks", price=mlcost.Price(usd_per_hour=3600.0),
                     tags={"team": "t", "model": "m", "environment": "dev",
                           "cost_center": "cc", "owner": "o", "experiment_id": "e"})
    for name in ("first", "second"):  # two runs in one job: two ids, each shared by the ranks
        with mlcost.training_run(name, window_steps=2) as run:
            for _ in range(4):
                grad = torch.ones(8) * (dist.get_rank() + 1)
                dist.all_reduce(grad)  # real gloo traffic between the ranks
                run.step(tokens=16)
    mlcost.flush()
    dist.destroy_process_group()
    print(f"rank {dist.get_rank() if dist.is_initialized() else '?'} done")


if __name__ == "__main__":
    main()
