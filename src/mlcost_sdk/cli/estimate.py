"""``mlcost estimate training|inference|llm|tco|storage``: the cost model before a run.

A table by default, ``--json`` for machines, ``--scenarios`` for optimistic / expected /
pessimistic, with the uncertain inputs of each estimate varied by ``--spread`` (default 25%).
"""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .. import _validate as v
from .. import costmodel as cm
from ..catalog import all_accelerators, lookup_accelerator, require_instance
from ..errors import InvalidParameterError


@dataclass
class Plan:
    """One estimate to run: the function, its inputs, what is uncertain, and the cost to rank by."""

    title: str
    estimate: Callable[..., Any]
    inputs: dict[str, Any]
    metric: str
    vary: dict[str, tuple[float, float]] = field(default_factory=dict)


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "estimate", help="estimate costs before a run",
        description="Estimate training, inference, LLM, TCO or storage costs.")
    parser.set_defaults(handler=lambda _args: parser.error(
        "estimate needs a kind: training, inference, llm, tco or storage"))
    kinds = parser.add_subparsers(title="kinds", metavar="KIND")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--json", action="store_true", help="print JSON instead of a table")
    common.add_argument("--scenarios", action="store_true",
                        help="optimistic / expected / pessimistic, varying the uncertain inputs")
    common.add_argument("--spread", type=float, default=0.25,
                        help="relative range of the uncertain inputs for --scenarios (0.25)")
    for name, add_flags, plan in _KINDS:
        sub = kinds.add_parser(name, parents=[common], help=plan.__doc__,
                               description=plan.__doc__)
        add_flags(sub)
        sub.set_defaults(handler=lambda args, plan=plan: _run(args, plan(args)))


def _number(parser: argparse._ActionsContainer, flag: str, text: str, **kw: Any) -> None:
    parser.add_argument(flag, type=float, help=text, **kw)


# --- training ---------------------------------------------------------------------------------

def _training_flags(p: argparse.ArgumentParser) -> None:
    _number(p, "--params", "model parameters (with --tokens: FLOPs = 6 x params x tokens)")
    _number(p, "--tokens", "training tokens")
    _number(p, "--flops", "total training FLOPs, measured (instead of --params --tokens)")
    _number(p, "--gpus", "GPUs in the job (1)", default=1)
    _number(p, "--mfu", "model FLOP utilization, 0-1 (typically 0.3-0.6)", required=True)
    p.add_argument("--dtype", default="bf16", help="dtype trained in, for the catalog peak (bf16)")
    peak = p.add_mutually_exclusive_group()
    peak.add_argument("--gpu", help="catalog accelerator name, e.g. h100-sxm, 'NVIDIA L40S'")
    _number(peak, "--peak-tflops", "dense peak TFLOP/s per GPU")
    price = p.add_mutually_exclusive_group()
    _number(price, "--gpu-hour-usd", "USD per GPU-hour", dest="gpu_usd_per_hour")
    price.add_argument("--instance", help="catalog instance: its price per GPU (and its GPU)")
    _number(p, "--comm-overhead", "fraction added to wall clock for communication (0)",
            default=0.0)


def _training_plan(a: argparse.Namespace) -> Plan:
    """training run: FLOPs, wall clock, GPU-hours and cost"""
    instance = require_instance(a.instance) if a.instance else None
    if a.peak_tflops is not None:
        peak, peak_source = v.positive("peak_tflops", a.peak_tflops) * 1e12, "user"
    else:
        name = a.gpu or (instance.accelerator if instance else None)
        if name is None:
            raise InvalidParameterError("gpu", None, "given (or --peak-tflops, or --instance)")
        accelerator = lookup_accelerator(name)
        if accelerator is None:
            known = ", ".join(sorted(acc.key for acc in all_accelerators()))
            raise InvalidParameterError("gpu", name, f"an accelerator in the catalog ({known})")
        per_gpu = accelerator.peak_flops(a.dtype)
        if per_gpu is None:
            supported = ", ".join(accelerator.peak)
            raise InvalidParameterError("dtype", a.dtype,
                                        f"a dtype {accelerator.key} has a peak for ({supported})")
        peak, peak_source = per_gpu, f"catalog:{accelerator.key}"
    if a.gpu_usd_per_hour is not None:
        price, price_source = a.gpu_usd_per_hour, "user"
    elif instance is not None:
        price, price_source = instance.usd_per_accelerator_hour, f"catalog:{instance.name}"
    else:
        raise InvalidParameterError("gpu_usd_per_hour", None, "given (or --instance)")
    plan = Plan("training estimate", cm.estimate_training, dict(
        params=a.params, tokens=a.tokens, flops=a.flops, gpus=a.gpus, mfu=a.mfu,
        peak_flops_per_s=peak, gpu_usd_per_hour=price, comm_overhead=a.comm_overhead,
        peak_source=peak_source, price_source=price_source), metric="cost_usd")
    plan.vary["mfu"] = cm.around(a.mfu, a.spread, maximum=1.0)
    if a.comm_overhead:
        plan.vary["comm_overhead"] = cm.around(a.comm_overhead, a.spread)
    return plan


