"""A Hugging Face Trainer run metered by mlcost's TrainerCallback.

A tiny GPT-2 built from a config with random weights, trained for a few steps on synthetic,
padded sequences (no hub download, CPU is fine). Tokens are the non-padding tokens the model
saw; FLOPs come from PyTorch's flop counter on a fake copy of the model. Prints the run's cost
summary; spans go to ./mlcost-spans.jsonl unless OTEL_EXPORTER_OTLP_ENDPOINT or
MLCOST_SPANS_PATH says otherwise.

    python examples/hf_trainer.py --steps 10
"""

from __future__ import annotations

import argparse
import os
import tempfile

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # nothing here needs the hub

import torch
from transformers import GPT2Config, GPT2LMHeadModel, Trainer, TrainingArguments

import mlcost_sdk as mlcost
from mlcost_sdk.integrations.transformers import MlcostCallback


def synthetic_dataset(n: int, seq: int, vocab: int, seed: int = 0) -> list[dict[str, torch.Tensor]]:
    """Right-padded token sequences of random lengths; padding is masked and not in the loss."""
    gen = torch.Generator().manual_seed(seed)
    rows = []
    for _ in range(n):
        length = int(torch.randint(seq // 4, seq + 1, (1,), generator=gen))
        mask = (torch.arange(seq) < length).long()
        ids = torch.randint(1, vocab, (seq,), generator=gen) * mask  # 0 is the pad token
        rows.append({"input_ids": ids, "attention_mask": mask,
                     "labels": ids.masked_fill(mask == 0, -100)})
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=10, help="optimizer steps")
    ap.add_argument("--usd-per-hour", type=float, default=0.34,
                    help="what this machine costs per hour (user-given price)")
    args = ap.parse_args()

    mlcost.configure(
        service_name="hf-trainer",
        tags={"team": "research", "model": "tiny-gpt2", "environment": "experiment",
              "cost_center": "ml-platform", "owner": "you"},
        price=mlcost.Price(usd_per_hour=args.usd_per_hour),
    )
    torch.manual_seed(0)
    config = GPT2Config(n_layer=2, n_embd=128, n_head=4, vocab_size=1024, n_positions=128,
                        bos_token_id=0, eos_token_id=0, pad_token_id=0)
    model = GPT2LMHeadModel(config)
    callback = MlcostCallback("hf-tiny-gpt2", tags={"experiment_id": "hf-001"}, window_steps=5)
    with tempfile.TemporaryDirectory() as out:
        training_args = TrainingArguments(
            output_dir=out, max_steps=args.steps, per_device_train_batch_size=4,
            gradient_accumulation_steps=2, learning_rate=5e-4, report_to="none", use_cpu=True,
            save_strategy="no", logging_strategy="no", disable_tqdm=True)
        trainer = Trainer(model=model, args=training_args,
                          train_dataset=synthetic_dataset(8 * args.steps, 64, 1024),
                          callbacks=[callback])
        trainer.train()
    mlcost.flush()
    assert callback.run is not None
    print(callback.run.summary)


if __name__ == "__main__":
    main()
