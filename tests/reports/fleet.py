"""A small fleet's month of spans: a served model, a torchrun job, CPU training runs and LLM
calls, written through the real SDK and JSONL exporter."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from mlcost_sdk import conventions as c

from .spans import T0, Spec, Writer, cpu, gpu

SEARCH_PROD = {"cost_center": "cc-search", "team": "search", "model": "bert",
               "environment": "prod", "owner": "ana"}
SEARCH_EXP = {**SEARCH_PROD, "environment": "dev", "experiment_id": "exp-1"}
ADS_TRAIN = {"cost_center": "cc-ads", "team": "ads", "model": "ranker", "environment": "dev",
             "owner": "bo", "experiment_id": "exp-7"}
ADS_LLM = {"cost_center": "cc-ads", "team": "ads", "model": "gpt-4o-mini",
           "environment": "prod", "owner": "bo"}
DAYS_SERVED = 14
REQUESTS_PER_DAY = 6


def write_fleet(path: Path) -> list[Spec]:
    serving, trainer, batch, app = (Writer(path, s) for s in ("bert-api", "trainer", "batch",
                                                              "rag-app"))
    for d in range(DAYS_SERVED):  # $3.60/h = $0.001/s on one GPU
        day = T0 + timedelta(days=d)
        serving.span(c.KIND_IDLE, day, 3600, cost=3.6, tags=SEARCH_PROD, **gpu(1, 3.6))
        for k in range(REQUESTS_PER_DAY):
            serving.span(c.KIND_INFERENCE, day + timedelta(hours=10, minutes=k), 2.0,
                         cost=0.002, tags=SEARCH_PROD, **gpu(1, 3.6), **{
                             c.MODEL: "bert", c.HTTP_ROUTE: "/predict",
                             c.UTILIZATION_MEAN: 0.5 + 0.05 * k, c.TOKENS: 128})
    start = T0 + timedelta(days=2, hours=9, minutes=30)
    for rank, (mfu, util) in enumerate([(0.4, 0.9), (0.3, 0.7)]):  # a torchrun job, 2 ranks
        # rank 0 carries the whole-job MFU (0.42) besides its own (0.4)
        job = {c.JOB_SCOPE: True, c.TOKENS_PER_S: 5000.0, c.DIST_JOB_MFU: 0.42} \
            if rank == 0 else {}
        run = trainer.span(c.KIND_TRAINING_RUN, start, 5 * 3600, cost=10.0, tags=SEARCH_EXP,
                           **gpu(1, 2.0), **job, **{
                               c.RUN_ID: "job-1", c.RUN_NAME: "finetune", c.DIST_RANK: rank,
                               c.DIST_WORLD_SIZE: 2, c.MFU: mfu, c.UTILIZATION_MEAN: util,
                               c.TOKENS: 1_000_000})
        for w in range(2):  # a breakdown of the run: never added to it
            trainer.span(c.KIND_TRAINING_WINDOW, start + timedelta(hours=2.5 * w), 2.5 * 3600,
                         cost=5.0, tags=SEARCH_EXP, parent=run, **gpu(1, 2.0),
                         **{c.RUN_ID: "job-1", c.WINDOW_INDEX: w})
    for on_day, hours, mfu, util in ((1, 5, 0.2, 0.5), (15, 15, 0.5, 0.9)):  # $0.80/h, 8 cores
        batch.span(c.KIND_TRAINING_RUN, T0 + timedelta(days=on_day), hours * 3600,
                   cost=0.8 * hours, tags=ADS_TRAIN, **cpu(8, 0.8), **{
                       c.RUN_ID: f"ranker-{on_day}", c.RUN_NAME: "ranker", c.MFU: mfu,
                       c.UTILIZATION_MEAN: util, c.SAMPLES: 10_000})
    for week, calls in ((0, 10), (1, 10), (2, 40)):
        for i in range(calls):
            app.span(c.KIND_LLM_CALL, T0 + timedelta(days=7 * week + 3, minutes=i), 1.5,
                     cost=0.02, tags=ADS_LLM, **{
                         c.GEN_AI_PROVIDER_NAME: "openai", c.GEN_AI_REQUEST_MODEL: "gpt-4o-mini",
                         c.GEN_AI_INPUT_TOKENS: 1000, c.GEN_AI_OUTPUT_TOKENS: 200})
    writers = (serving, trainer, batch, app)
    for writer in writers:
        writer.close()
    return [s for writer in writers for s in writer.specs]


def counted(specs: list[Spec]) -> list[Spec]:
    """The specs a report must count: every kind but training windows."""
    return [s for s in specs if s.kind != c.KIND_TRAINING_WINDOW]
