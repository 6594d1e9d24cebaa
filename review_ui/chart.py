"""Consumption chart geometry for an inline SVG (rendered by `_chart.html`; no JavaScript).

Each period between two readings becomes one bar: its width is the period's length in days, its
height the average consumption per day, so long and short periods compare fairly.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from core.formatting import format_date, format_number, rate_places

WIDTH = 720
HEIGHT = 240
LEFT, RIGHT, TOP, BOTTOM = 64, 12, 14, 36


@dataclass(frozen=True)
class Period:
    start: dt.date
    end: dt.date
    per_day: Decimal | float


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    title: str
    negative: bool


@dataclass(frozen=True)
class Tick:
    pos: float
    label: str


@dataclass
class Chart:
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    plot_right: int = WIDTH - RIGHT
    plot_top: int = TOP
    baseline: float = HEIGHT - BOTTOM
    bars: list[Bar] = field(default_factory=list)
    y_ticks: list[Tick] = field(default_factory=list)
    x_ticks: list[Tick] = field(default_factory=list)
    unit: str = ""


def nice_step(span: float, ticks: int = 4) -> float:
    """A 1/2/5 x 10^n step that splits `span` into about `ticks` parts."""
    if span <= 0:
        return 1.0
    raw = span / ticks
    magnitude = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 5, 10):
        if raw <= factor * magnitude:
            return float(factor * magnitude)
    return float(10 * magnitude)


def build_chart(periods: list[Period], *, unit: str, places: int = 1) -> Chart | None:
    """Geometry for the bars, or None when there is no period to show."""
    periods = [p for p in periods if p.end > p.start]
    if not periods:
        return None
    chart = Chart(unit=unit)
    first, last = periods[0].start, periods[-1].end
    total_days = max((last - first).days, 1)
    plot_w = chart.plot_right - chart.left
    plot_h = chart.baseline - chart.plot_top
    top_value = max(max(float(p.per_day) for p in periods), 0.0)
    step = nice_step(top_value or 1.0)
    y_max = step * max(math.ceil(top_value / step), 1)

    def x_of(day: dt.date) -> float:
        return chart.left + plot_w * (day - first).days / total_days

    for period in periods:
        value = float(period.per_day)
        height = plot_h * max(value, 0.0) / y_max
        x0, x1 = x_of(period.start), x_of(period.end)
        title = (
            f"{format_date(period.start)} – {format_date(period.end)}: "
            f"{format_number(period.per_day, rate_places(period.per_day, places))} {unit}/Tag"
        )
        chart.bars.append(
            Bar(
                x=round(x0 + 1, 1),
                y=round(chart.baseline - height, 1),
                width=round(max(x1 - x0 - 2, 1.0), 1),
                height=round(max(height, 1.0), 1),
                title=title,
                negative=value < 0,
            )
        )
    tick_places = 0 if step >= 1 else -math.floor(math.log10(step))
    chart.y_ticks = [
        Tick(
            round(chart.baseline - plot_h * (i * step) / y_max, 1),
            format_number(i * step, tick_places),
        )
        for i in range(round(y_max / step) + 1)
    ]
    chart.x_ticks = _x_ticks(periods, x_of)
    return chart


def _x_ticks(periods: list[Period], x_of: Callable[[dt.date], float]) -> list[Tick]:
    """Date labels at period boundaries: first and last always, others when ~90 px apart."""
    days = [periods[0].start, *[p.end for p in periods]]
    end = x_of(days[-1])
    ticks = [Tick(round(x_of(days[0]), 1), format_date(days[0]))]
    for day in days[1:-1]:
        pos = x_of(day)
        if pos - ticks[-1].pos >= 90 and end - pos >= 90:
            ticks.append(Tick(round(pos, 1), format_date(day)))
    ticks.append(Tick(round(end, 1), format_date(days[-1])))
    return ticks
