"""Accelerator catalog: dense figures, exact names, sources, and no borrowed peaks."""

from __future__ import annotations

import datetime as dt

import pytest

from mlcost_sdk.catalog import (
    DTYPES,
    Accelerator,
    all_accelerators,
    lookup_accelerator,
    normalize_dtype,
)
from mlcost_sdk.catalog._store import normalize
from mlcost_sdk.errors import InvalidParameterError

# The names drivers report (nvidia-smi --query-gpu=name, torch.cuda.get_device_name, ROCm),
# each with the entry it must resolve to.
REAL_NAMES = {
    "Tesla V100-SXM2-16GB": "v100-sxm2-16gb",
    "Tesla V100-SXM2-32GB": "v100-sxm2-32gb",
    "Tesla V100-PCIE-16GB": "v100-pcie-16gb",
    "Tesla V100-PCIE-32GB": "v100-pcie-32gb",
    "Tesla T4": "t4",
    "NVIDIA A10G": "a10g",
    "NVIDIA L4": "l4",
    "NVIDIA L40S": "l40s",
    "NVIDIA A100-SXM4-40GB": "a100-sxm4-40gb",
    "NVIDIA A100-SXM4-80GB": "a100-sxm4-80gb",
    "NVIDIA A100-PCIE-40GB": "a100-pcie-40gb",
    "NVIDIA A100 80GB PCIe": "a100-pcie-80gb",
    "NVIDIA H100 80GB HBM3": "h100-sxm",
    "NVIDIA H100 PCIe": "h100-pcie",
    "NVIDIA H100 NVL": "h100-nvl",
    "NVIDIA H200": "h200",
    "NVIDIA H200 NVL": "h200-nvl",
    "NVIDIA B200": "b200",
    "AMD Instinct MI300X": "mi300x",
    "NVIDIA A40": "a40",
    "AMD Instinct MI325X": "mi325x",
    "TPU v5 lite": "tpu-v5e",  # JAX's device_kind
    "TPU v6 lite": "tpu-v6e",
    "TPU v4": "tpu-v4",  # JAX's device_kind
    "TPU v5": "tpu-v5p",  # JAX's device_kind for v5p
    "AWS Trainium": "trainium",  # AWS product names: Neuron has no NVML-style name
    "AWS Trainium2": "trainium2",
    "AWS Inferentia2": "inferentia2",
}

# Independent restatement of each datasheet: (dense bf16-or-fp16 TFLOP/s, the sparse figure the
# datasheet headlines, or None where the chip has no sparsity). Dense must match, never sparse.
DENSE_TENSOR_TFLOPS = {
    "v100-sxm2-16gb": (125, None), "v100-sxm2-32gb": (125, None),
    "v100-pcie-16gb": (112, None), "v100-pcie-32gb": (112, None),
    "t4": (65, None), "a10g": (70, 140), "l4": (121, 242), "l40s": (362.05, 733),
    "a100-sxm4-40gb": (312, 624), "a100-sxm4-80gb": (312, 624),
    "a100-pcie-40gb": (312, 624), "a100-pcie-80gb": (312, 624),
    "h100-sxm": (989.4, 1979), "h100-pcie": (756.5, 1513), "h100-nvl": (835.5, 1671),
    "h200": (989.5, 1979), "h200-nvl": (835.5, 1671), "b200": (2250, 4500),
    "mi300x": (1307.4, 2614.9),
    "tpu-v5e": (197, None), "tpu-v6e": (918, None),  # Google Cloud TPU docs, per chip
    "a40": (149.7, 299.4), "mi325x": (1307.4, 2614.9),
    "tpu-v4": (275, None), "tpu-v5p": (459, None),  # Google Cloud TPU docs, per chip
    # AWS Neuron architecture docs, per chip; Trainium2's sparse figure is printed apart
    "trainium": (190, None), "inferentia2": (190, None), "trainium2": (667, 2563),
}


@pytest.mark.parametrize(("name", "key"), sorted(REAL_NAMES.items()))
def test_every_real_device_name_resolves_to_its_own_entry(name: str, key: str) -> None:
    acc = lookup_accelerator(name)
    assert acc is not None and acc.key == key
    assert name in acc.names


def test_the_catalog_covers_the_required_devices_and_nothing_unlisted() -> None:
    assert {a.key for a in all_accelerators()} == set(DENSE_TENSOR_TFLOPS)
    assert set(REAL_NAMES.values()) == set(DENSE_TENSOR_TFLOPS)


def test_l40s_is_not_the_l4() -> None:
    l4, l40s = lookup_accelerator("NVIDIA L4"), lookup_accelerator("NVIDIA L40S")
    assert l4 is not None and l40s is not None and l4.key != l40s.key
    assert (l40s.peak_flops("bf16") or 0) / (l4.peak_flops("bf16") or 1) == pytest.approx(
        3.0, rel=0.01)


