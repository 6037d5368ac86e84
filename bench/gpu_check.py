"""GPU check for a lent accelerator machine: one script, well under 3 minutes.

    python bench/gpu_check.py

1. The NVML sampler on every visible GPU: model, memory, utilization, power, energy.
2. MFU of a bf16 matmul, measured with CUDA events, against the catalog's dense peak.
3. MFU of a short training loop run through mlcost.training_run (with the torch flop counter
   when available), against the same peak.
Prints a markdown table for docs/benchmarks.md. Exits non-zero if no GPU is visible.
"""

from __future__ import annotations

import sys
import time

import torch

import mlcost_sdk as mlcost
from mlcost_sdk.catalog import lookup_accelerator
from mlcost_sdk.sampling import get_sampler
from mlcost_sdk.testing import capture

TAGS = {"team": "bench", "model": "gpu-check", "environment": "dev", "cost_center": "c",
        "owner": "o", "experiment_id": "gpu-check"}


def matmul_mfu(n: int = 8192, iters: int = 50) -> tuple[float, float | None]:
    a = torch.randn(n, n, device="cuda", dtype=torch.bfloat16)
    b = torch.randn(n, n, device="cuda", dtype=torch.bfloat16)
    for _ in range(5):
        a @ b
    start = torch.cuda.Event(enable_timing=True)  # type: ignore[no-untyped-call]
    end = torch.cuda.Event(enable_timing=True)  # type: ignore[no-untyped-call]
    start.record()
    for _ in range(iters):
        a @ b
    end.record()
    torch.cuda.synchronize()
    achieved = 2 * n**3 * iters / (start.elapsed_time(end) / 1e3)
    acc = lookup_accelerator(torch.cuda.get_device_name(0))
    peak = acc.peak_flops("bf16") if acc is not None else None
    return achieved, (achieved / peak if peak else None)


def training_mfu(seconds: float = 20.0) -> mlcost.RunSummary:
    d, layers, seq, batch = 2048, 8, 1024, 8
    layer = torch.nn.TransformerEncoderLayer(d, 16, 4 * d, dropout=0.0, batch_first=True)
    model = torch.nn.TransformerEncoder(layer, layers).cuda().to(torch.bfloat16)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    x = torch.randn(batch, seq, d, device="cuda", dtype=torch.bfloat16)
    params = sum(p.numel() for p in model.parameters())
    with capture(tags=TAGS, price=1.0, warmup_steps=3):
        with mlcost.training_run("gpu-check", params=params, dtype="bf16",
                                 window_seconds=5.0) as run:
            deadline = time.monotonic() + seconds
            while time.monotonic() < deadline:
                model(x).float().pow(2).mean().backward()
                opt.step()
                opt.zero_grad(set_to_none=True)
                run.step(tokens=batch * seq)
            torch.cuda.synchronize()
    return run.summary


def main() -> int:
    if not torch.cuda.is_available():
        print("no CUDA device visible", file=sys.stderr)
        return 1
    sampler = get_sampler()
    sampler.acquire()
    tracker = sampler.track()
    rows: list[tuple[str, str]] = [("sampler source", sampler.source)]
    for dev in sampler.devices:
        acc = lookup_accelerator(dev.name)
        rows.append((f"GPU {dev.index}", f"{dev.name} ({dev.uuid}), catalog entry: "
                     f"{acc.key if acc else 'none (no peak, no MFU)'}"))
    achieved, mfu = matmul_mfu()
    rows.append(("bf16 matmul 8192^3, achieved", f"{achieved / 1e12:.1f} TFLOP/s"))
    rows.append(("bf16 matmul MFU vs catalog dense peak", f"{mfu:.3f}" if mfu else "n/a"))
    summary = training_mfu()
    rows.append(("training loop tokens/s", f"{summary.tokens_per_s or 0:,.0f}"))
    rows.append(("training loop MFU (6ND formula, warm-up excluded)",
                 f"{summary.mfu:.3f}" if summary.mfu is not None else "n/a"))
    stats = tracker.close()
    rows.append(("utilization mean / max / p95 (NVML: time a kernel ran)",
                 f"{stats.utilization_mean} / {stats.utilization_max} / {stats.utilization_p95}"))
    rows.append(("energy over the check", f"{stats.energy_joules} J ({stats.energy_source})"))
    rows.append(("peak memory", f"{stats.memory_peak_bytes} B"))
    sampler.release()
    print("| check | result |\n|---|---|")
    for k, v in rows:
        print(f"| {k} | {v} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
