"""The HTML page's content: --by honoured, top runs and experiments, cost over time in buckets
that fit the range (seconds to months), utilization and MFU from training windows, idle share
over time; and the time buckets themselves (reports/timeline.py)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mlcost_sdk.cli import main
from mlcost_sdk.reports import page
from mlcost_sdk.reports.records import read
from mlcost_sdk.reports.timeline import MAX_COLUMNS, Timeline

from .fleet import write_fleet
from .session import write_session

S = 10**9
T = 1_741_010_400 * S  # 2025-03-03 14:00 UTC


def _figure(html: str, plot_id: str) -> str:
    start = html.index(f'id="{plot_id}"')
    return html[start:html.index("</figure>", start)]


def _titles(fragment: str) -> list[str]:
    return re.findall(r'class="mark"[^>]*><title>([^<]*)</title>', fragment)


@pytest.mark.parametrize(("seconds", "unit"), [
    (40, "1 s"), (600, "15 s"), (3 * 3600, "5 min"), (36 * 3600, "1 h (UTC)"),
    (20 * 86_400, "UTC day"), (200 * 86_400, "UTC week from Monday"),
    (900 * 86_400, "UTC calendar month")])
def test_buckets_fit_the_range_and_keep_every_dollar(seconds: int, unit: str) -> None:
    line = Timeline(["cost"])
    for i in range(500):  # intervals spread over the range, some crossing bucket edges
        start = T + seconds * S * i // 500
        line.add(start, start + seconds * S // 300, {"cost": 0.01})
    labels, sums, shown = line.display()
    assert shown == unit and 1 < len(labels) <= MAX_COLUMNS
    assert sum(sums["cost"]) == pytest.approx(5.0, rel=1e-12)
    assert len(line.buckets) <= 4097  # memory bounded by buckets, not records


def test_month_columns_are_calendar_months() -> None:
    line = Timeline(["x"])
    jan31 = 1_738_281_600 * S  # 2025-01-31 00:00 UTC
    line.add(jan31, jan31 + 2 * 86_400 * S, {"x": 2.0})  # Jan 31 and Feb 1
    line.add(jan31 + 400 * 86_400 * S, jan31 + 400 * 86_400 * S, {"x": 1.0})
    labels, sums, unit = line.display()
    assert unit == "UTC calendar month" and labels[:2] == ["2025-01", "2025-02"]
    assert sums["x"][:2] == pytest.approx([1.0, 1.0]) and sum(sums["x"]) == pytest.approx(3.0)


@pytest.fixture
def session_page(tmp_path: Path) -> str:
    path = tmp_path / "spans.jsonl"
    write_session(path)
    return page.render_records(read([str(path)]), by=("team", "experiment_id"),
                               sources=[str(path)])


def test_a_ten_minute_session_is_drawn_in_seconds(session_page: str) -> None:
    cost = _figure(session_page, "plot-cost-over-time")
    assert "per 15 s, by kind" in cost
    marks = _titles(cost)
    assert len({t.split()[0] for t in marks}) > 20  # many columns, not one bar
    assert any("idle:" in t for t in marks) and any("llm_call:" in t for t in marks)


def test_utilization_and_mfu_over_time_come_from_the_windows(session_page: str) -> None:
    chart = _figure(session_page, "plot-training-over-time")
    marks = _titles(chart)
    mfu = [t for t in marks if " MFU: " in t]
    util = [t for t in marks if " utilization: " in t]
    assert len(mfu) == len(util) == 40  # 15 s columns over the 600 s of windows
    assert mfu[0].endswith("MFU: 20.0%") and mfu[-1].endswith("MFU: 39.0%")
    assert util[0].endswith("utilization: 60.0%")


def test_idle_share_over_time(session_page: str) -> None:
    marks = _titles(_figure(session_page, "plot-idle-over-time"))
    assert marks and all(t.endswith("%") for t in marks)
    assert any(t.endswith("100.0%") for t in marks)  # a column of nothing but idle


def test_top_runs_and_experiments(session_page: str) -> None:
    runs = session_page[session_page.index('id="top-runs"'):]
    runs = runs[:runs.index("</table>")]
    names = re.findall(r"<tr><td class=t>([^<]*)</td>", runs)
    assert names == ["finetune", "sweep-a", "sweep-b"]  # costliest first
    experiments = session_page[session_page.index('id="top-experiments"'):]
    experiments = experiments[:experiments.index("</table>")]
    assert re.findall(r"<tr><td class=t>([^<]*)</td><td>(\d+)</td>", experiments) == [
        ("exp-1", "1"), ("exp-2", "2")]


def test_the_page_honours_by(session_page: str) -> None:
    assert 'id="plot-cost-by-team"' in session_page
    assert 'id="plot-cost-by-experiment_id"' in session_page
    assert "Cost by team &gt; experiment_id" in session_page
    assert 'id="plot-cost-by-model"' not in session_page


def test_the_cli_page_uses_by_and_windows(tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    path, out = tmp_path / "spans.jsonl", tmp_path / "r.html"
    write_fleet(path)
    assert main(["report", str(path), "--by", "cost_center,owner", "--html", str(out)]) == 0
    html = out.read_text()
    assert 'id="plot-cost-by-cost_center"' in html and 'id="plot-cost-by-owner"' in html
    assert "per UTC day, by kind" in _figure(html, "plot-cost-over-time")
    names = re.findall(r"<tr><td class=t>([^<]*)</td>",
                       html[html.index('id="top-runs"'):html.index('id="top-experiments"')])
    assert names == ["finetune", "ranker", "ranker"]


def test_unpriced_records_still_have_a_period(tmp_path: Path) -> None:
    from mlcost_sdk import conventions as c

    from .spans import T0, Writer

    path = tmp_path / "spans.jsonl"
    writer = Writer(path)
    writer.span(c.KIND_INFERENCE, T0, 2.0, cost=None, tags={"team": "a"})
    writer.close()
    html = page.render_records(read([str(path)]))
    assert "2025-03-03 00:00 UTC to" in html and "no cost in this period" in html