# --- inference --------------------------------------------------------------------------------

def _inference_flags(p: argparse.ArgumentParser) -> None:
    price = p.add_mutually_exclusive_group(required=True)
    _number(price, "--instance-hour-usd", "USD per instance-hour", dest="instance_usd_per_hour")
    price.add_argument("--instance", help="catalog instance whose price to use")
    _number(p, "--instances", "instances serving (1)", default=1)
    _number(p, "--rps-per-instance", "requests per second one instance sustains", required=True)
    _number(p, "--idle-buffer", "share of capacity kept free as headroom, 0-1 (0)", default=0.0)
    _number(p, "--overhead", "share added to compute for LB, monitoring... (0)", default=0.0)
    _number(p, "--monthly-requests", "requests a month: gives the realized cost per request")
    _number(p, "--month-hours", f"hours in a month ({cm.MONTH_HOURS:g})", default=cm.MONTH_HOURS)
    _number(p, "--target-utilization", "utilization to size the fleet for (0.7)", default=0.7)


def _inference_plan(a: argparse.Namespace) -> Plan:
    """inference fleet: cost per request at capacity and realized, monthly cost"""
    if a.instance:
        instance = require_instance(a.instance)
        price, price_source = instance.usd_per_hour, f"catalog:{instance.name}"
    else:
        price, price_source = a.instance_usd_per_hour, "user"
    inputs = dict(instance_usd_per_hour=price, instances=a.instances,
                  rps_per_instance=a.rps_per_instance, idle_buffer=a.idle_buffer,
                  overhead=a.overhead, monthly_requests=a.monthly_requests,
                  month_hours=a.month_hours, target_utilization=a.target_utilization,
                  price_source=price_source)
    if a.monthly_requests is None:  # no volume: the uncertainty is what one instance sustains
        plan = Plan("inference estimate", cm.estimate_inference, inputs,
                    metric="cost_per_request_at_capacity_usd")
        plan.vary["rps_per_instance"] = cm.around(a.rps_per_instance, a.spread)
    else:  # idle capacity: the volume decides what a request really costs
        plan = Plan("inference estimate", cm.estimate_inference, inputs,
                    metric="realized_cost_per_request_usd")
        plan.vary["monthly_requests"] = cm.around(a.monthly_requests, a.spread)
    return plan


# --- llm --------------------------------------------------------------------------------------

def _llm_flags(p: argparse.ArgumentParser) -> None:
    _number(p, "--requests-per-day", "requests a day", required=True)
    _number(p, "--input-tokens", "input tokens per request (cached included)", required=True)
    _number(p, "--output-tokens", "output tokens per request", required=True)
    _number(p, "--cached-input-tokens", "input tokens per request read from cache (0)",
            default=0.0)
    p.add_argument("--model", help="model name priced by genai-prices, e.g. gpt-4o")
    p.add_argument("--provider", help="genai-prices provider id, e.g. openai (found if omitted)")
    _number(p, "--input-usd-per-1k", "USD per 1K input tokens (instead of --model)")
    _number(p, "--output-usd-per-1k", "USD per 1K output tokens (instead of --model)")
    _number(p, "--cached-input-usd-per-1k", "USD per 1K cached input tokens (the input price)")
    _number(p, "--month-days", f"days in a month ({cm.LLM_MONTH_DAYS:g})",
            default=cm.LLM_MONTH_DAYS)


def _llm_plan(a: argparse.Namespace) -> Plan:
    """LLM API calls: cost per request, per day and per month"""
    if a.provider and not a.model:
        raise InvalidParameterError("provider", a.provider, "given with --model")
    plan = Plan("LLM estimate", cm.estimate_llm, dict(
        requests_per_day=a.requests_per_day, input_tokens=a.input_tokens,
        output_tokens=a.output_tokens, cached_input_tokens=a.cached_input_tokens,
        model=a.model, provider=a.provider, input_usd_per_1k=a.input_usd_per_1k,
        output_usd_per_1k=a.output_usd_per_1k, cached_input_usd_per_1k=a.cached_input_usd_per_1k,
        month_days=a.month_days), metric="monthly_cost_usd")
    plan.vary["requests_per_day"] = cm.around(a.requests_per_day, a.spread)
    plan.vary["output_tokens"] = cm.around(a.output_tokens, a.spread)
    if not a.cached_input_tokens:  # fewer input tokens than cached ones would be nonsense
        plan.vary["input_tokens"] = cm.around(a.input_tokens, a.spread)
    return plan


# --- tco --------------------------------------------------------------------------------------

def _tco_flags(p: argparse.ArgumentParser) -> None:
    _number(p, "--compute-monthly-usd", "compute spend a month, self-hosted", required=True)
    _number(p, "--managed-premium", "share the managed service adds to compute, e.g. 0.3",
            required=True)
    _number(p, "--engineer-annual-usd", "fully-loaded engineer cost a year", required=True)
    _number(p, "--self-hosted-hours-per-week", "ops hours a week self-hosted", required=True)
    _number(p, "--managed-hours-per-week", "ops hours a week managed", required=True)


