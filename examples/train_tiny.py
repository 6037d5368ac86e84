"""The main job: a small transformer language model trained on CPU through mlcost-sdk.

Random weights, synthetic tokens (no downloads). Runs for about --seconds, then prints the
run's cost summary. FLOPs are measured by PyTorch's flop counter through the torch integration
(``mlcost.flops.source=flop_counter``); the formula it falls back to counts N as the
scaling-law papers do (non-embedding parameters) plus PaLM's attention term. Spans go to
./mlcost-spans.jsonl unless OTEL_EXPORTER_OTLP_ENDPOINT or MLCOST_SPANS_PATH says otherwise.

    python examples/train_tiny.py --seconds 30 --usd-per-hour 0.34
"""

from __future__ import annotations

import argparse
import time

import torch
from torch import nn

import mlcost_sdk as mlcost
from mlcost_sdk.integrations import torch as mlcost_torch


class TinyLM(nn.Module):
    def __init__(self, vocab: int, d_model: int, layers: int, heads: int, seq: int) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, d_model)
        self.pos = nn.Parameter(torch.zeros(seq, d_model))
        layer = nn.TransformerEncoderLayer(d_model, heads, 4 * d_model, dropout=0.0,
                                           batch_first=True, norm_first=True)
        self.blocks = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.head = nn.Linear(d_model, vocab)
        self.register_buffer("mask", nn.Transformer.generate_square_subsequent_mask(seq))

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        x = self.embed(tokens) + self.pos[: tokens.shape[1]]
        logits: torch.Tensor = self.head(self.blocks(x, mask=self.mask, is_causal=True))
        return logits


D_MODEL, LAYERS = 256, 4


def build(seq: int) -> tuple[TinyLM, int]:
    """The main job's model and its vocabulary size (also used by its FLOPs test)."""
    torch.manual_seed(0)
    vocab = 4096
    return TinyLM(vocab, D_MODEL, layers=LAYERS, heads=4, seq=seq), vocab


def train_step(model: TinyLM, opt: torch.optim.Optimizer, batch: torch.Tensor,
               vocab: int) -> torch.Tensor:
    logits = model(batch[:, :-1])
    loss = nn.functional.cross_entropy(logits.reshape(-1, vocab), batch[:, 1:].reshape(-1))
    opt.zero_grad(set_to_none=True)
    loss.backward()  # type: ignore[no-untyped-call]
    opt.step()  # the torch integration makes this one run.step() with the batch's counts
    return loss


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=30.0, help="train for about this long")
    ap.add_argument("--usd-per-hour", type=float, default=0.34,
                    help="what this machine costs per hour (user-given price)")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--seq", type=int, default=128)
    args = ap.parse_args()

    model, vocab = build(args.seq)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-4)
    params = sum(p.numel() for p in model.parameters())

    mlcost.configure(
        service_name="train-tiny",
        tags={"team": "research", "model": "tiny-lm", "environment": "experiment",
              "cost_center": "ml-platform", "owner": "you"},
        price=mlcost.Price(usd_per_hour=args.usd_per_hour),
    )
    # A rough guess of the step rate sizes the planned run for the budget projection.
    planned_steps = max(10, int(args.seconds * 4))
    with mlcost.training_run("train-tiny", tags={"experiment_id": "tiny-001"},
                             params=mlcost_torch.non_embedding_params(model), layers=LAYERS,
                             d_model=D_MODEL, seq_len=args.seq,  # the formula, if unmeasured
                             total_steps=planned_steps, budget_usd=1.0,
                             window_seconds=max(5.0, args.seconds / 4)) as run, \
            mlcost_torch.instrument(model, opt):
        deadline = time.monotonic() + args.seconds
        step = 0
        while time.monotonic() < deadline and step < 100_000:
            loss = train_step(model, opt, torch.randint(0, vocab, (args.batch, args.seq + 1)),
                              vocab)
            step += 1
    mlcost.flush()
    print(f"model: {params / 1e6:.2f}M parameters, {step} steps, final loss {loss.item():.3f}")
    print(run.summary)


if __name__ == "__main__":
    main()
