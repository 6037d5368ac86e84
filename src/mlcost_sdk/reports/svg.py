"""Two inline SVG charts, enough for a cost report: stacked columns and labelled bars.

Generated as text so the page needs no script and no network. Every data mark has class
``mark`` and a ``<title>`` (the browser shows it on hover) with its exact value.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape

Fmt = Callable[[float], str]
_FONT = 'font-family="system-ui, sans-serif" font-size="11" fill="#333"'


@dataclass(frozen=True)
class Series:
    name: str
    color: str
    values: Sequence[float]


def _nice_top(x: float) -> float:
    """The smallest 1, 2, 2.5 or 5 x 10^k at or above x (the top of the axis)."""
    if x <= 0:
        return 1.0
    exp = 10.0 ** math.floor(math.log10(x))
    return next(m * exp for m in (1, 2, 2.5, 5, 10) if m * exp >= x * (1 - 1e-12))


def _svg(width: int, height: int, body: list[str], label: str) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
            f'width="{width}" height="{height}" role="img" aria-label="{escape(label)}">'
            + "".join(body) + "</svg>")


def _label_every(labels: Sequence[str], plot_w: int) -> int:
    """Label every n-th column, so that labels (about 6.5 px a character) never overlap."""
    longest = max((len(label) for label in labels), default=1)
    return max(1, math.ceil(len(labels) * (longest * 6.5 + 10) / plot_w))


def _grid(y_top: float, fmt: Fmt, left: int, right: int, top: int, plot_h: int) -> list[str]:
    """Five horizontal rules with their values, 0 to ``y_top``."""
    body = []
    for i in range(5):
        y = top + plot_h - plot_h * i / 4
        body.append(f'<line x1="{left}" x2="{right}" y1="{y:.1f}" y2="{y:.1f}" stroke="#ddd"/>')
        body.append(f'<text x="{left - 4}" y="{y + 4:.1f}" text-anchor="end" {_FONT}>'
                    f'{escape(fmt(y_top * i / 4))}</text>')
    return body


def _legend(series: Sequence[Series | Line], left: int, height: int) -> list[str]:
    """A swatch and name per series, along the bottom; none when there is only one."""
    body, x = [], left
    for s in series if len(series) > 1 else ():
        body.append(f'<rect x="{x}" y="{height - 14}" width="10" height="10" fill="{s.color}"/>'
                    f'<text x="{x + 14}" y="{height - 5}" {_FONT}>{escape(s.name)}</text>')
        x += 24 + 7 * len(s.name)
    return body


def empty(message: str, width: int = 560, height: int = 80) -> str:
    return _svg(width, height, [f'<text x="{width / 2}" y="{height / 2}" text-anchor="middle" '
                                f'{_FONT}>{escape(message)}</text>'], message)


def columns(labels: Sequence[str], series: Sequence[Series], *, fmt: Fmt, title: str,
            width: int = 560, height: int = 260) -> str:
    """Stacked columns, one per label, with a y axis and a legend."""
    totals = [sum(s.values[i] for s in series) for i in range(len(labels))]
    if not labels or max(totals) <= 0:
        return empty("no cost in this period")
    left, right, top, bottom = 64, 8, 24, 40
    plot_w, plot_h = width - left - right, height - top - bottom
    y_top = _nice_top(max(totals))
    step = plot_w / len(labels)
    bar_w = max(1.0, step * 0.8)
    body = _grid(y_top, fmt, left, width - right, top, plot_h)
    every = _label_every(labels, plot_w)
    for i, label in enumerate(labels):
        x = left + i * step + (step - bar_w) / 2
        y: float = top + plot_h
        for s in series:
            v = s.values[i]
            if v <= 0:
                continue
            h = plot_h * v / y_top
            y -= h
            body.append(f'<rect class="mark" x="{x:.2f}" y="{y:.2f}" width="{bar_w:.2f}" '
                        f'height="{max(h, 0.5):.2f}" fill="{s.color}"><title>'
                        f'{escape(f"{label} {s.name}: {fmt(v)}")}</title></rect>')
        if i % every == 0:
            body.append(f'<text x="{x + bar_w / 2:.1f}" y="{top + plot_h + 14}" '
                        f'text-anchor="middle" {_FONT}>{escape(label)}</text>')
    body.extend(_legend(series, left, height))
    return _svg(width, height, body, title)


def bars(items: Sequence[tuple[str, float]], *, fmt: Fmt, title: str, color: str = "#4c78a8",
         top_value: float | None = None, width: int = 560) -> str:
    """Horizontal bars, one per (label, value), largest scale ``top_value`` (default: max)."""
    if not items:
        return empty("no data")
    label_w, value_w, row_h = 150, 90, 22
    plot_w = width - label_w - value_w
    top = top_value or max(v for _, v in items) or 1.0
    body = []
    for i, (label, value) in enumerate(items):
        y = 4 + i * row_h
        w = max(plot_w * value / top, 1.0)
        short = label if len(label) <= 22 else label[:21] + "…"
        body.append(f'<text x="{label_w - 6}" y="{y + 14}" text-anchor="end" {_FONT}>'
                    f'<title>{escape(label)}</title>{escape(short)}</text>')
        body.append(f'<rect class="mark" x="{label_w}" y="{y + 3}" width="{w:.2f}" height="'
                    f'{row_h - 6}" fill="{color}"><title>{escape(f"{label}: {fmt(value)}")}'
                    '</title></rect>')
        body.append(f'<text x="{label_w + w + 6:.1f}" y="{y + 14}" {_FONT}>'
                    f'{escape(fmt(value))}</text>')
    return _svg(width, 8 + len(items) * row_h, body, title)


@dataclass(frozen=True)
class Line:
    name: str
    color: str
    values: Sequence[float | None]  # None: no data in that column (a gap in the line)


def lines(labels: Sequence[str], series: Sequence[Line], *, fmt: Fmt, title: str,
          top_value: float | None = None, width: int = 560, height: int = 260) -> str:
    """Lines over columns, a dot per known value, broken where a value is missing; the axis
    tops at ``top_value`` (e.g. 100%) unless a value rises above it."""
    known = [v for s in series for v in s.values if v is not None]
    if not labels or not known:
        return empty("no data in this period")
    left, right, top, bottom = 64, 8, 24, 40
    plot_w, plot_h = width - left - right, height - top - bottom
    y_top = max(top_value or 0.0, _nice_top(max(known)))
    step = plot_w / len(labels)
    body = _grid(y_top, fmt, left, width - right, top, plot_h)
    every = _label_every(labels, plot_w)
    for i, label in enumerate(labels):
        if i % every == 0:
            body.append(f'<text x="{left + (i + 0.5) * step:.1f}" y="{top + plot_h + 14}" '
                        f'text-anchor="middle" {_FONT}>{escape(label)}</text>')
    for s in series:
        points: list[str] = []
        for i, v in enumerate([*s.values, None]):  # the None closes the last run of points
            if v is None:
                if len(points) > 1:
                    body.append(f'<polyline points="{" ".join(points)}" fill="none" '
                                f'stroke="{s.color}" stroke-width="1.5"/>')
                points = []
                continue
            x, y = left + (i + 0.5) * step, top + plot_h - plot_h * v / y_top
            points.append(f"{x:.1f},{y:.1f}")
            body.append(f'<circle class="mark" cx="{x:.1f}" cy="{y:.1f}" r="3" '
                        f'fill="{s.color}"><title>{escape(f"{labels[i]} {s.name}: {fmt(v)}")}'
                        "</title></circle>")
    body.extend(_legend(series, left, height))
    return _svg(width, height, body, title)
