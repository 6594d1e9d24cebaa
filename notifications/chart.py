"""The small consumption chart of a confirmation mail: average consumption per day for each of the
last reading periods, the new one highlighted, the meter's long-run average as a line.

A PNG drawn with Pillow (embedded in the mail as an inline `cid:` image; mail programs do not
show SVG). Labels use German or English number and date formats.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from decimal import Decimal

from PIL import Image, ImageDraw, ImageFont

from core.formatting import format_number, rate_places
from notifications.consumption import Comparison, Period

WIDTH, HEIGHT = 520, 220
MARGIN_LEFT, MARGIN_RIGHT, MARGIN_TOP, MARGIN_BOTTOM = 16, 16, 34, 40
BAR = (148, 163, 184)
CURRENT = (0, 94, 158)
AVERAGE = (217, 119, 6)
TEXT = (31, 41, 51)
MUTED = (107, 114, 128)
UNIT_NAMES = {"m3": "m³"}


def chart_png(comparison: Comparison, *, unit: str, lang: str = "de") -> bytes:
    periods = comparison.periods or (comparison.current,)
    image = Image.new("RGB", (WIDTH, HEIGHT), (255, 255, 255))
    draw = ImageDraw.Draw(image)
    small, label = ImageFont.load_default(size=12), ImageFont.load_default(size=13)
    shown_unit = UNIT_NAMES.get(unit, unit)
    title = f"{shown_unit} pro Tag" if lang == "de" else f"{shown_unit} per day"
    draw.text((MARGIN_LEFT, 8), title, fill=TEXT, font=label)
    top = _scale_top(periods, comparison.average_per_day)
    _bars(draw, periods, top, small, lang)
    if comparison.average_per_day is not None:
        _average_line(draw, comparison.average_per_day, top, small, lang)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def _plot_box() -> tuple[int, int, int, int]:
    return MARGIN_LEFT, MARGIN_TOP, WIDTH - MARGIN_RIGHT, HEIGHT - MARGIN_BOTTOM


def _scale_top(periods: Sequence[Period], average: Decimal | None) -> Decimal:
    values = [p.per_day for p in periods] + ([average] if average is not None else [])
    return max(max(values), Decimal("0.001")) * Decimal("1.18")


def _y(value: Decimal, top: Decimal) -> float:
    _left, upper, _right, lower = _plot_box()
    return lower - float(value / top) * (lower - upper)


def _bars(
    draw: ImageDraw.ImageDraw,
    periods: Sequence[Period],
    top: Decimal,
    font: ImageFont.ImageFont | ImageFont.FreeTypeFont,
    lang: str,
) -> None:
    left, _upper, right, lower = _plot_box()
    slot = (right - left) / len(periods)
    width = min(slot * 0.6, 70)
    for index, period in enumerate(periods):
        centre = left + slot * (index + 0.5)
        colour = CURRENT if index == len(periods) - 1 else BAR
        y = _y(period.per_day, top)
        draw.rectangle((centre - width / 2, y, centre + width / 2, lower), fill=colour)
        value = format_number(period.per_day, _places(period.per_day), lang=lang)
        draw.text((centre, y - 3), value, fill=TEXT, font=font, anchor="md")
        when = period.end.strftime("%m/%Y")
        draw.text((centre, lower + 6), when, fill=MUTED, font=font, anchor="ma")
    draw.line((left, lower, right, lower), fill=MUTED, width=1)


def _average_line(
    draw: ImageDraw.ImageDraw,
    average: Decimal,
    top: Decimal,
    font: ImageFont.ImageFont | ImageFont.FreeTypeFont,
    lang: str,
) -> None:
    left, _upper, right, _lower = _plot_box()
    y = _y(average, top)
    for x in range(left, right, 10):  # dashed
        draw.line((x, y, min(x + 5, right), y), fill=AVERAGE, width=2)
    text = "Ihr Durchschnitt" if lang == "de" else "your average"
    draw.text((right, y - 4), text, fill=AVERAGE, font=font, anchor="rd")


def _places(value: Decimal) -> int:
    return 0 if value >= 100 else 1 if value >= 1 else rate_places(value)
