"""Every attribute and metric name mlcost emits: the one source of truth.

``docs/conventions.md`` is generated from this module (``python -m mlcost_sdk.conventions``)
and a test keeps the two in sync. Where an OpenTelemetry semantic convention exists
(``gen_ai.*``, ``hw.*``, ``deployment.environment.name``, ``http.*``) its name is used as is.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

AttrType = Literal["string", "double", "int", "boolean"]


@dataclass(frozen=True)
class Attribute:
    name: str
    type: AttrType
    unit: str
    brief: str
    semconv: bool = False  # defined by the OpenTelemetry semantic conventions


@dataclass(frozen=True)
class Metric:
    name: str
    instrument: str
    unit: str
    brief: str
    semconv: bool = False


ATTRIBUTES: dict[str, Attribute] = {}
METRICS: dict[str, Metric] = {}


def _attr(name: str, type_: AttrType, unit: str, brief: str, semconv: bool = False) -> str:
    ATTRIBUTES[name] = Attribute(name, type_, unit, brief, semconv)
    return name


def _metric(name: str, instrument: str, unit: str, brief: str, semconv: bool = False) -> str:
    METRICS[name] = Metric(name, instrument, unit, brief, semconv)
    return name


# --- what a span is -------------------------------------------------------------------------
KIND: Final = _attr("mlcost.kind", "string", "",
                    "training_run, training_window, inference, llm_call (metrics also: idle)")
RUN_ID: Final = _attr("mlcost.run.id", "string", "", "id shared by every span and rank of one run")
RUN_NAME: Final = _attr("mlcost.run.name", "string", "", "the name given to training_run()")
WINDOW_INDEX: Final = _attr("mlcost.window.index", "int", "", "0-based index of a training window")
DURATION_S: Final = _attr("mlcost.duration_s", "double", "s", "wall-clock seconds of the span")
MODEL: Final = _attr("mlcost.model", "string", "", "the model an inference call served")
REQUESTS: Final = _attr("mlcost.requests", "int", "{request}",
                        "inference requests served (process summaries, ledger records)")

# --- ledger records: the exact cost of many requests or of a stretch of a run ----------------
RECORD: Final = _attr("mlcost.record", "string", "",
                      "aggregate (many calls of one group in one window) or checkpoint (a run's "
                      "cost so far); absent on a plain span")
RECORD_ID: Final = _attr("mlcost.record.id", "string", "",
                         "unique id of a ledger record, so a re-sent record de-duplicates")
AGGREGATE_NAME: Final = _attr("mlcost.aggregate.name", "string", "",
                              "name of the calls an aggregate record carries (span name, route)")
AGGREGATE_COUNT: Final = _attr("mlcost.aggregate.count", "int", "{call}",
                               "calls or spans whose cost an aggregate record carries")
ERRORS: Final = _attr("mlcost.errors", "int", "{call}",
                      "calls of an aggregate record that failed (exception or 5xx)")
LATENCY_P50_S: Final = _attr("mlcost.latency.p50_s", "double", "s",
                             "median call latency of an aggregate record (sketch, ~1% relative)")
LATENCY_P95_S: Final = _attr("mlcost.latency.p95_s", "double", "s", "p95 call latency")
LATENCY_P99_S: Final = _attr("mlcost.latency.p99_s", "double", "s", "p99 call latency")
SPANS_DROPPED: Final = _attr("mlcost.spans.dropped", "int", "{span}",
                             "spans shed on the way out whose cost this record carries")
COST_IN_LEDGER: Final = _attr("mlcost.cost.in_ledger", "boolean", "",
                              "true when an aggregate record already counts this span's cost "
                              "(reports count it once, there)")

# --- cost -----------------------------------------------------------------------------------
COST_USD: Final = _attr("mlcost.cost.usd", "double", "USD", "cost allocated to this span")
PRICE_USD_PER_HOUR: Final = _attr("mlcost.price.usd_per_hour", "double", "USD/h",
                                  "price per hour of the resources this process uses")
PRICE_SOURCE: Final = _attr("mlcost.price.source", "string", "",
                            "user, catalog:<instance>, genai-prices, or none")
IDLE_COST_USD: Final = _attr("mlcost.idle.cost.usd", "double", "USD",
                             "cost of time with no request in flight (process summaries)")
COST_INPUT_USD: Final = _attr("mlcost.cost.input_usd", "double", "USD", "LLM input-token cost")
COST_OUTPUT_USD: Final = _attr("mlcost.cost.output_usd", "double", "USD", "LLM output-token cost")
BUDGET_USD: Final = _attr("mlcost.budget.usd", "double", "USD", "the run's budget")
BUDGET_PROJECTED_USD: Final = _attr("mlcost.budget.projected_usd", "double", "USD",
                                    "final cost projected from live throughput")
BUDGET_EXCEEDED: Final = _attr("mlcost.budget.exceeded", "boolean", "",
                               "spend or projection crossed the budget")

# --- hardware -------------------------------------------------------------------------------
HW_KIND: Final = _attr("mlcost.hw.kind", "string", "", "gpu or cpu")
HW_COUNT: Final = _attr("mlcost.hw.count", "double", "",
                        "devices in use (GPUs, or CPUs as limited by the cgroup)")
HW_MODEL: Final = _attr("mlcost.hw.model", "string", "", "device model as the driver names it")
UTILIZATION_MEAN: Final = _attr(
    "mlcost.utilization.mean", "double", "1",
    "mean busy fraction over the span; for NVML: fraction of time a kernel ran, not SM occupancy")
UTILIZATION_MAX: Final = _attr("mlcost.utilization.max", "double", "1", "max busy fraction")
UTILIZATION_P95: Final = _attr("mlcost.utilization.p95", "double", "1", "p95 busy fraction")
UTILIZATION_SOURCE: Final = _attr("mlcost.utilization.source", "string", "", "nvml, psutil or none")
UTILIZATION_SAMPLES: Final = _attr(
    "mlcost.utilization.samples", "int", "{sample}",
    "sampler readings inside the span (0: the span got the reading current when it ended)")
UTILIZATION_PROCESS_MEAN: Final = _attr(
    "mlcost.utilization.process.mean", "double", "1",
    "this process's own share of the GPUs (NVML per-process SM samples), where the driver "
    "reports it")
UTILIZATION_SYSTEM_MEAN: Final = _attr("mlcost.utilization.system.mean", "double", "1",
                                       "whole-host CPU busy fraction (psutil; CPU hosts only)")
MEMORY_PEAK_BYTES: Final = _attr("mlcost.memory.peak_bytes", "int", "By",
                                 "peak device memory used (GPU) or process RSS (CPU)")
ENERGY_JOULES: Final = _attr("mlcost.energy.joules", "double", "J", "energy used over the span")
ENERGY_SOURCE: Final = _attr("mlcost.energy.source", "string", "",
                             "nvml_counter (energy counter deltas), nvml_power (power samples "
                             "integrated) or none")
POWER_MEAN_W: Final = _attr("mlcost.power.mean_w", "double", "W", "mean power over the span")

# --- work and efficiency --------------------------------------------------------------------
FLOPS_TOTAL: Final = _attr("mlcost.flops.total", "double", "FLOP", "model FLOPs done")
FLOPS_SOURCE: Final = _attr("mlcost.flops.source", "string", "",
                            "user, flop_counter, formula_6nd (6N per token, N = non-embedding "
                            "params), formula_6nd_attn (6N + 12*layers*d_model*seq_len, PaLM), "
                            "formula_2nd (inference), or none")
FLOPS_PEAK_PER_S: Final = _attr("mlcost.flops.peak_per_s", "double", "FLOP/s",
                                "dense peak of the devices in use for the dtype")
FLOPS_PEAK_SOURCE: Final = _attr("mlcost.flops.peak_source", "string", "",
                                 "catalog:<entry> (',fp16_for_bf16' added where the chip "
                                 "has no bf16 path), "
                                 "cpu_isa:<isa>,max_clock|current_clock, or user")
FLOPS_ACHIEVED_PER_S: Final = _attr("mlcost.flops.achieved_per_s", "double", "FLOP/s",
                                    "total FLOPs / measured seconds (warm-up excluded)")
DTYPE: Final = _attr("mlcost.dtype", "string", "", "compute dtype the peak was taken for")
MFU: Final = _attr("mlcost.mfu", "double", "1",
                   "achieved / peak FLOP/s; absent for an unknown device; never clamped")
MFU_SUSPECT: Final = _attr("mlcost.mfu.suspect", "boolean", "", "true when MFU > 1")
TOKENS: Final = _attr("mlcost.tokens", "int", "{token}", "tokens processed")
SAMPLES: Final = _attr("mlcost.samples", "int", "{sample}", "samples processed")
STEPS: Final = _attr("mlcost.steps", "int", "{step}", "steps taken")
WARMUP_STEPS: Final = _attr("mlcost.steps.warmup", "int", "{step}",
                            "first steps excluded from rates (included in cost)")
TOKENS_PER_S: Final = _attr("mlcost.throughput.tokens_per_s", "double", "{token}/s",
                            "tokens per second, warm-up excluded")
SAMPLES_PER_S: Final = _attr("mlcost.throughput.samples_per_s", "double", "{sample}/s",
                             "samples per second, warm-up excluded")
STEPS_PER_S: Final = _attr("mlcost.throughput.steps_per_s", "double", "{step}/s",
                           "steps per second, warm-up excluded")
GPU_DURATION_S: Final = _attr(
    "mlcost.gpu.duration_s", "double", "s",
    "GPU time from the span's first step start to its last step end (CUDA events; "
    "PyTorch on CUDA only)")

# --- distributed ----------------------------------------------------------------------------
DIST_RANK: Final = _attr("mlcost.dist.rank", "int", "", "global rank")
DIST_LOCAL_RANK: Final = _attr("mlcost.dist.local_rank", "int", "", "rank on this node")
DIST_WORLD_SIZE: Final = _attr("mlcost.dist.world_size", "int", "", "ranks in the job")
JOB_SCOPE: Final = _attr("mlcost.job", "boolean", "",
                         "true on rank 0's whole-job figures (throughput, MFU of all ranks)")
DIST_JOB_TOKENS: Final = _attr("mlcost.dist.job.tokens", "int", "{token}",
                               "tokens of all ranks (rank 0, with mlcost.job)")
DIST_JOB_SAMPLES: Final = _attr("mlcost.dist.job.samples", "int", "{sample}",
                                "samples of all ranks (rank 0, with mlcost.job)")
DIST_JOB_TOKENS_PER_S: Final = _attr("mlcost.dist.job.throughput.tokens_per_s", "double",
                                     "{token}/s", "sum of the ranks' token rates")
DIST_JOB_SAMPLES_PER_S: Final = _attr("mlcost.dist.job.throughput.samples_per_s", "double",
                                      "{sample}/s", "sum of the ranks' sample rates")
DIST_JOB_FLOPS_ACHIEVED_PER_S: Final = _attr("mlcost.dist.job.flops.achieved_per_s", "double",
                                             "FLOP/s", "sum of the ranks' achieved FLOP/s")
DIST_JOB_FLOPS_PEAK_PER_S: Final = _attr(
    "mlcost.dist.job.flops.peak_per_s", "double", "FLOP/s",
    "sum of the ranks' dense peaks; absent when any rank's device is unknown")
DIST_JOB_MFU: Final = _attr("mlcost.dist.job.mfu", "double", "1",
                            "whole-job achieved / peak FLOP/s; never clamped")

# --- tags -----------------------------------------------------------------------------------
TAG_PREFIX: Final = "mlcost.tag."
_attr("mlcost.tag.<key>", "string", "", "one attribute per attribution tag")
DEPLOYMENT_ENVIRONMENT: Final = _attr("deployment.environment.name", "string", "",
                                      "from the environment tag", semconv=True)

# --- GenAI semantic conventions -------------------------------------------------------------
GEN_AI_OPERATION_NAME: Final = _attr("gen_ai.operation.name", "string", "",
                                     "chat, text_completion, embeddings...", semconv=True)
GEN_AI_PROVIDER_NAME: Final = _attr("gen_ai.provider.name", "string", "", "openai, anthropic...",
                                    semconv=True)
GEN_AI_REQUEST_MODEL: Final = _attr("gen_ai.request.model", "string", "", "model asked for",
                                    semconv=True)
GEN_AI_RESPONSE_MODEL: Final = _attr("gen_ai.response.model", "string", "", "model that answered",
                                     semconv=True)
GEN_AI_INPUT_TOKENS: Final = _attr("gen_ai.usage.input_tokens", "int", "{token}",
                                   "input tokens", semconv=True)
GEN_AI_OUTPUT_TOKENS: Final = _attr("gen_ai.usage.output_tokens", "int", "{token}",
                                    "output tokens", semconv=True)
GEN_AI_CACHED_INPUT_TOKENS: Final = _attr("gen_ai.usage.cache_read.input_tokens", "int",
                                          "{token}", "input tokens read from cache", semconv=True)
GEN_AI_CACHE_CREATION_INPUT_TOKENS: Final = _attr(
    "gen_ai.usage.cache_creation.input_tokens", "int", "{token}",
    "input tokens written to the cache (part of the input tokens)", semconv=True)
GEN_AI_REASONING_OUTPUT_TOKENS: Final = _attr(
    "gen_ai.usage.reasoning.output_tokens", "int", "{token}",
    "reasoning tokens (part of the output tokens)", semconv=True)

# --- errors (semantic conventions): the type only; messages are opt-in --------------------------
ERROR_TYPE: Final = _attr("error.type", "string", "", "class of the error that ended the call",
                          semconv=True)
EXCEPTION_TYPE: Final = _attr("exception.type", "string", "",
                              "on the exception event; message and stack trace only when "
                              "record_exception_details is set", semconv=True)

# --- HTTP semantic conventions (server integrations) ----------------------------------------
HTTP_ROUTE: Final = _attr("http.route", "string", "", "route template", semconv=True)
HTTP_METHOD: Final = _attr("http.request.method", "string", "", "HTTP method", semconv=True)
HTTP_STATUS_CODE: Final = _attr("http.response.status_code", "int", "", "status code",
                                semconv=True)

# --- hardware semantic-convention attributes on metrics ---------------------------------------
HW_ID: Final = _attr("hw.id", "string", "", "device id (GPU UUID)", semconv=True)
HW_NAME: Final = _attr("hw.name", "string", "", "device name", semconv=True)
HW_TYPE: Final = _attr("hw.type", "string", "", "gpu", semconv=True)
HW_VENDOR: Final = _attr("hw.vendor", "string", "", "NVIDIA", semconv=True)

# --- values of mlcost.kind ----------------------------------------------------------------------
KIND_TRAINING_RUN: Final = "training_run"
KIND_TRAINING_WINDOW: Final = "training_window"
KIND_INFERENCE: Final = "inference"
KIND_LLM_CALL: Final = "llm_call"
KIND_IDLE: Final = "idle"
RECORD_AGGREGATE: Final = "aggregate"
RECORD_CHECKPOINT: Final = "checkpoint"

# --- metrics --------------------------------------------------------------------------------
METRIC_COST: Final = _metric("mlcost.cost", "counter", "{USD}",
                             "cost by mlcost.kind (idle included) and low-cardinality tags")
METRIC_REQUESTS: Final = _metric("mlcost.request.count", "counter", "{request}",
                                 "requests served (inference) or made (llm_call), by the same "
                                 "attributes as mlcost.cost: cost per request is their ratio")
METRIC_MFU: Final = _metric("mlcost.mfu", "gauge", "1",
                            "model FLOP utilization of each running training run since its "
                            "warm-up, by the mlcost.cost attributes and mlcost.run.name")
METRIC_OVERFLOW: Final = _attr("otel.metric.overflow", "boolean", "",
                               "the metric attribute sets past mlcost's limit (1,024), together",
                               semconv=True)
METRIC_GPU_UTILIZATION: Final = _metric("hw.gpu.utilization", "gauge", "1",
                                        "fraction of time a kernel ran (NVML)", semconv=True)
METRIC_GPU_MEMORY_USAGE: Final = _metric("hw.gpu.memory.usage", "updowncounter", "By",
                                         "GPU memory used", semconv=True)
METRIC_GPU_MEMORY_LIMIT: Final = _metric("hw.gpu.memory.limit", "updowncounter", "By",
                                         "GPU memory total", semconv=True)
METRIC_POWER: Final = _metric("hw.power", "gauge", "W", "instantaneous power", semconv=True)
METRIC_ENERGY: Final = _metric("hw.energy", "counter", "J", "energy consumed", semconv=True)

INSTRUMENTATION_SCOPE: Final = "mlcost_sdk"


def tag_attribute(key: str) -> str:
    return TAG_PREFIX + key


def render_markdown() -> str:
    """The text of docs/conventions.md."""
    lines = [
        "# mlcost-sdk telemetry conventions",
        "",
        "Generated from `src/mlcost_sdk/conventions.py` by `python -m mlcost_sdk.conventions`;",
        "do not edit by hand. Names marked semconv are OpenTelemetry semantic conventions.",
        "",
        "## Span attributes",
        "",
        "| name | type | unit | semconv | meaning |",
        "|---|---|---|---|---|",
    ]
    for a in ATTRIBUTES.values():
        semconv = "yes" if a.semconv else ""
        lines.append(f"| `{a.name}` | {a.type} | {a.unit} | {semconv} | {a.brief} |")
    lines += ["", "## Metrics", "", "| name | instrument | unit | semconv | meaning |",
              "|---|---|---|---|---|"]
    for m in METRICS.values():
        semconv = "yes" if m.semconv else ""
        lines.append(f"| `{m.name}` | {m.instrument} | {m.unit} | {semconv} | {m.brief} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(render_markdown(), end="")
