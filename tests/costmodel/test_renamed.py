"""Renamed cost-model names (one vocabulary: ``<thing>_usd_per_hour``, ``peak_flops_per_s``,
``<thing>_monthly_usd``): the new names work, the old ones still do with a DeprecationWarning,
errors name what the caller typed, and the JSON keys of ``mlcost estimate --json`` stay."""

from __future__ import annotations

import warnings
from typing import Any

import pytest

from mlcost_sdk.costmodel import (
    estimate_inference,
    estimate_tco,
    estimate_training,
    usd_per_second,
)
from mlcost_sdk.errors import InvalidParameterError

TRAINING: dict[str, Any] = dict(params=7e9, tokens=1e12, gpus=8, mfu=0.4)
INFERENCE: dict[str, Any] = dict(instances=2, rps_per_instance=50.0)


def test_new_names_give_the_same_result_and_json_keys_as_the_old() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the new names never warn
        new = estimate_training(**TRAINING, peak_flops_per_s=312e12, gpu_usd_per_hour=3.0)
        served = estimate_inference(**INFERENCE, instance_usd_per_hour=3.06)
        data, served_data = new.as_dict(), served.as_dict()
    with pytest.deprecated_call():
        old = estimate_training(**TRAINING, peak_flops_per_gpu=312e12, gpu_hour_usd=3.0)
    assert old == new and old.as_dict() == data
    assert (data["peak_flops_per_gpu"], data["gpu_hour_usd"]) == (312e12, 3.0)
    assert not {"peak_flops_per_s", "gpu_usd_per_hour"} & data.keys()
    assert served_data["instance_hour_usd"] == 3.06
    assert served_data["monthly_compute_usd"] == served.compute_monthly_usd
    assert list(served_data)[0] == "instance_hour_usd"  # the published order too


def test_old_attribute_names_read_the_new_fields_with_a_warning() -> None:
    est = estimate_training(**TRAINING, peak_flops_per_s=312e12, gpu_usd_per_hour=3.0)
    served = estimate_inference(**INFERENCE, instance_usd_per_hour=3.06)
    with pytest.deprecated_call():
        assert est.gpu_hour_usd == est.gpu_usd_per_hour == 3.0
    with pytest.deprecated_call():
        assert est.peak_flops_per_gpu == est.peak_flops_per_s
    with pytest.deprecated_call():
        assert served.instance_hour_usd == served.instance_usd_per_hour
    with pytest.deprecated_call():
        assert served.monthly_compute_usd == served.compute_monthly_usd
    with pytest.deprecated_call():
        assert served.hourly_cost_usd == served.fleet_usd_per_hour
    assert served.as_dict()["hourly_cost_usd"] == served.fleet_usd_per_hour


def test_tco_engineer_rate_keeps_its_old_name_and_json_key() -> None:
    est = estimate_tco(compute_monthly_usd=10_000, managed_premium=0.3,
                       engineer_annual_usd=200_000, self_hosted_hours_per_week=10,
                       managed_hours_per_week=2)
    with pytest.deprecated_call():
        assert est.engineer_hourly_usd == est.engineer_usd_per_hour
    assert est.as_dict()["engineer_hourly_usd"] == est.engineer_usd_per_hour


@pytest.mark.parametrize(("name", "value"), [("gpu_hour_usd", -1.0),
                                             ("gpu_usd_per_hour", -1.0),
                                             ("peak_flops_per_gpu", 0.0),
                                             ("peak_flops_per_s", 0.0)])
def test_an_error_names_the_parameter_as_given(name: str, value: float) -> None:
    inputs = {**TRAINING, "peak_flops_per_s": 312e12, "gpu_usd_per_hour": 3.0}
    inputs.pop(name.replace("gpu_hour_usd", "gpu_usd_per_hour")
               .replace("peak_flops_per_gpu", "peak_flops_per_s"))
    with warnings.catch_warnings(), pytest.raises(InvalidParameterError) as err:
        warnings.simplefilter("ignore", DeprecationWarning)
        estimate_training(**inputs, **{name: value})
    assert err.value.parameter == name


def test_old_and_new_name_together_is_an_error() -> None:
    with pytest.raises(InvalidParameterError) as err:
        estimate_inference(**INFERENCE, instance_usd_per_hour=3.0, instance_hour_usd=3.0)
    assert err.value.parameter == "instance_hour_usd"


def test_usd_per_second_is_the_hourly_price_over_3600() -> None:
    assert usd_per_second(36.0) == 36.0 / 3600.0
