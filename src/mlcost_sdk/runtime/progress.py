"""The live progress line of a training run: elapsed, steps, tokens/s, MFU, cost so far and the
projected final cost against the budget.

Shown when stderr is a terminal, or when asked (``progress=True``); never on a pipe or a log
file unless asked. The run calls :meth:`ProgressLine.update` from its slow path (a few times a
second at most), never from ``run.step()``, and nothing here starts a thread: a terminal gets
one line redrawn in place (rich's ``Live`` when rich is installed, a carriage return otherwise),
anything else a plain line every ``LOG_EVERY_S`` seconds, as a batch job's log wants.
"""

from __future__ import annotations

import contextlib
import shutil
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any, TextIO

from .console_summary import usd as money

TERMINAL_EVERY_S = 0.5  # redraw at most this often: faster only flickers
LOG_EVERY_S = 10.0  # one line per this many seconds when stderr is not a terminal

_active_lock = threading.Lock()
_active: ProgressLine | None = None  # one line per process: nested runs would fight over it


@dataclass(frozen=True)
class Snapshot:
    """What the line shows at one instant; None where the run does not know it (yet)."""

    name: str
    elapsed_s: float
    steps: int
    total_steps: int | None
    tokens_per_s: float | None
    mfu: float | None
    cost_usd: float | None
    projected_usd: float | None
    budget_usd: float | None


def _elapsed(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


def format_line(snap: Snapshot) -> str:
    """The line as plain text: `` | ``-separated fields, unknown ones left out."""
    parts = [f"mlcost {snap.name}", _elapsed(snap.elapsed_s)]
    steps = f"step {snap.steps:,}"
    if snap.total_steps:
        steps += f"/{snap.total_steps:,} ({snap.steps / snap.total_steps:.0%})"
    parts.append(steps)
    if snap.tokens_per_s is not None:
        parts.append(f"{snap.tokens_per_s:,.0f} tok/s")
    if snap.mfu is not None:
        parts.append(f"MFU {snap.mfu:.1%}")
    parts.append("cost unknown (no price)" if snap.cost_usd is None
                 else f"cost {money(snap.cost_usd)}")
    if snap.projected_usd is not None:
        projected = f"projected {money(snap.projected_usd)}"
        if snap.budget_usd is not None:
            over = "  OVER BUDGET" if snap.projected_usd > snap.budget_usd else ""
            projected += f" of {money(snap.budget_usd)} budget{over}"
        parts.append(projected)
    elif snap.budget_usd is not None:
        parts.append(f"budget {money(snap.budget_usd)}")
    return " | ".join(parts)


def wanted(setting: bool | None, stream: TextIO | None = None) -> bool:
    """``True``/``False`` as asked; ``None`` (the default): only when stderr is a terminal."""
    if setting is not None:
        return setting
    stream = stream if stream is not None else sys.stderr
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # replaced or closed stderr
        return False


class ProgressLine:
    """One run's line. Every method swallows its own failures: a broken terminal must never
    reach the training loop."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream if stream is not None else sys.stderr
        self._terminal = wanted(None, self._stream)
        self._every = TERMINAL_EVERY_S if self._terminal else LOG_EVERY_S
        self._last_draw = -float("inf")
        self._last: Snapshot | None = None
        self._live: Any = None
        self._width = 0
        self._drawn = ""
        if self._terminal:
            self._live = _rich_live(self._stream)

    @classmethod
    def open(cls, setting: bool | None) -> ProgressLine | None:
        """A line if one is wanted and no other run in this process shows one."""
        global _active
        if not wanted(setting):
            return None
        with _active_lock:
            if _active is not None:
                return None
            try:
                _active = line = cls()
            except Exception:  # a terminal rich cannot drive: no line, the run goes on
                return None
        return line

    def update(self, snap: Snapshot) -> None:
        self._last = snap
        now = time.monotonic()
        if now - self._last_draw < self._every:
            return
        self._last_draw = now
        with contextlib.suppress(Exception):
            self._draw(format_line(snap), final=False)

    def close(self) -> None:
        """Draw the last figures and end the line (the summary, if any, goes below it)."""
        global _active
        with _active_lock:
            if _active is self:
                _active = None
        with contextlib.suppress(Exception):
            if self._last is not None:
                self._draw(format_line(self._last), final=True)
            if self._live is not None:
                self._live.stop()
            elif self._terminal and self._width:
                self._stream.write("\n")
                self._stream.flush()

    def _draw(self, text: str, *, final: bool) -> None:
        if final and text == self._drawn and not self._terminal:
            return  # a log already has this line
        self._drawn = text
        if self._live is not None:
            from rich.text import Text

            self._live.update(Text(text, style="bold" if final else "", no_wrap=True,
                                   overflow="ellipsis"), refresh=True)
        elif self._terminal:  # redraw in place; pad over a longer previous line
            # a wrapped line cannot be redrawn with a carriage return: keep it on one row
            columns = shutil.get_terminal_size((120, 24)).columns - 1
            text = text if len(text) <= columns else text[:columns - 1] + "…"
            self._stream.write("\r" + text.ljust(self._width))
            self._width = len(text)
            self._stream.flush()
        else:
            self._stream.write(text + "\n")
            self._stream.flush()


def _rich_live(stream: TextIO) -> Any:
    """rich's Live display without its refresh thread (the run's slow path redraws it) and
    without taking over stdout/stderr; None when rich is not installed."""
    try:
        from rich.console import Console
        from rich.live import Live
    except ImportError:
        return None
    live = Live(console=Console(file=stream), auto_refresh=False, transient=False,
                redirect_stdout=False, redirect_stderr=False)
    live.start()
    return live
