"""One bad setting is one typed error at configure() (or Price()), naming the setting, the
value and, for names, the closest valid ones; it never becomes an "internal error" later."""

from __future__ import annotations

from pathlib import Path

import pytest

import mlcost_sdk as mlcost
from mlcost_sdk.errors import ConfigError, InvalidParameterError, MlcostError
from mlcost_sdk.runtime import config
from mlcost_sdk.testing import Capture


@pytest.mark.parametrize(("kwargs", "setting", "hint"), [
    ({"dtype": "fp33"}, "dtype", "did you mean 'fp32'"),
    ({"dtype": "bfloat61"}, "dtype", "did you mean 'bfloat16'"),
    ({"dtype": 123}, "dtype", None),
    ({"clock": "x"}, "clock", None),
    ({"exporters": [object()]}, "exporters", None),
    ({"exporters": ["jsnol"]}, "exporters", "did you mean 'jsonl'"),
    ({"exporters": "jsonl"}, "exporters", None),
    ({"shutdown_timeout_s": -1}, "shutdown_timeout_s", None),
    ({"handle_sigterm": "no"}, "handle_sigterm", None),
    ({"record_exception_details": 1}, "record_exception_details", None),
])
def test_a_bad_setting_is_named_with_its_value(cap: Capture, kwargs: dict[str, object],
                                               setting: str, hint: str | None) -> None:
    before = config.settings()
    with pytest.raises(InvalidParameterError) as err:
        mlcost.configure(**kwargs)
    assert err.value.parameter == setting
    value = next(iter(kwargs.values()))
    named = value[0] if isinstance(value, list) else value  # a list: the bad element
    assert repr(named) in str(err.value)
    if hint:
        assert hint in str(err.value)
    assert config.settings() is before  # nothing changed


def test_a_mistyped_instance_is_refused_at_once_with_the_closest_name() -> None:
    with pytest.raises(InvalidParameterError) as err:
        mlcost.Price(instance="p4d.24xlarg")
    assert err.value.parameter == "Price.instance"
    assert "did you mean 'p4d.24xlarge'" in str(err.value)


def test_a_broken_catalog_file_is_named_at_configure(cap: Capture, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from mlcost_sdk.catalog import reset_catalog

    bad = tmp_path / "catalog.toml"
    bad.write_text("[instances.x\nbroken")
    monkeypatch.setenv("MLCOST_CATALOG", str(bad))
    reset_catalog()
    try:
        with pytest.raises(ConfigError) as err:
            mlcost.configure(service_name="svc")
        assert "MLCOST_CATALOG" in str(err.value) and str(bad) in str(err.value)
    finally:
        monkeypatch.delenv("MLCOST_CATALOG")
        reset_catalog()


def test_a_user_mistake_at_run_start_is_not_called_internal(
        cap: Capture, caplog: pytest.LogCaptureFixture) -> None:
    from mlcost_sdk.guard import record_internal_error

    record_internal_error("training_run.start",
                          InvalidParameterError("Price.instance", "x", "an instance"))
    assert "internal" not in caplog.text and "Price.instance" in caplog.text
    assert issubclass(InvalidParameterError, MlcostError)