def _tco_plan(a: argparse.Namespace) -> Plan:
    """TCO: self-hosted vs managed, with break-even compute"""
    plan = Plan("TCO estimate (annual)", cm.estimate_tco, dict(
        compute_monthly_usd=a.compute_monthly_usd, managed_premium=a.managed_premium,
        engineer_annual_usd=a.engineer_annual_usd,
        self_hosted_hours_per_week=a.self_hosted_hours_per_week,
        managed_hours_per_week=a.managed_hours_per_week), metric="self_hosted_annual_usd")
    # the usual unknown: how much running it yourself really takes
    plan.vary["self_hosted_hours_per_week"] = cm.around(a.self_hosted_hours_per_week, a.spread)
    return plan


# --- storage ----------------------------------------------------------------------------------

def _storage_flags(p: argparse.ArgumentParser) -> None:
    _number(p, "--params", "model parameters", required=True)
    _number(p, "--bytes-per-param", "bytes per parameter: 2 fp16/bf16, 4 fp32 (2)", default=2.0)
    _number(p, "--checkpoints", "checkpoints kept (1)", default=1)
    _number(p, "--usd-per-gb-month", "object storage USD per GB-month "
            f"({cm.OBJECT_STORAGE_USD_PER_GB_MONTH})", default=cm.OBJECT_STORAGE_USD_PER_GB_MONTH)


def _storage_plan(a: argparse.Namespace) -> Plan:
    """checkpoint storage: size and monthly cost (GB = 1e9 bytes)"""
    plan = Plan("storage estimate", cm.estimate_storage, dict(
        params=a.params, bytes_per_param=a.bytes_per_param, checkpoints=a.checkpoints,
        usd_per_gb_month=a.usd_per_gb_month), metric="monthly_cost_usd")
    low, high = cm.around(v.count("checkpoints", a.checkpoints), a.spread)
    plan.vary["checkpoints"] = (max(1, math.floor(low)), math.ceil(high))  # whole checkpoints
    return plan


_KINDS: tuple[tuple[str, Callable[[argparse.ArgumentParser], None],
                    Callable[[argparse.Namespace], Plan]], ...] = (
    ("training", _training_flags, _training_plan),
    ("inference", _inference_flags, _inference_plan),
    ("llm", _llm_flags, _llm_plan),
    ("tco", _tco_flags, _tco_plan),
    ("storage", _storage_flags, _storage_plan),
)


# --- output -----------------------------------------------------------------------------------

def _run(args: argparse.Namespace, plan: Plan) -> int:
    try:
        if args.scenarios:
            data = cm.three_scenarios(plan.estimate, plan.inputs, plan.vary,
                                      plan.metric).as_dict()
        else:
            data = plan.estimate(**plan.inputs).as_dict()
    except OverflowError:
        raise ValueError(f"the {plan.title} overflows with these inputs: one of them is out of "
                         "range") from None
    _require_finite(plan.title, data)
    if args.json:
        print(json.dumps(data, indent=2, allow_nan=False))
    else:
        print(_scenario_table(plan.title, data) if args.scenarios else _table(plan.title, data))
    return 0


def _require_finite(title: str, data: Mapping[str, Any]) -> None:
    """An input near the float limit (``--params 1e308``) makes a figure infinite: that is the
    user's one-line error, never an ``Infinity`` in the output (not JSON) or ``$inf``."""
    for key, value in data.items():
        if isinstance(value, Mapping):
            _require_finite(title, value)
        elif isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"the {title}'s {key} comes out as {value} with these inputs: one "
                             "of them is out of range")


def _format(key: str, value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, str | bool) or not isinstance(value, int | float):
        return str(value)
    if key == "wall_clock_hours" and value > 48:  # 11,685 h means little; 487 days does
        return f"{_format('', value)} h ({value / 24:,.1f} days)"
    money = "$" if key.endswith("_usd") else ""
    size = abs(value)
    if size >= 1e9 or 0 < size < 1e-3:
        return f"{money}{value:.4g}"
    if float(value).is_integer():
        return f"{money}{int(value):,}"
    return f"{money}{value:,.2f}" if size >= 100 else f"{money}{value:.4g}"


def _table(title: str, data: Mapping[str, Any]) -> str:
    width = max(map(len, data))
    return "\n".join([title, *(f"  {k:<{width}}  {_format(k, val)}" for k, val in data.items())])


def _scenario_table(title: str, data: Mapping[str, Any]) -> str:
    names = ("optimistic", "expected", "pessimistic")
    rows = [(f"{'* ' if k in data['varied'] else ''}{k}", [_format(k, data[n][k]) for n in names])
            for k in data["expected"]]
    width = max(len(label) for label, _ in rows)
    cols = [max(len(n), *(len(cells[i]) for _, cells in rows)) for i, n in enumerate(names)]

    def line(label: str, cells: Iterable[str]) -> str:
        return f"  {label:<{width}}  " + "  ".join(
            f"{c:>{w}}" for c, w in zip(cells, cols, strict=True))

    return "\n".join([f"{title}: three scenarios, ranked by {data['metric']} (* = varied input)",
                      line("", names), *(line(label, cells) for label, cells in rows)])
