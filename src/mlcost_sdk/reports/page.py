"""The HTML report: one self-contained page (inline CSS and SVG, no script, no network)."""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from html import escape

from .. import conventions as c
from . import svg
from .records import SpanRecord
from .rollup import UNTAGGED, Rollup, Row, Stats, Totals
from .text import money, percent, quantity, utc
from .timeline import Timeline, ratio
from .usage import Usage, feed, stream_usages

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
caption{text-align:left;font-weight:600;padding:4px 0}
th,td{border:1px solid #ddd;padding:4px 8px;text-align:right} .t{text-align:left}
"""


def _figure(plot_id: str, caption: str, note: str, chart: str) -> str:
    return (f'<figure class="plot" id="{plot_id}"><figcaption>{escape(caption)} '
            f"<small>{escape(note)}</small></figcaption>{chart}</figure>")


_TOP_RUNS = 15
_MAX_TABLE_ROWS = 300
PAGE_BY = ("team", "model")  # the page's default grouping (the CLI passes --by)
_TRAINING = ("utilization", "utilization_s", "mfu", "mfu_s")  # time-weighted sums


class PageData:
    """What the page shows, fed one usage at a time (memory: groups, time buckets and the top
    runs, never one entry per usage). Training windows are detail, not usages: ``tap()`` picks
    them out of the record stream on its way to the usages."""

    def __init__(self, by: Sequence[str] = PAGE_BY) -> None:
        self.by = tuple(by)
        self.groups = Rollup(self.by)
        self.second = Rollup(self.by[1:2]) if len(self.by) > 1 else None
        self.model = Rollup(("model",))
        self.cost = Timeline(tuple(KIND_COLORS))
        self.training = Timeline(_TRAINING)
        self.runs: list[tuple[float, int, Usage]] = []  # a min-heap of the costliest runs
        self._order = itertools.count()
        self.experiments: dict[str, Totals] = {}
        self.utilization = [0.0] * (_BINS + 1)  # cost by value bin
        self.mfu = [0.0] * (_BINS + 1)
        self.seen_utilization = self.seen_mfu = False
        self.start_ns: int | None = None
        self.end_ns: int | None = None

    def add(self, u: Usage) -> None:
        self.start_ns = u.start_ns if self.start_ns is None else min(self.start_ns, u.start_ns)
        self.end_ns = u.end_ns if self.end_ns is None else max(self.end_ns, u.end_ns)
        self.groups.add(u)
        if self.second is not None:
            self.second.add(u)
        self.model.add(u)
        self.cost.add(u.start_ns, u.end_ns, {u.kind: u.cost_usd})
        experiment = u.dimension("experiment_id")
        if experiment is not None:
            self.experiments.setdefault(experiment, Totals()).add(u)
        if u.kind == c.KIND_TRAINING_RUN:
            entry = (u.cost_usd, next(self._order), u)  # the order breaks ties: never a Usage
            if len(self.runs) < _TOP_RUNS:
                heapq.heappush(self.runs, entry)
            elif entry[0] > self.runs[0][0]:
                heapq.heapreplace(self.runs, entry)
        if u.utilization is not None:
            self.seen_utilization = True
            self.utilization[_bin(u.utilization)] += u.cost_usd
        if u.mfu is not None and u.kind == c.KIND_TRAINING_RUN:
            self.seen_mfu = True
            self.mfu[_bin(u.mfu)] += u.cost_usd

    def tap(self, records: Iterable[SpanRecord]) -> Iterator[SpanRecord]:
        """Pass ``records`` through, keeping each training window's utilization and MFU."""
        for r in records:
            if r.kind == c.KIND_TRAINING_WINDOW:
                self.add_window(r)
            yield r

    def add_window(self, r: SpanRecord) -> None:
        seconds = (r.end_ns - r.start_ns) / 1e9
        util, mfu = r.number(c.UTILIZATION_MEAN), r.number(c.MFU)
        values: dict[str, float] = {}
        if util is not None:
            values.update(utilization=util * seconds, utilization_s=seconds)
        if mfu is not None:
            values.update(mfu=mfu * seconds, mfu_s=seconds)
        self.training.add(r.start_ns, r.end_ns, values)


def _bin(value: float) -> int:
    """Bins of 10% (0-10%, ..., 90-100%), and above 100% for suspect MFU."""
    return min(int(max(value, 0.0) * _BINS), _BINS - 1) if value <= 1 else _BINS


def _cost_over_time(data: PageData) -> tuple[str, str]:
    labels, sums, unit = data.cost.display()
    series = [svg.Series(k, KIND_COLORS[k], v) for k, v in sums.items() if any(v)]
    return svg.columns(labels, series, fmt=money, title="cost over time"), unit


def _idle_over_time(data: PageData) -> str:
    labels, sums, _ = data.cost.display()
    serving = [i + d for i, d in zip(sums[c.KIND_INFERENCE], sums[c.KIND_IDLE], strict=True)]
    return svg.lines(labels, [svg.Line("idle share", "#7f7f7f",
                                       ratio(sums[c.KIND_IDLE], serving))],
                     fmt=percent, title="idle share over time", top_value=1.0)


def _training_over_time(data: PageData) -> tuple[str, str]:
    labels, sums, unit = data.training.display()
    chart = svg.lines(labels, [
        svg.Line("utilization", "#54a24b", ratio(sums["utilization"], sums["utilization_s"])),
        svg.Line("MFU", "#4c78a8", ratio(sums["mfu"], sums["mfu_s"]))],
        fmt=percent, title="utilization and MFU over time", top_value=1.0)
    return chart, unit


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


def _html_table(table_id: str, caption: str, head: Sequence[str],
                body: Sequence[Sequence[str]], left: int = 1) -> str:
    """A table whose first ``left`` columns are text (left-aligned), the rest figures."""
    if not body:
        return ""
    def cells(tag: str, row: Sequence[str]) -> str:
        return "".join(f'<{tag}{" class=t" if i < left else ""}>{escape(v)}</{tag}>'
                       for i, v in enumerate(row))
    return (f'<table id="{table_id}"><caption>{escape(caption)}</caption><tr>'
            f'{cells("th", head)}</tr>'
            + "".join(f"<tr>{cells('td', row)}</tr>" for row in body) + "</table>")


_FIGURES = ("cost", "training", "serving", "idle", "LLM", "requests", "cost / prediction",
            "idle share", "MFU", "utilization", "GPU-hours")


def _figures(s: Stats) -> list[str]:
    return [money(s.cost_usd), money(s.training_usd), money(s.inference_usd), money(s.idle_usd),
            money(s.llm_usd), quantity(s.requests), money(s.cost_per_prediction),
            percent(s.idle_share), percent(s.mfu), percent(s.utilization),
            quantity(round(s.gpu_hours, 2))]


def _rollup_table(data: PageData) -> str:
    rows = [r for r in data.groups.rows() if r.level > 0]
    body = [["\u2003" * (r.level - 1) + r.path[-1], *_figures(r.stats)]
            for r in rows[:_MAX_TABLE_ROWS]]
    more = f"; first {_MAX_TABLE_ROWS} of {len(rows)} rows" if len(rows) > _MAX_TABLE_ROWS else ""
    return _html_table("rollup", f"Cost by {' > '.join(data.by)}{more}",
                       [" > ".join(data.by), *_FIGURES], body)


def _top_runs(data: PageData) -> str:
    runs = [u for _, _, u in sorted(data.runs, key=lambda e: (-e[0], e[1]))]
    body = [[str(u.attributes.get(c.RUN_NAME) or "-"), u.dimension("experiment_id") or "-",
             u.dimension("team") or "-", u.dimension("model") or "-", utc(u.start_ns),
             _duration(u.seconds), money(u.cost_usd), percent(u.mfu), percent(u.utilization),
             quantity(round(u.gpu_hours, 2)), str(u.attributes.get(c.RUN_ID) or "-")]
            for u in runs]
    return _html_table("top-runs", f"Top {_TOP_RUNS} training runs by cost",
                       ["run", "experiment", "team", "model", "started", "duration", "cost",
                        "MFU", "utilization", "GPU-hours", "run id"], body, left=5)


def _top_experiments(data: PageData) -> str:
    ranked = sorted(((name, t.stats()) for name, t in data.experiments.items()),
                    key=lambda e: (-e[1].cost_usd, e[0]))[:_TOP_RUNS]
    body = [[name, str(s.runs), money(s.cost_usd), money(s.training_usd), percent(s.mfu),
             percent(s.utilization), quantity(round(s.gpu_hours, 2))] for name, s in ranked]
    return _html_table("top-experiments", f"Top {_TOP_RUNS} experiments by cost",
                       ["experiment", "runs", "cost", "training", "MFU", "utilization",
                        "GPU-hours"], body)


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.1f} s"
    if seconds < 2 * 3600:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h" if seconds < 2 * 86_400 else f"{seconds / 86_400:.1f} d"


