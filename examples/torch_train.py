"""A plain PyTorch loop metered by mlcost: optimizer.step() marks each training step.

A small language model with random weights on synthetic, padded batches (no downloads), with
gradient accumulation. FLOPs are measured by PyTorch's flop counter (once per batch shape, on a
fake copy of the model), tokens are the non-padding tokens the model saw. Prints the run's cost
summary; spans go to ./mlcost-spans.jsonl unless OTEL_EXPORTER_OTLP_ENDPOINT or
MLCOST_SPANS_PATH says otherwise.

    python examples/torch_train.py --steps 30 --usd-per-hour 0.34
"""

from __future__ import annotations

import argparse

import torch
from torch import nn

import mlcost_sdk as mlcost
from mlcost_sdk.integrations import torch as mlcost_torch


class TinyLM(nn.Module):
    def __init__(self, vocab: int, d_model: int, seq: int) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, d_model)
        layer = nn.TransformerEncoderLayer(d_model, nhead=4, dim_feedforward=4 * d_model,
                                           dropout=0.0, batch_first=True)
        self.blocks = nn.TransformerEncoder(layer, num_layers=2)
        self.head = nn.Linear(d_model, vocab)
        # True = may not attend (a later position), the same mask type as the padding mask
        self.register_buffer("causal", torch.ones(seq, seq, dtype=torch.bool).triu(1))

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        x = self.blocks(self.embed(input_ids), mask=self.causal, is_causal=True,
                        src_key_padding_mask=attention_mask == 0)
        logits: torch.Tensor = self.head(x)
        return logits


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=30, help="optimizer steps")
    ap.add_argument("--accumulate", type=int, default=2, help="micro-batches per step")
    ap.add_argument("--usd-per-hour", type=float, default=0.34,
                    help="what this machine costs per hour (user-given price)")
    args = ap.parse_args()

    torch.manual_seed(0)
    vocab, seq, batch = 2048, 64, 8
    model = TinyLM(vocab, d_model=128, seq=seq)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-4)

    mlcost.configure(
        service_name="torch-train",
        tags={"team": "research", "model": "tiny-lm", "environment": "experiment",
              "cost_center": "ml-platform", "owner": "you"},
        price=mlcost.Price(usd_per_hour=args.usd_per_hour),
    )
    with mlcost.training_run("torch-tiny", tags={"experiment_id": "torch-001"},
                             total_steps=args.steps, budget_usd=1.0, window_steps=10) as run, \
            mlcost_torch.instrument(model, opt):
        for _ in range(args.steps):
            for _ in range(args.accumulate):
                ids = torch.randint(0, vocab, (batch, seq))
                lengths = torch.randint(seq // 2, seq + 1, (batch, 1))
                mask = (torch.arange(seq) < lengths).long()  # right padding
                logits = model(input_ids=ids, attention_mask=mask)
                loss = nn.functional.cross_entropy(logits[:, :-1].reshape(-1, vocab),
                                                   ids[:, 1:].reshape(-1), reduction="none")
                loss = (loss * mask[:, 1:].reshape(-1)).sum() / mask[:, 1:].sum()
                (loss / args.accumulate).backward()
            opt.step()  # one training step for mlcost: tokens, samples, FLOPs since the last
            opt.zero_grad(set_to_none=True)
    mlcost.flush()
    print(f"final loss {loss.item():.3f}")
    print(run.summary)


if __name__ == "__main__":
    main()
