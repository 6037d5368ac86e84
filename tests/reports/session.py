"""A ten-minute session of spans: a training run with 30-second windows (utilization and MFU
varying), a served model with its idle periods, and LLM calls; written through the real SDK and
JSONL exporter. The HTML page must show it in seconds-wide buckets, not one bar."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from mlcost_sdk import conventions as c

from .spans import T0, Spec, Writer, gpu

START = T0 + timedelta(hours=14)
TRAIN = {"cost_center": "cc-1", "team": "search", "model": "bert", "environment": "dev",
         "owner": "ana"}
WINDOWS = 20  # of 30 s: a ten-minute run at $7.20/h = $0.002/s


def write_session(path: Path) -> list[Spec]:
    trainer, serving, app = (Writer(path, s) for s in ("trainer", "bert-api", "rag-app"))
    for i, (name, experiment, share) in enumerate((("finetune", "exp-1", 1.0),
                                                   ("sweep-a", "exp-2", 0.5),
                                                   ("sweep-b", "exp-2", 0.25))):
        seconds = WINDOWS * 30 * share
        tags = {**TRAIN, "experiment_id": experiment}
        run = trainer.span(c.KIND_TRAINING_RUN, START, seconds, cost=0.002 * seconds,
                           tags=tags, **gpu(2, 7.2), **{
                               c.RUN_ID: f"run-{i}", c.RUN_NAME: name, c.MFU: 0.35,
                               c.UTILIZATION_MEAN: 0.8})
        if i == 0:
            for w in range(WINDOWS):
                trainer.span(c.KIND_TRAINING_WINDOW, START + timedelta(seconds=30 * w), 30,
                             cost=0.06, tags=tags, parent=run, **gpu(2, 7.2), **{
                                 c.RUN_ID: "run-0", c.WINDOW_INDEX: w,
                                 c.UTILIZATION_MEAN: 0.6 + 0.015 * w, c.MFU: 0.2 + 0.01 * w})
    serve = {**TRAIN, "environment": "prod"}
    for m in range(10):  # a minute each: 6 s of requests, 54 s idle at $3.60/h
        minute = START + timedelta(minutes=m)
        serving.span(c.KIND_INFERENCE, minute, 6.0 * (m % 3 + 1) / 2, cost=0.001 * 3 * (
            m % 3 + 1), tags=serve, **gpu(1, 3.6), **{c.MODEL: "bert"})
        serving.span(c.KIND_IDLE, minute + timedelta(seconds=10), 50, cost=0.05, tags=serve,
                     **gpu(1, 3.6))
    for k in range(5):
        app.span(c.KIND_LLM_CALL, START + timedelta(minutes=2 * k), 1.5, cost=0.01,
                 tags={**TRAIN, "model": "gpt-4o-mini", "environment": "prod"}, **{
                     c.GEN_AI_PROVIDER_NAME: "openai", c.GEN_AI_REQUEST_MODEL: "gpt-4o-mini"})
    specs = [s for w in (trainer, serving, app) for s in w.specs]
    for w in (trainer, serving, app):
        w.close()
    return specs
