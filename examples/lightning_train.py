"""A Lightning fit metered by mlcost's Callback.

A small LightningModule language model with random weights on synthetic, padded batches (no
downloads, CPU is fine), with gradient accumulation. Tokens are the non-padding tokens of each
batch; FLOPs come from PyTorch's flop counter on a fake copy of the module. Prints the run's
cost summary; spans go to ./mlcost-spans.jsonl unless OTEL_EXPORTER_OTLP_ENDPOINT or
MLCOST_SPANS_PATH says otherwise.

    python examples/lightning_train.py --steps 20
"""

from __future__ import annotations

import argparse

import lightning.pytorch as pl
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

import mlcost_sdk as mlcost
from mlcost_sdk.integrations.lightning import MlcostCallback

VOCAB, SEQ = 1024, 64


class TinyLM(pl.LightningModule):
    def __init__(self, d_model: int = 128) -> None:
        super().__init__()
        self.embed = nn.Embedding(VOCAB, d_model)
        self.mlp = nn.Sequential(nn.Linear(d_model, 4 * d_model), nn.GELU(),
                                 nn.Linear(4 * d_model, d_model))
        self.head = nn.Linear(d_model, VOCAB)

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        x = self.embed(input_ids)
        logits: torch.Tensor = self.head(x + self.mlp(x))
        return logits

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        ids, mask = batch["input_ids"], batch["attention_mask"]
        logits = self(ids)
        loss = nn.functional.cross_entropy(logits[:, :-1].reshape(-1, VOCAB),
                                           ids[:, 1:].reshape(-1), reduction="none")
        return (loss * mask[:, 1:].reshape(-1)).sum() / mask[:, 1:].sum()

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.AdamW(self.parameters(), lr=1e-3)


class SyntheticTokens(Dataset[dict[str, torch.Tensor]]):
    """Random token sequences of random lengths, right-padded (no downloads)."""

    def __init__(self, n: int, seed: int = 0) -> None:
        gen = torch.Generator().manual_seed(seed)
        lengths = torch.randint(SEQ // 4, SEQ + 1, (n, 1), generator=gen)
        self.ids = torch.randint(0, VOCAB, (n, SEQ), generator=gen)
        self.mask = (torch.arange(SEQ) < lengths).long()

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {"input_ids": self.ids[i], "attention_mask": self.mask[i]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=20, help="optimizer steps")
    ap.add_argument("--usd-per-hour", type=float, default=0.34,
                    help="what this machine costs per hour (user-given price)")
    args = ap.parse_args()

    mlcost.configure(
        service_name="lightning-train",
        tags={"team": "research", "model": "tiny-lm", "environment": "experiment",
              "cost_center": "ml-platform", "owner": "you"},
        price=mlcost.Price(usd_per_hour=args.usd_per_hour),
    )
    torch.manual_seed(0)
    callback = MlcostCallback("lightning-tiny", tags={"experiment_id": "pl-001"}, window_steps=5)
    trainer = pl.Trainer(max_steps=args.steps, accumulate_grad_batches=2, accelerator="cpu",
                         devices=1, enable_checkpointing=False, logger=False,
                         enable_progress_bar=False, enable_model_summary=False,
                         callbacks=[callback])
    loader = DataLoader(SyntheticTokens(16 * args.steps), batch_size=8)
    trainer.fit(TinyLM(), loader)
    mlcost.flush()
    assert callback.run is not None
    print(callback.run.summary)


if __name__ == "__main__":
    main()
