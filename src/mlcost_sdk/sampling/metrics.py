"""GPU metrics as the OpenTelemetry hardware semantic conventions name them.

The instruments are observable: each collection reads the sampler's latest per-GPU readings,
so a CPU-only host (no GPU readings) exports no ``hw.*`` data points at all.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from opentelemetry.metrics import CallbackOptions, Meter, Observation

from .. import conventions as c
from .readings import DeviceReading
from .sampler import Sampler

_VENDOR = "NVIDIA"  # the only vendor NVML reports

Callback = Callable[[CallbackOptions], Iterable[Observation]]


def _device_attributes(r: DeviceReading) -> dict[str, str]:
    return {c.HW_ID: r.device.uuid, c.HW_NAME: r.device.name, c.HW_TYPE: "gpu",
            c.HW_VENDOR: _VENDOR}


def _observer(sampler: Sampler, name: str,
              value: Callable[[DeviceReading], float | int | None]) -> Callback:
    def observe(_options: CallbackOptions) -> Iterable[Observation]:
        try:
            points = [(value(r), r) for r in sampler.latest()]
            return [Observation(v, _device_attributes(r)) for v, r in points if v is not None]
        except Exception as exc:  # noqa: BLE001 - a collection must never fail the exporter
            sampler.error_log.report(f"observing {name}", exc)
            return []
    return observe


def register_hw_metrics(meter: Meter, sampler: Sampler) -> None:
    """Create the ``hw.*`` observable instruments on ``meter`` (call once per meter)."""
    values: dict[str, Callable[[DeviceReading], float | int | None]] = {
        c.METRIC_GPU_UTILIZATION: lambda r: r.utilization,
        c.METRIC_GPU_MEMORY_USAGE: lambda r: r.memory_used_bytes,
        c.METRIC_GPU_MEMORY_LIMIT: lambda r: r.memory_total_bytes or r.device.memory_total_bytes,
        c.METRIC_POWER: lambda r: r.power_w,
        c.METRIC_ENERGY: lambda r: r.energy_total_j,
    }
    create = {"gauge": meter.create_observable_gauge,
              "updowncounter": meter.create_observable_up_down_counter,
              "counter": meter.create_observable_counter}
    for name, value in values.items():
        spec = c.METRICS[name]
        create[spec.instrument](name, callbacks=[_observer(sampler, name, value)],
                                unit=spec.unit, description=spec.brief)