def render(items: Iterable[Usage], *, by: Sequence[str] = PAGE_BY,
           sources: Sequence[str] = ()) -> str:
    """The page for these usages (read once), grouped ``by``; ``sources`` (files or URLs) are
    named in its header. Without records there are no training windows: see render_records."""
    data = PageData(by)
    feed(items, data)
    return render_data(data, sources=sources)


def render_records(records: Iterable[SpanRecord], *, by: Sequence[str] = PAGE_BY,
                   sources: Sequence[str] = ()) -> str:
    """The page for these records, training windows included (one pass)."""
    data = PageData(by)
    feed(stream_usages(data.tap(records)), data)
    return render_data(data, sources=sources)


def render_data(data: PageData, *, sources: Sequence[str] = ()) -> str:
    """The page for what ``data`` was fed."""
    total = data.groups.rows()[0].stats
    plots: list[str] = []
    if data.start_ns is not None and data.end_ns is not None:
        period = f"{utc(data.start_ns)} to {utc(data.end_ns)}"
        cost_chart, unit = _cost_over_time(data)
        training_chart, training_unit = _training_over_time(data)
        first = data.by[0]
        plots = [
            _figure("plot-cost-over-time", "Cost over time", f"per {unit}, by kind; a span "
                    "crossing a boundary is split by time", cost_chart),
            _figure("plot-training-over-time", "Utilization and MFU over time",
                    f"from training windows, time-weighted, per {training_unit or 'bucket'}",
                    training_chart),
            _figure("plot-idle-over-time", "Idle share over time", "share of serving cost "
                    f"paid with no request in flight, per {unit}", _idle_over_time(data)),
            _figure(f"plot-cost-by-{first}", f"Cost by {first}",
                    f"top {_TOP_GROUPS}; {UNTAGGED} = no {first} tag",
                    _cost_by(data.groups.rows(), first)),
        ]
        if data.second is not None:
            second = data.by[1]
            plots.append(_figure(f"plot-cost-by-{second}", f"Cost by {second}",
                                 f"top {_TOP_GROUPS}; {UNTAGGED} = no {second} tag",
                                 _cost_by(data.second.rows(), second)))
        plots += [
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
        period = "no records"
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        '<link rel="icon" href="data:,"><title>mlcost cost report</title>'
        f"<style>{_CSS}</style></head><body><h1>mlcost cost report</h1>"
        f'<p class="meta">{escape(period)} &middot; from {escape(", ".join(sources) or "-")}'
        f" &middot; generated {escape(utc(int(datetime.now(UTC).timestamp() * 1e9)))}</p>"
        f'{_kpis(total)}<div class="grid">{"".join(plots)}</div>'
        f"{_top_runs(data)}{_top_experiments(data)}{_rollup_table(data)}"
        "</body></html>\n")
