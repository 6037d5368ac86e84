"""Data-parallel training under torchrun, metered per rank with one run id for the whole job.

A tiny language model with random weights on synthetic, padded batches (no downloads). Runs on
CPU with the gloo backend, or on GPUs with NCCL (one per rank). Every rank writes its spans to
./mlcost-spans.jsonl (or $MLCOST_SPANS_PATH); rank 0 also carries the whole job's figures and
prints them.

    torchrun --nproc_per_node 2 examples/ddp_train.py --steps 20
"""

from __future__ import annotations

import argparse

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

import mlcost_sdk as mlcost
from mlcost_sdk import conventions as c
from mlcost_sdk.integrations import distributed as mlcost_dist
from mlcost_sdk.integrations import torch as mlcost_torch


class TinyLM(nn.Module):
    def __init__(self, vocab: int = 512, d_model: int = 64) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, d_model)
        self.mlp = nn.Sequential(nn.Linear(d_model, 4 * d_model), nn.GELU(),
                                 nn.Linear(4 * d_model, d_model))
        self.head = nn.Linear(d_model, vocab)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        x = self.embed(input_ids) * attention_mask.unsqueeze(-1)
        logits: torch.Tensor = self.head(x + self.mlp(x))
        return logits


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=20, help="optimizer steps per rank")
    ap.add_argument("--accumulate", type=int, default=2, help="micro-batches per step")
    ap.add_argument("--usd-per-device-hour", type=float, default=0.05,
                    help="what one device (a GPU, or one CPU) costs per hour")
    args = ap.parse_args()

    cuda = torch.cuda.is_available()
    dist.init_process_group("nccl" if cuda else "gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    device = torch.device("cuda", rank % torch.cuda.device_count()) if cuda \
        else torch.device("cpu")
    if cuda:
        torch.cuda.set_device(device)

    mlcost.configure(
        service_name="ddp-train",
        tags={"team": "research", "model": "tiny-lm", "environment": "experiment",
              "cost_center": "ml-platform", "owner": "you"},
        price=mlcost.Price(usd_per_device_hour=args.usd_per_device_hour),
        warmup_steps=2,
    )
    torch.manual_seed(0)
    model = DistributedDataParallel(TinyLM().to(device))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    gen = torch.Generator().manual_seed(rank)
    batch, seq = 8, 32

    with mlcost_dist.training_run("ddp-tiny", tags={"experiment_id": "ddp-001"},
                                  window_steps=5) as run, \
            mlcost_torch.instrument(model, opt):
        for _ in range(args.steps):
            for _ in range(args.accumulate):
                ids = torch.randint(0, 512, (batch, seq), generator=gen)
                lengths = torch.randint(seq // 2, seq + 1, (batch, 1), generator=gen)
                mask = (torch.arange(seq) < lengths).long()  # right padding, per rank
                logits = model(input_ids=ids.to(device), attention_mask=mask.to(device))
                loss = nn.functional.cross_entropy(logits[:, :-1].reshape(-1, 512),
                                                   ids[:, 1:].reshape(-1).to(device))
                (loss / args.accumulate).backward()
            opt.step()
            opt.zero_grad(set_to_none=True)
    mlcost.flush()

    a = run.summary.attributes
    print(f"rank {rank}/{world}: {a[c.STEPS]} steps, {a[c.TOKENS]} tokens, "
          f"${a.get(c.COST_USD, 0.0):.6f} on {a[c.HW_COUNT]:g} {a[c.HW_KIND]}(s)", flush=True)
    if a.get(c.JOB_SCOPE):
        mfu = a.get(c.DIST_JOB_MFU)
        print(f"job: {a[c.DIST_JOB_TOKENS]} tokens, "
              f"{a[c.DIST_JOB_TOKENS_PER_S]:,.0f} tokens/s, "
              f"MFU {'n/a (unknown peak)' if mfu is None else f'{mfu:.2%}'}", flush=True)
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
