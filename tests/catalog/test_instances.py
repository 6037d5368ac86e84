"""Instance price snapshot: every entry priced, sourced, dated and tied to a catalog accelerator."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from mlcost_sdk.catalog import all_instances, lookup_accelerator, lookup_instance, require_instance
from mlcost_sdk.errors import InvalidParameterError


def test_every_instance_is_priced_sourced_and_dated() -> None:
    today = dt.date.today()
    for inst in all_instances():
        assert inst.provider in ("aws", "gcp", "azure"), inst.name
        assert inst.region and inst.usd_per_hour > 0 and inst.accelerator_count >= 1
        assert inst.source.startswith("https://"), inst.name
        assert dt.date.fromisoformat(inst.date) <= today
        assert lookup_accelerator(inst.accelerator) is not None, inst.name


@pytest.mark.parametrize("family", [
    r"p3\.", r"p4d\.", r"p4de\.", r"p5\.", r"g5\.", r"g6\.", r"g6e\.",
    r"a2-", r"a3-", r"g2-", r"Standard_NC", r"Standard_ND",
])
def test_the_common_gpu_families_are_present(family: str) -> None:
    assert any(re.match(family, inst.name) for inst in all_instances())


def test_lookup_is_exact_but_case_insensitive() -> None:
    p3 = lookup_instance("P3.2XLARGE")
    assert p3 is not None and p3.name == "p3.2xlarge"
    assert p3.usd_per_hour == 3.06  # the worked example's p3.2xlarge, one V100
    assert (p3.accelerator, p3.accelerator_count) == ("v100-sxm2-16gb", 1)
    assert lookup_instance("p3.2x") is None and lookup_instance("p3") is None
    azure = lookup_instance("nd96isr_h100_v5")  # alias without "Standard_"
    assert azure is not None and azure.name == "Standard_ND96isr_H100_v5"


def test_per_accelerator_price() -> None:
    p4d = lookup_instance("p4d.24xlarge")
    assert p4d is not None and p4d.accelerator == "a100-sxm4-40gb"
    assert p4d.usd_per_accelerator_hour == pytest.approx(p4d.usd_per_hour / 8)


def test_require_instance_names_the_parameter() -> None:
    with pytest.raises(InvalidParameterError) as err:
        require_instance("p9.imaginary")
    assert err.value.parameter == "instance"
    assert "p5.48xlarge" in str(err.value)
