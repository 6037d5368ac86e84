"""The runtime on GPU hosts, through the NVML test double (tests/sampling/fake_nvml.py):
the only stand-in in the suite, for hardware these machines lack."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import mlcost_sdk as mlcost
from mlcost_sdk import conventions as c
from mlcost_sdk.catalog import lookup_accelerator, lookup_instance
from mlcost_sdk.sampling import Sampler, get_sampler
from mlcost_sdk.testing import ManualClock, capture, tick_sampler, use_sampler
from tests.conftest import FULL_TAGS
from tests.sampling.fake_nvml import FakeGpu, FakeNvml
from tests.sampling.sampling_helpers import wait_for

EXP = {"experiment_id": "gpu-1"}


@pytest.fixture
def gpus(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[FakeGpu]]:
    """Two fake GPUs behind the process-wide sampler; tests may rename them first."""
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    devices = [FakeGpu("GPU-aaaa"), FakeGpu("GPU-bbbb")]
    with use_sampler(Sampler(nvml=FakeNvml(devices))):
        yield devices


@pytest.fixture
def gpu_sampler(gpus: list[FakeGpu]) -> Sampler:
    return get_sampler()  # the one `gpus` put in place


def test_known_gpus_give_catalog_peak_mfu_and_an_instance_share(
        gpu_sampler: Sampler, gpus: list[FakeGpu]) -> None:
    clock = ManualClock()
    price = mlcost.Price(instance="p5.48xlarge")  # 8 x H100: two GPUs pay a quarter
    with capture(tags=FULL_TAGS, price=price, clock=clock, warmup_steps=0) as cap:
        with mlcost.training_run("t", tags=EXP, flops_per_step=1e15, dtype="bf16") as run:
            for _ in range(4):
                clock.advance(1.0)
                run.step()
            tick_sampler(2)  # the run has GPU readings, however slow the thread
    a = cap.span(c.KIND_TRAINING_RUN).attributes
    instance = lookup_instance("p5.48xlarge")
    h100 = lookup_accelerator("NVIDIA H100 80GB HBM3")
    assert instance is not None and h100 is not None
    assert a[c.HW_KIND] == "gpu" and a[c.HW_COUNT] == 2.0
    assert a[c.HW_MODEL] == "NVIDIA H100 80GB HBM3"
    assert a[c.PRICE_USD_PER_HOUR] == pytest.approx(instance.usd_per_hour * 2 / 8)
    assert a[c.PRICE_SOURCE] == "catalog:p5.48xlarge"
    peak = 2 * h100.peak_flops("bf16")
    assert a[c.FLOPS_PEAK_PER_S] == pytest.approx(peak)
    assert a[c.MFU] == pytest.approx(1e15 / peak)
    assert a[c.UTILIZATION_SOURCE] == "nvml"
    assert run.summary.cost_usd == pytest.approx(instance.usd_per_hour / 4 * 4 / 3600)


def test_an_unknown_gpu_gets_no_peak_and_no_mfu(gpus: list[FakeGpu]) -> None:
    for gpu in gpus:
        gpu.name = "NVIDIA Hypothetical X1"
    clock = ManualClock()
    with capture(tags=FULL_TAGS, price=mlcost.Price(usd_per_device_hour=2.0), clock=clock,
                 warmup_steps=0) as cap:
        with mlcost.training_run("t", tags=EXP, flops_per_step=1e12) as run:
            clock.advance(1.0)
            run.step()
    a = cap.span(c.KIND_TRAINING_RUN).attributes
    assert a[c.FLOPS_ACHIEVED_PER_S] == pytest.approx(1e12)
    for absent in (c.MFU, c.FLOPS_PEAK_PER_S, c.FLOPS_PEAK_SOURCE, c.MFU_SUSPECT):
        assert absent not in a
    assert a[c.PRICE_USD_PER_HOUR] == pytest.approx(4.0)  # $2 x 2 GPUs
    assert run.summary.mfu is None


def test_a_driver_failing_mid_run_never_reaches_the_training_loop(
        gpu_sampler: Sampler, gpus: list[FakeGpu]) -> None:
    with capture(tags=FULL_TAGS, price=1.0, sample_interval_s=0.01) as cap:
        with mlcost.training_run("t", tags=EXP) as run:
            for i in range(50):
                if i == 10:
                    tick_sampler(1)
                    gpus[0].lost = True
                    # the sampler meets the lost GPU while the run is going on
                    wait_for(lambda: gpu_sampler.errors >= 1)
                run.step()
            tick_sampler(2)  # and goes on reading the other one
    a = cap.span(c.KIND_TRAINING_RUN).attributes
    assert a[c.STEPS] == 50
    assert gpu_sampler.errors == 1  # met once, then the lost GPU is not asked again
    assert a[c.UTILIZATION_SOURCE] == "nvml"


@pytest.mark.parametrize(("name", "key"), [("Tesla T4", "t4"),
                                           ("Tesla V100-SXM2-16GB", "v100-sxm2-16gb")])
def test_a_gpu_without_bf16_gets_its_fp16_peak_for_bf16_and_says_so(
        gpus: list[FakeGpu], name: str, key: str) -> None:
    for gpu in gpus:
        gpu.name = name
    clock = ManualClock()
    with capture(tags=FULL_TAGS, price=mlcost.Price(usd_per_device_hour=1.0), clock=clock,
                 warmup_steps=0) as cap:
        with mlcost.training_run("t", tags=EXP, flops_per_step=1e12) as run:  # GPU default: bf16
            clock.advance(1.0)
            run.step()
    a = cap.span(c.KIND_TRAINING_RUN).attributes
    acc = lookup_accelerator(name)
    assert acc is not None and acc.peak_flops("bf16") is None
    fp16 = acc.peak_flops("fp16")
    assert fp16 is not None
    assert a[c.DTYPE] == "bf16" and a[c.FLOPS_PEAK_PER_S] == pytest.approx(2 * fp16)
    assert a[c.FLOPS_PEAK_SOURCE] == f"catalog:{key},fp16_for_bf16"
    assert run.summary.mfu == pytest.approx(1e12 / (2 * fp16))