@pytest.mark.parametrize("name", [
    "NVIDIA L40", "NVIDIA H100", "H100", "NVIDIA H100 80GB HBM3 (MIG 1g.10gb)", "NVIDIA L4 ",
    "NVIDIA GeForce RTX 4090", "Intel(R) Data Center GPU Max 1550", "", "L4",
])
def test_no_substring_or_borrowed_matches(name: str) -> None:
    acc = lookup_accelerator(name)
    # "NVIDIA L4 " differs only by whitespace: it IS the L4, nothing else may match
    assert acc is None or normalize(name) in {normalize(n) for n in acc.lookup_names()}


def test_unknown_device_has_no_peak() -> None:
    assert lookup_accelerator("NVIDIA L40") is None
    assert lookup_accelerator("Some Future GPU 9000") is None


def test_case_and_whitespace_are_forgiven() -> None:
    acc = lookup_accelerator("  nvidia   h100 80gb HBM3 ")
    assert acc is not None and acc.key == "h100-sxm"
    assert (lookup_accelerator("A100-80GB") or acc).key == "a100-sxm4-80gb"  # an alias


@pytest.mark.parametrize(("key", "figures"), sorted(DENSE_TENSOR_TFLOPS.items()))
def test_every_entry_is_dense(key: str, figures: tuple[float, float | None]) -> None:
    dense, sparse = figures
    acc = lookup_accelerator(key)
    assert acc is not None
    tensor = acc.peak_flops("bf16") or acc.peak_flops("fp16")
    assert tensor == pytest.approx(dense * 1e12, rel=0.005)
    if sparse is not None:
        assert tensor != pytest.approx(sparse * 1e12, rel=0.05)


def test_headline_dense_figures() -> None:
    h100, a100 = lookup_accelerator("h100-sxm"), lookup_accelerator("NVIDIA A100-SXM4-40GB")
    assert h100 is not None and a100 is not None
    assert h100.peak_flops("bf16") == pytest.approx(989e12, rel=0.001)  # not 1,979e12
    assert a100.peak_flops("bf16") == 312e12
    assert a100.peak_flops("fp8") is None  # Ampere has no fp8: no borrowed figure


def test_every_entry_cites_a_source_and_a_date() -> None:
    today = dt.date.today()
    for acc in all_accelerators():
        assert len(acc.source) > 20, acc.key
        assert dt.date.fromisoformat(acc.date) <= today, acc.key
        assert acc.vendor in ("NVIDIA", "AMD", "Google", "AWS") and acc.memory_gb > 0 and acc.names


def test_every_name_belongs_to_one_entry() -> None:
    seen: dict[str, str] = {}
    for acc in all_accelerators():
        for name in acc.lookup_names():
            assert seen.setdefault(normalize(name), acc.key) == acc.key, name


def test_dtype_names() -> None:
    for spelling, dtype in [("bf16", "bf16"), ("bfloat16", "bf16"), ("torch.bfloat16", "bf16"),
                            ("float16", "fp16"), ("torch.float32", "fp32"), ("TF32", "tf32"),
                            ("float8_e4m3fn", "fp8"), ("int8", "int8")]:
        assert normalize_dtype(spelling) == dtype
    assert set(DTYPES) == {"fp32", "tf32", "bf16", "fp16", "fp8", "int8"}
    with pytest.raises(InvalidParameterError, match="dtype"):
        normalize_dtype("fp4")
    v100 = lookup_accelerator("Tesla V100-SXM2-16GB")
    assert v100 is not None and v100.peak_flops("bf16") is None
    assert v100.peak_flops("torch.float16") == 125e12


# Tensor paths never run slower than the plain fp32 path, and narrower types never slower than
# wider ones on the same chip: an entry breaking this holds a sparse, per-board or mistyped figure.
_NOT_SLOWER_THAN = [("tf32", "fp32"), ("bf16", "fp32"), ("fp16", "fp32"), ("fp8", "bf16"),
                    ("fp8", "fp16"), ("int8", "bf16"), ("int8", "fp16")]


@pytest.mark.parametrize("acc", all_accelerators(), ids=lambda a: a.key)
def test_every_entry_orders_its_dtypes_as_dense_peaks_do(acc: Accelerator) -> None:
    for fast, slow in _NOT_SLOWER_THAN:
        if fast in acc.peak and slow in acc.peak:
            assert acc.peak[fast] >= acc.peak[slow], (acc.key, fast, slow)


@pytest.mark.parametrize(("name", "not_key"), [
    ("TPU v4 lite", "tpu-v4"), ("TPU v5 lite", "tpu-v5p"), ("AWS Inferentia", "inferentia2"),
    ("Trainium3", "trainium2"),
])
def test_sibling_devices_do_not_borrow_each_others_peak(name: str, not_key: str) -> None:
    acc = lookup_accelerator(name)
    assert acc is None or acc.key != not_key
