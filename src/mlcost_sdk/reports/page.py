"""The HTML report: one self-contained page (inline CSS and SVG, no script, no network)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from html import escape

from .. import conventions as c
from . import svg
from .rollup import UNTAGGED, Rollup, Row, Stats
from .text import money, percent, quantity, utc
from .usage import NS_PER_HOUR, Usage, feed

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


class PageData:
    """What the page shows, fed one usage at a time (memory: groups and hours, not usages)."""

    def __init__(self) -> None:
        self.team_model = Rollup(("team", "model"))
        self.model = Rollup(("model",))
        self.start_ns: int | None = None
        self.end_ns: int | None = None
        self.hourly: dict[int, dict[str, float]] = {}  # hour start -> kind -> cost
        self.utilization = [0.0] * (_BINS + 1)  # cost by value bin
        self.mfu = [0.0] * (_BINS + 1)
        self.seen_utilization = self.seen_mfu = False

    def add(self, u: Usage) -> None:
        self.team_model.add(u)
        self.model.add(u)
        self.start_ns = u.start_ns if self.start_ns is None else min(self.start_ns, u.start_ns)
        self.end_ns = u.end_ns if self.end_ns is None else max(self.end_ns, u.end_ns)
        for hour, fraction in u.buckets(NS_PER_HOUR):
            by_kind = self.hourly.get(hour)
            if by_kind is None:
                by_kind = self.hourly[hour] = dict.fromkeys(KIND_COLORS, 0.0)
            by_kind[u.kind] += u.cost_usd * fraction
        if u.utilization is not None:
            self.seen_utilization = True
            self.utilization[_bin(u.utilization)] += u.cost_usd
        if u.mfu is not None and u.kind == c.KIND_TRAINING_RUN:
            self.seen_mfu = True
            self.mfu[_bin(u.mfu)] += u.cost_usd


def _bin(value: float) -> int:
    """Bins of 10% (0-10%, ..., 90-100%), and above 100% for suspect MFU."""
    return min(int(max(value, 0.0) * _BINS), _BINS - 1) if value <= 1 else _BINS


def _cost_over_time(data: PageData, start: int, end: int) -> str:
    width = NS_PER_HOUR * (24 if end - start > 2 * 24 * NS_PER_HOUR else 1)
    first = start - start % width
    n = int((max(end - 1, start) - first) // width) + 1
    by_kind = {k: [0.0] * n for k in KIND_COLORS}
    for hour, costs in data.hourly.items():  # hours fold into days exactly: both start at 0
        for kind, cost in costs.items():
            by_kind[kind][(hour - hour % width - first) // width] += cost
    fmt = "%m-%d" if width > NS_PER_HOUR else "%H:00"
    labels = [datetime.fromtimestamp((first + i * width) / 1e9, UTC).strftime(fmt)
              for i in range(n)]
    series = [svg.Series(k, KIND_COLORS[k], v) for k, v in by_kind.items() if any(v)]
    return svg.columns(labels, series, fmt=money, title="cost over time")


def _cost_by(rows: Sequence[Row], key: str) -> str:
    top = [r for r in rows if r.level == 1][:_TOP_GROUPS]
    return svg.bars([(r.path[0], r.stats.cost_usd) for r in top], fmt=money,
                    title=f"cost by {key}")


def _distribution(costs: list[float], seen: bool, title: str) -> str:
    """Cost by value bin (0-10%, ..., 90-100%, and above 100% for suspect MFU)."""
    if not seen:
        return svg.empty("no span reported it")
    labels = [f"{10 * i}%" for i in range(_BINS)] + [">100%"]
    if not costs[-1]:
        labels, costs = labels[:-1], costs[:-1]
    return svg.columns(labels, [svg.Series("cost", "#4c78a8", costs)], fmt=money, title=title)


def _idle_share(model_rows: Sequence[Row]) -> str:
    rows = [r for r in model_rows if r.level == 1 and r.stats.idle_share is not None]
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


def render(items: Iterable[Usage], *, sources: Sequence[str] = ()) -> str:
    """The page for these usages (read once); ``sources`` (files or URLs) are named in its
    header."""
    data = PageData()
    feed(items, data)
    return render_data(data, sources=sources)


def render_data(data: PageData, *, sources: Sequence[str] = ()) -> str:
    """The page for what ``data`` was fed."""
    team_model = data.team_model.rows()
    total = team_model[0].stats
    if data.start_ns is not None and data.end_ns is not None:
        period = f"{utc(data.start_ns)} to {utc(data.end_ns)}"
        plots = [
            _figure("plot-cost-over-time", "Cost over time", "per UTC day (hour for short "
                    "ranges), by kind; a span crossing a boundary is split by time",
                    _cost_over_time(data, data.start_ns, data.end_ns)),
            _figure("plot-cost-by-team", "Cost by team", f"top {_TOP_GROUPS}; {UNTAGGED} = no "
                    "team tag", _cost_by(team_model, "team")),
            _figure("plot-cost-by-model", "Cost by model", f"top {_TOP_GROUPS}",
                    _cost_by(data.model.rows(), "model")),
            _figure("plot-utilization", "Utilization distribution", "cost by mean device "
                    "utilization of each span, in bins of 10% labelled by their lower edge",
                    _distribution(data.utilization, data.seen_utilization, "utilization")),
            _figure("plot-mfu", "MFU distribution", "cost by model FLOP utilization of each "
                    "training run, in bins of 10%",
                    _distribution(data.mfu, data.seen_mfu, "MFU")),
            _figure("plot-idle-share", "Idle share", "share of each model's serving cost paid "
                    "with no request in flight", _idle_share(data.model.rows())),
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
