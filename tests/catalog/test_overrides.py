"""Overrides: TOML, JSON, the MLCOST_CATALOG variable and code; malformed input named exactly."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any, cast

import pytest

from mlcost_sdk.catalog import (
    ENV_VAR,
    Accelerator,
    Instance,
    cpu_peak,
    load_overrides,
    lookup_accelerator,
    lookup_instance,
    register_accelerator,
    register_instance,
    reset_catalog,
    token_price,
)
from mlcost_sdk.errors import CatalogError

OVERRIDE = """
[accelerators.acme-x1]
vendor = "ACME"
names = ["ACME X1 64GB"]
aliases = ["x1"]
memory_gb = 64
dense_tflops = { bf16 = 400, fp32 = 50 }
source = "ACME X1 datasheet rev 2"
date = 2026-01-15

[instances."p5.48xlarge"]
provider = "aws"
region = "us-east-1"
accelerator = "h100-sxm"
accelerator_count = 8
usd_per_hour = 55.04
source = "our AWS invoice"
date = 2026-10-01

[instances.acme-box]
provider = "onprem"
region = "lab"
accelerator = "x1"
accelerator_count = 4
usd_per_hour = 10.0
source = "internal chargeback"
date = 2026-10-01
"""


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_toml_override_adds_and_replaces(tmp_path: Path) -> None:
    assert cast(Instance, lookup_instance("p5.48xlarge")).usd_per_hour == 98.32
    load_overrides(_write(tmp_path, "prices.toml", OVERRIDE))
    p5 = lookup_instance("p5.48xlarge")
    assert p5 is not None and p5.usd_per_hour == 55.04 and p5.source == "our AWS invoice"
    x1 = lookup_accelerator("ACME X1 64GB")
    assert x1 is not None and x1.peak_flops("bf16") == 400e12 and x1.peak_flops("fp8") is None
    box = lookup_instance("acme-box")
    assert box is not None and box.accelerator == "acme-x1"  # alias resolved to the key
    assert lookup_accelerator("NVIDIA H100 80GB HBM3") is not None  # the rest untouched


def test_json_override(tmp_path: Path) -> None:
    doc = {"instances": {"g5.xlarge": {
        "provider": "aws", "region": "eu-west-1", "accelerator": "a10g", "accelerator_count": 1,
        "usd_per_hour": 1.123, "source": "AWS price list API", "date": "2026-11-01"}}}
    load_overrides(_write(tmp_path, "prices.json", json.dumps(doc)))
    g5 = lookup_instance("g5.xlarge")
    assert g5 is not None and (g5.region, g5.usd_per_hour) == ("eu-west-1", 1.123)


def test_env_var_is_read_lazily_on_first_lookup(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_VAR, str(_write(tmp_path, "env.toml", OVERRIDE)))
    reset_catalog()
    assert cast(Instance, lookup_instance("p5.48xlarge")).usd_per_hour == 55.04


def test_a_broken_env_file_fails_every_lookup_clearly(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "missing.toml"))
    reset_catalog()
    for _ in range(2):
        with pytest.raises(CatalogError, match="missing.toml"):
            lookup_accelerator("NVIDIA L4")


def _entry(**fields: Any) -> str:
    base = {"provider": '"aws"', "region": '"us-east-1"', "accelerator": '"l4"',
            "accelerator_count": "1", "usd_per_hour": "0.8", "source": '"x"',
            "date": "2026-01-01"}
    base.update(fields)
    lines = "\n".join(f"{k} = {v}" for k, v in base.items() if v is not None)
    return f'[instances."bad.box"]\n{lines}\n'


@pytest.mark.parametrize(("text", "entry", "field"), [
    (_entry(usd_per_hour=None), "bad.box", "usd_per_hour"),
    (_entry(usd_per_hour="-1.0"), "bad.box", "usd_per_hour"),
    (_entry(usd_per_hour='"cheap"'), "bad.box", "usd_per_hour"),
    (_entry(accelerator='"NVIDIA L40"'), "bad.box", "accelerator"),
    (_entry(accelerator_count="0"), "bad.box", "accelerator_count"),
    (_entry(date='"last tuesday"'), "bad.box", "date"),
    (_entry(usd_per_hr="0.8"), "bad.box", "usd_per_hr"),
    (_entry(source='""'), "bad.box", "source"),
    ('[accelerators.g1]\nvendor = "X"\nnames = ["G1"]\nmemory_gb = 8\nsource = "s"\n'
     'date = 2026-01-01\ndense_tflops = { bf17 = 10 }\n', "g1", "dense_tflops.bf17"),
    ('[accelerators.g1]\nvendor = "X"\nnames = "G1"\nmemory_gb = 8\nsource = "s"\n'
     'date = 2026-01-01\ndense_tflops = { bf16 = 10 }\n', "g1", "names"),
    ("[gpus.g1]\nvendor = 1\n", None, "gpus"),
])
def test_malformed_entries_name_file_entry_and_field(tmp_path: Path, text: str,
                                                     entry: str | None, field: str) -> None:
    path = _write(tmp_path, "bad.toml", text)
    with pytest.raises(CatalogError) as err:
        load_overrides(path)
    assert (err.value.source, err.value.entry, err.value.field) == (str(path), entry, field)
    assert str(path) in str(err.value) and field in str(err.value)


def test_unparseable_files_name_the_file(tmp_path: Path) -> None:
    for name, text in [("broken.toml", "[instances\n"), ("broken.json", "{nope")]:
        path = _write(tmp_path, name, text)
        with pytest.raises(CatalogError, match="is not valid") as err:
            load_overrides(path)
        assert err.value.source == str(path)


def test_a_failed_file_changes_nothing(tmp_path: Path) -> None:
    # the first entry is fine, the second broken: neither may be applied
    text = OVERRIDE + _entry(usd_per_hour="-1.0")
    with pytest.raises(CatalogError):
        load_overrides(_write(tmp_path, "half.toml", text))
    assert cast(Instance, lookup_instance("p5.48xlarge")).usd_per_hour == 98.32
    assert lookup_accelerator("ACME X1 64GB") is None


def test_code_registration() -> None:
    gpu = register_accelerator("lab-gpu", vendor="ACME", names=["ACME Lab GPU"], memory_gb=32,
                               dense_tflops={"bf16": 100}, source="bench sheet",
                               date="2026-02-01")
    assert lookup_accelerator("acme lab gpu") == gpu
    node = register_instance("lab-node", provider="onprem", region="lab",
                             accelerator="ACME Lab GPU", accelerator_count=2, usd_per_hour=4.0,
                             source="chargeback", date="2026-02-01")
    assert node.accelerator == "lab-gpu" and lookup_instance("LAB-NODE") == node
    with pytest.raises(CatalogError) as err:
        register_instance("lab-node-2", provider="onprem", region="lab", accelerator="lab-gpu",
                          accelerator_count=2, usd_per_hour=-4.0, source="x", date="2026-02-01")
    assert (err.value.entry, err.value.field) == ("lab-node-2", "usd_per_hour")


def test_an_override_can_take_a_reported_name_over() -> None:
    register_accelerator("l4-lab-measured", vendor="NVIDIA", names=["NVIDIA L4"], memory_gb=24,
                         dense_tflops={"bf16": 100}, source="our microbenchmark",
                         date="2026-03-01")
    acc = lookup_accelerator("NVIDIA L4")
    assert acc is not None and acc.key == "l4-lab-measured"
    reset_catalog()
    assert cast(Accelerator, lookup_accelerator("NVIDIA L4")).key == "l4"


@pytest.mark.slow  # a fresh Python process
def test_nothing_is_loaded_at_import() -> None:
    code = ("import sys, mlcost_sdk, mlcost_sdk.catalog as c, mlcost_sdk.costmodel\n"
            "from mlcost_sdk.catalog import _store\n"
            "print(_store._catalog is None, 'genai_prices' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ["True", "False"]


def test_no_network_is_touched(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("the catalog tried to open a network connection")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    reset_catalog()
    assert lookup_accelerator("NVIDIA H200") is not None
    assert lookup_instance("a3-highgpu-8g") is not None
    assert token_price("gpt-4o") is not None
    cpu_peak()
