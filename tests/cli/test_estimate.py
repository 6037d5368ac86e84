"""`mlcost estimate`: the flag and JSON-key contract of issue 2, tables, scenarios, errors."""

from __future__ import annotations

import json
import shutil
import subprocess
from typing import Any

import pytest

from mlcost_sdk.catalog import lookup_instance
from mlcost_sdk.cli import main

CONTRACT = ["estimate", "training", "--params", "7e9", "--tokens", "1e12", "--gpus", "8",
            "--mfu", "0.4", "--peak-tflops", "312", "--gpu-hour-usd", "3", "--json"]
INFERENCE = ["estimate", "inference", "--instance-hour-usd", "3.06", "--instances", "2",
             "--rps-per-instance", "50", "--idle-buffer", "0.3", "--overhead", "0.15",
             "--monthly-requests", "1e7"]
LLM = ["estimate", "llm", "--requests-per-day", "500", "--input-tokens", "2000",
       "--output-tokens", "500", "--input-usd-per-1k", "0.03", "--output-usd-per-1k", "0.06"]
TCO = ["estimate", "tco", "--compute-monthly-usd", "10000", "--managed-premium", "0.3",
       "--engineer-annual-usd", "200000", "--self-hosted-hours-per-week", "8",
       "--managed-hours-per-week", "2"]
STORAGE = ["estimate", "storage", "--params", "13e9", "--bytes-per-param", "2",
           "--checkpoints", "100"]


def with_flag(argv: list[str], flag: str, value: str) -> list[str]:
    """``argv`` with ``flag``'s value replaced."""
    i = argv.index(flag) + 1
    return [*argv[:i], value, *argv[i + 1:]]


def run_json(capsys: pytest.CaptureFixture[str], argv: list[str]) -> dict[str, Any]:
    assert main([*argv, "--json"] if "--json" not in argv else argv) == 0
    out = capsys.readouterr().out
    data: dict[str, Any] = json.loads(out)
    return data


def test_the_contract_command(capsys: pytest.CaptureFixture[str]) -> None:
    data = run_json(capsys, CONTRACT)
    assert data["cost_usd"] == pytest.approx(280_449, abs=1)
    assert data["total_flops"] == pytest.approx(4.2e22)
    assert round(data["gpu_hours"]) == 93_483
    assert round(data["wall_clock_hours"]) == 11_685


