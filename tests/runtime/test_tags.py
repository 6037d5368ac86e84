"""Attribution tags: the source article's own example, free-form environments and their groups."""

from __future__ import annotations

from pathlib import Path

import pytest

import mlcost_sdk as mlcost
from mlcost_sdk import conventions as c
from mlcost_sdk.exporters.jsonl import JsonlSpanExporter
from mlcost_sdk.reports.records import load
from mlcost_sdk.reports.rollup import DEFAULT_BY, rollup
from mlcost_sdk.reports.usage import usages
from mlcost_sdk.runtime.tags import environment_group
from mlcost_sdk.testing import capture

# The required-tags example of the article this project grew from, verbatim.
ARTICLE_TAGS = {"team": "recommendations", "model": "user-embedding-v3",
                "environment": "production", "cost_center": "cc-ml-platform",
                "owner": "ml-platform@company.com", "experiment_id": "exp-2024-001",
                "auto_shutdown": "false"}


def test_the_articles_tag_example_configures_cleanly_and_keeps_the_original() -> None:
    with capture(on_missing_tags="error") as cap:
        mlcost.configure(tags=ARTICLE_TAGS)
        with mlcost.training_run("t") as run:
            run.step()
    attrs = cap.span(c.KIND_TRAINING_RUN).attributes
    assert attrs[c.tag_attribute("environment")] == "production"
    assert attrs[c.DEPLOYMENT_ENVIRONMENT] == "production"


@pytest.mark.parametrize(("given", "group"), [
    ("production", "prod"), ("Production", "prod"), ("prod", "prod"), ("development", "dev"),
    ("dev", "dev"), ("stage", "staging"), ("qa-eu", "qa-eu")])
def test_environment_groups(given: str, group: str) -> None:
    assert environment_group(given) == group


def test_rollups_group_long_forms_and_place_product_between_team_and_model(tmp_path: Path) -> None:
    assert DEFAULT_BY.index("team") < DEFAULT_BY.index("product") < DEFAULT_BY.index("model")
    base = {k: v for k, v in ARTICLE_TAGS.items() if k != "environment"}
    with capture(price=3600.0, tags={**base, "product": "feed"}) as cap:
        for env in ("production", "prod"):
            with mlcost.inference("predict", tags={"environment": env}):
                pass
    path = tmp_path / "spans.jsonl"
    exporter = JsonlSpanExporter(path)
    exporter.export(cap.spans())
    exporter.shutdown()
    requests = [u for u in usages(load([str(path)]).records) if u.kind == c.KIND_INFERENCE]
    rows = rollup(requests, ("product", "environment"))
    assert [r.path for r in rows if r.level == 2] == [("feed", "prod")]
