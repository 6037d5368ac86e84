"""The HTML report: one self-contained page (inline CSS and SVG, no script, no network)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from html import escape

from .. import conventions as c
from . import svg
from .rollup import UNTAGGED, Row, Stats, rollup
from .text import money, percent, quantity, utc
from .usage import NS_PER_HOUR, Usage

KIND_COLORS = {c.KIND_TRAINING_RUN: "#4c78a8", c.KIND_INFERENCE: "#f58518",
               c.KIND_IDLE: "#bab0ac", c.KIND_LLM_CALL: "#54a24b"}
_BINS = 10
_TOP_GROUPS = 12

_CSS = """
body{font-family:system-ui,sans-serif;margin:24px;color:#222;background:#fafafa}
h1{font-size:22px;margin:0 0 4px} .meta{color:#666;font-size:13px;margin:0 0 16px}
.kpis{display:flex;flex-wrap:wrap;gap:12px;margin-bottom:16px}
.kpi{background:#fff;border:1px solid #ddd;border-radius:6px;padding:8px 14px}
.kpi b{display:block;font-size:18px} .kpi span{color:#666;font-size:12px}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(580px,1fr));gap:16px}
figure{background:#fff;border:1px solid #ddd;border-radius:6px;margin:0;padding:10px}
figcaption{font-weight:600;margin-bottom:6px} figcaption small{font-weight:400;color:#666}
table{border-collapse:collapse;background:#fff;margin-top:16px;font-size:13px}
th,td{border:1px solid #ddd;padding:4px 8px;text-align:right} th:first-child,td:first-child,
th:nth-child(2),td:nth-child(2){text-align:left}
"""


def _figure(plot_id: str, caption: str, note: str, chart: str) -> str:
    return (f'<figure class="plot" id="{plot_id}"><figcaption>{escape(caption)} '
            f"<small>{escape(note)}</small></figcaption>{chart}</figure>")


def _cost_over_time(items: Sequence[Usage]) -> str:
    start, end = min(u.start_ns for u in items), max(u.end_ns for u in items)
    width = NS_PER_HOUR * (24 if end - start > 2 * 24 * NS_PER_HOUR else 1)
    first = start - start % width
    n = int((max(end - 1, start) - first) // width) + 1
    by_kind = {k: [0.0] * n for k in KIND_COLORS}
    for u in items:
        for bucket, fraction in u.buckets(width):
            by_kind[u.kind][(bucket - first) // width] += u.cost_usd * fraction
    fmt = "%m-%d" if width > NS_PER_HOUR else "%H:00"
    labels = [datetime.fromtimestamp((first + i * width) / 1e9, UTC).strftime(fmt)
              for i in range(n)]
    series = [svg.Series(k, KIND_COLORS[k], v) for k, v in by_kind.items() if any(v)]
    return svg.columns(labels, series, fmt=money, title="cost over time")


def _cost_by(items: Sequence[Usage], key: str) -> str:
    rows = [r for r in rollup(items, (key,)) if r.level == 1][:_TOP_GROUPS]
    return svg.bars([(r.path[0], r.stats.cost_usd) for r in rows], fmt=money,
                    title=f"cost by {key}")


def _distribution(points: list[tuple[float, float]], title: str) -> str:
    """Cost by value bin (0-10%, ..., 90-100%, and above 100% for suspect MFU)."""
    if not points:
        return svg.empty("no span reported it")
    costs = [0.0] * (_BINS + 1)
    for value, cost in points:
        costs[min(int(max(value, 0.0) * _BINS), _BINS - 1) if value <= 1 else _BINS] += cost
    labels = [f"{10 * i}%" for i in range(_BINS)] + [">100%"]
    if not costs[-1]:
        labels, costs = labels[:-1], costs[:-1]
    return svg.columns(labels, [svg.Series("cost", "#4c78a8", costs)], fmt=money, title=title)


def _idle_share(items: Sequence[Usage]) -> str:
    rows = [r for r in rollup(items, ("model",)) if r.level == 1 and r.stats.idle_share is not None]
    return svg.bars([(r.path[0], r.stats.idle_share or 0.0) for r in rows[:_TOP_GROUPS]],
                    fmt=percent, title="idle share by model", color="#bab0ac", top_value=1.0)


def _kpis(total: Stats) -> str:
    cells = [("total cost", money(total.cost_usd)), ("training", money(total.training_usd)),
             ("serving (idle included)", money(total.inference_usd + total.idle_usd)),
             ("LLM calls", money(total.llm_usd)), ("requests", quantity(total.requests)),
             ("cost per prediction", money(total.cost_per_prediction)),
             ("idle share", percent(total.idle_share)), ("MFU", percent(total.mfu)),
             ("utilization", percent(total.utilization)),
             ("GPU-hours", quantity(total.gpu_hours)),
             ("CPU core-hours", quantity(total.cpu_hours))]
    return '<div class="kpis">' + "".join(
        f'<div class="kpi"><b>{escape(v)}</b><span>{escape(k)}</span></div>'
        for k, v in cells) + "</div>"


def _table(rows: Sequence[Row]) -> str:
    head = ("team", "model", "cost", "requests", "cost / prediction", "idle share", "MFU",
            "utilization")
    body = [[*(r.path + ("",) * (2 - r.level)), money(r.stats.cost_usd),
             quantity(r.stats.requests), money(r.stats.cost_per_prediction),
             percent(r.stats.idle_share), percent(r.stats.mfu), percent(r.stats.utilization)]
            for r in rows if r.level > 0]
    return ("<table><tr>" + "".join(f"<th>{h}</th>" for h in head) + "</tr>"
            + "".join("<tr>" + "".join(f"<td>{escape(v)}</td>" for v in row) + "</tr>"
                      for row in body) + "</table>")


def render(items: Sequence[Usage], *, sources: Sequence[str] = ()) -> str:
    """The page for these usages; ``sources`` (files or URLs) are named in its header."""
    team_model = rollup(items, ("team", "model"))
    total = team_model[0].stats
    if items:
        period = f"{utc(items[0].start_ns)} to {utc(max(u.end_ns for u in items))}"
        plots = [
            _figure("plot-cost-over-time", "Cost over time", "per UTC day (hour for short "
                    "ranges), by kind; a span crossing a boundary is split by time",
                    _cost_over_time(items)),
            _figure("plot-cost-by-team", "Cost by team", f"top {_TOP_GROUPS}; {UNTAGGED} = no "
                    "team tag", _cost_by(items, "team")),
            _figure("plot-cost-by-model", "Cost by model", f"top {_TOP_GROUPS}",
                    _cost_by(items, "model")),
            _figure("plot-utilization", "Utilization distribution", "cost by mean device "
                    "utilization of each span, in bins of 10% labelled by their lower edge",
                    _distribution([(u.utilization, u.cost_usd) for u in items
                                   if u.utilization is not None], "utilization")),
            _figure("plot-mfu", "MFU distribution", "cost by model FLOP utilization of each "
                    "training run, in bins of 10%",
                    _distribution([(u.mfu, u.cost_usd) for u in items if u.mfu is not None
                                   and u.kind == c.KIND_TRAINING_RUN], "MFU")),
            _figure("plot-idle-share", "Idle share", "share of each model's serving cost paid "
                    "with no request in flight", _idle_share(items)),
        ]
    else:
        period, plots = "no records", []
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        '<link rel="icon" href="data:,"><title>mlcost cost report</title>'
        f"<style>{_CSS}</style></head><body><h1>mlcost cost report</h1>"
        f'<p class="meta">{escape(period)} &middot; from {escape(", ".join(sources) or "-")}'
        f" &middot; generated {escape(utc(int(datetime.now(UTC).timestamp() * 1e9)))}</p>"
        f'{_kpis(total)}<div class="grid">{"".join(plots)}</div>{_table(team_model)}'
        "</body></html>\n")