@pytest.mark.slow  # a fresh Python process
def test_the_installed_script_runs_the_contract_command() -> None:
    script = shutil.which("mlcost")
    assert script is not None, "the mlcost console script is not installed"
    done = subprocess.run([script, *CONTRACT], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["cost_usd"] == pytest.approx(280_449, abs=1)


@pytest.mark.slow  # a fresh Python process
def test_the_installed_script_reports_a_bad_value_in_one_line() -> None:
    script = shutil.which("mlcost")
    assert script is not None
    done = subprocess.run([script, "estimate", "training", "--params", "7e9", "--tokens", "1e12",
                           "--mfu", "1.4", "--peak-tflops", "312", "--gpu-hour-usd", "3"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.count("\n") == 1
    assert done.stderr.startswith("mlcost: error: --mfu=1.4 is invalid: must be a number in (0, 1]")


@pytest.mark.parametrize(("argv", "keys", "checks"), [
    (INFERENCE, {"cost_per_request_at_capacity_usd", "monthly_cost_usd",
                 "realized_cost_per_request_usd", "capacity_utilization"},
     {"monthly_cost_usd": 5_137.74, "realized_cost_per_request_usd": 0.000513774,
      "cost_per_request_at_capacity_usd": 7.038 / 3600 / 70, "month_hours": 730}),
    (LLM, {"daily_cost_usd", "monthly_cost_usd", "cost_per_request_usd"},
     {"daily_cost_usd": 45, "monthly_cost_usd": 1_350, "month_days": 30}),
    (TCO, {"self_hosted_annual_usd", "managed_annual_usd", "winner", "difference_usd",
           "break_even_compute_annual_usd"},
     {"self_hosted_annual_usd": 160_000, "managed_annual_usd": 166_000, "difference_usd": 6_000,
      "break_even_compute_annual_usd": 100_000}),
    (STORAGE, {"size_gb", "monthly_cost_usd"}, {"size_gb": 2_600, "monthly_cost_usd": 59.80}),
])
def test_each_kind_reports_its_contract_keys(capsys: pytest.CaptureFixture[str], argv: list[str],
                                             keys: set[str], checks: dict[str, float]) -> None:
    data = run_json(capsys, argv)
    assert keys <= data.keys()
    for key, expected in checks.items():
        assert data[key] == pytest.approx(expected, rel=1e-6), key


def test_tco_winner(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_json(capsys, TCO)["winner"] == "self-hosted"


def test_catalog_gpu_and_instance(capsys: pytest.CaptureFixture[str]) -> None:
    base = CONTRACT[:CONTRACT.index("--peak-tflops")]
    data = run_json(capsys, [*base, "--gpu", "NVIDIA L40S", "--gpu-hour-usd", "2"])
    assert data["peak_flops_per_gpu"] == pytest.approx(362.05e12)
    assert data["peak_source"] == "catalog:l40s"
    data = run_json(capsys, [*base, "--instance", "p4d.24xlarge"])
    p4d = lookup_instance("p4d.24xlarge")
    assert p4d is not None
    assert data["gpu_hour_usd"] == pytest.approx(p4d.usd_per_hour / 8)
    assert data["price_source"] == "catalog:p4d.24xlarge"
    assert data["peak_source"] == "catalog:a100-sxm4-40gb"  # the instance's GPU, bf16 dense
    assert data["cost_usd"] == pytest.approx(data["gpu_hours"] * p4d.usd_per_hour / 8)
    assert data["gpu_hours"] == pytest.approx(93_483, abs=1)  # same run, same A100 peak
    data = run_json(capsys, [*base, "--gpu", "h100-sxm", "--dtype", "fp8", "--gpu-hour-usd", "3"])
    assert data["peak_flops_per_gpu"] == pytest.approx(1978.9e12)


def test_inference_by_instance_and_llm_by_model(capsys: pytest.CaptureFixture[str]) -> None:
    argv = with_flag(INFERENCE, "--instance-hour-usd", "p3.2xlarge")
    argv[argv.index("--instance-hour-usd")] = "--instance"
    data = run_json(capsys, argv)
    assert data["monthly_cost_usd"] == pytest.approx(5_137.74)
    assert data["price_source"] == "catalog:p3.2xlarge"
    data = run_json(capsys, [*LLM[:8], "--model", "gpt-4", "--provider", "openai"])
    assert data["monthly_cost_usd"] == pytest.approx(1_350)
    assert data["price_source"].startswith("genai-prices")


def test_table_is_the_default(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(CONTRACT[:-1]) == 0
    out = capsys.readouterr().out
    assert out.startswith("training estimate\n")
    assert "$280,448.72" in out and "11,685.36" in out and "4.2e+22" in out


@pytest.mark.parametrize("argv", [CONTRACT[:-1], INFERENCE, LLM, TCO, STORAGE])
def test_scenarios_are_ordered(capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    data = run_json(capsys, [*argv, "--scenarios"])
    metric = data["metric"]
    costs = [data[name][metric] for name in ("optimistic", "expected", "pessimistic")]
    assert costs[0] < costs[1] < costs[2]
    assert data["varied"]
    assert main([*argv, "--scenarios"]) == 0
    table = capsys.readouterr().out
    assert "optimistic" in table and "pessimistic" in table and "* " in table


def test_scenario_spread_and_mfu_cap(capsys: pytest.CaptureFixture[str]) -> None:
    argv = with_flag([*CONTRACT, "--scenarios", "--spread", "0.5"], "--mfu", "0.8")
    data = run_json(capsys, argv)
    assert data["varied"]["mfu"] == {"optimistic": 1.0, "pessimistic": pytest.approx(0.4)}


@pytest.mark.parametrize(("argv", "message"), [
    (with_flag(CONTRACT, "--mfu", "0"), "--mfu=0.0 is invalid: must be a number in (0, 1]"),
    (with_flag(CONTRACT, "--gpus", "0"), "--gpus=0.0 is invalid: must be a whole number >= 1"),
    (with_flag(CONTRACT, "--tokens", "abc"), "argument --tokens: invalid float value: 'abc'"),
    ([*CONTRACT, "--gpu", "h100-sxm"], "argument --gpu: not allowed with argument --peak-tflops"),
    (["estimate", "training", "--mfu", "0.4", "--params", "7e9", "--tokens", "1e12",
      "--gpu", "NVIDIA L40", "--gpu-hour-usd", "3"], "--gpu='NVIDIA L40' is invalid"),
    (["estimate", "training", "--mfu", "0.4", "--params", "7e9", "--tokens", "1e12",
      "--gpu", "a100-80gb", "--dtype", "fp8", "--gpu-hour-usd", "3"], "--dtype='fp8' is invalid"),
    (["estimate", "training", "--mfu", "0.4", "--params", "7e9", "--peak-tflops", "312",
      "--gpu-hour-usd", "3"], "--params=7000000000.0 is invalid"),
    (["estimate", "training", "--mfu", "0.4", "--params", "7e9", "--tokens", "1e12",
      "--peak-tflops", "312"], "--gpu-hour-usd is missing: it must be given (or --instance)"),
    (["estimate", "training", "--params", "7e9"], "the following arguments are required: --mfu"),
    ([*INFERENCE, "--instance", "p3.2xlarge"], "not allowed with argument --instance-hour-usd"),
    ([*INFERENCE[:2], "--instance", "p9.huge", *INFERENCE[4:]], "--instance='p9.huge' is invalid"),
    ([*INFERENCE, "--idle-buffer", "1"], "--idle-buffer=1.0 is invalid"),
    ([*LLM[:8], "--model", "no-such-model-xyz"], "--model='no-such-model-xyz' is invalid"),
    ([*LLM[:8], "--provider", "openai"], "--provider='openai' is invalid"),
    ([*LLM, "--month-days", "-30"], "--month-days=-30.0 is invalid"),
    ([*TCO, "--managed-premium", "-0.3"], "--managed-premium=-0.3 is invalid"),
    ([*STORAGE, "--checkpoints", "nan"], "--checkpoints=nan is invalid"),
    ([*STORAGE, "--spread", "2", "--scenarios"], "--spread=2.0 is invalid"),
    ([*CONTRACT, "--bogus"], "unrecognized arguments: --bogus"),
    (["estimate", "gpu-rental"], "invalid choice: 'gpu-rental'"),
    (["estimate"], "estimate needs a kind"),
    ([], "a command is required"),
])
def test_bad_input_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str], argv: list[str],
                                          message: str) -> None:
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("mlcost: error: ")
    assert message in captured.err
    assert captured.err.count("\n") == 1 and "Traceback" not in captured.err


def test_help_exits_zero(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["estimate", "training", "--help"]) == 0
    assert "--peak-tflops" in capsys.readouterr().out
