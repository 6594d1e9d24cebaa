"""What a confirmation tells the customer about their consumption: since the last reading, per
day, against the same period a year before and against the meter's own average.

Pure arithmetic on the meter's accepted readings of one register (`compare`), loaded by
`comparison_for`. Periods where the counter went down (rollover, meter change, a corrected
reading) are left out rather than guessed. A year-before figure needs readings on both sides of
both dates (it is interpolated linearly between readings, the way billing prorates).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from itertools import pairwise

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.account_moves import account_id_on
from core.models import Meter, Reading

CHART_PERIODS = 6  # periods a chart shows, the newest last
MIN_AVERAGE_DAYS = 180  # shorter history says nothing about a customer's average


@dataclass(frozen=True)
class Point:
    read_on: dt.date
    value: Decimal


@dataclass(frozen=True)
class Period:
    start: dt.date
    end: dt.date
    used: Decimal

    @property
    def days(self) -> int:
        return (self.end - self.start).days

    @property
    def per_day(self) -> Decimal:
        return self.used / self.days


@dataclass(frozen=True)
class Comparison:
    current: Period
    year_before_per_day: Decimal | None
    average_per_day: Decimal | None
    periods: tuple[Period, ...]  # for the chart, the current one last

    @property
    def change_to_year_before(self) -> Decimal | None:
        """Relative change of the daily consumption against the year before (0.1 = 10 % more)."""
        base = self.year_before_per_day
        return None if not base else self.current.per_day / base - 1


def compare(history: Sequence[Point], new: Point) -> Comparison | None:
    """The comparison for `new` given the earlier readings (any order); None without a usable
    previous reading."""
    points = sorted((p for p in history if p.read_on < new.read_on), key=lambda p: p.read_on)
    if not points or new.value < points[-1].value:
        return None
    current = Period(points[-1].read_on, new.read_on, new.value - points[-1].value)
    periods = [p for p in _periods([*points, new]) if p.used >= 0]
    return Comparison(
        current=current,
        year_before_per_day=_year_before(points, current),
        average_per_day=_average(points),
        periods=tuple(periods[-CHART_PERIODS:]),
    )


def _periods(points: Sequence[Point]) -> list[Period]:
    return [
        Period(a.read_on, b.read_on, b.value - a.value)
        for a, b in pairwise(points)
        if b.read_on > a.read_on
    ]


def _year_before(points: Sequence[Point], current: Period) -> Decimal | None:
    start, end = _shift_year(current.start), _shift_year(current.end)
    at_start, at_end = _interpolate(points, start), _interpolate(points, end)
    if at_start is None or at_end is None or at_end < at_start or end <= start:
        return None
    return (at_end - at_start) / (end - start).days


def _average(points: Sequence[Point]) -> Decimal | None:
    first, last = points[0], points[-1]
    days = (last.read_on - first.read_on).days
    monotone = all(b.value >= a.value for a, b in pairwise(points))
    if days < MIN_AVERAGE_DAYS or not monotone:
        return None
    return (last.value - first.value) / days


def _interpolate(points: Sequence[Point], day: dt.date) -> Decimal | None:
    for a, b in pairwise(points):
        if a.read_on <= day <= b.read_on and b.value >= a.value and b.read_on > a.read_on:
            share = Decimal((day - a.read_on).days) / (b.read_on - a.read_on).days
            return a.value + (b.value - a.value) * share
    return None


def _shift_year(day: dt.date) -> dt.date:
    try:
        return day.replace(year=day.year - 1)
    except ValueError:  # 29 February
        return day.replace(year=day.year - 1, day=28)


def comparison_for(
    session: Session, meter_number: str, register: str | None, value: Decimal, read_on: dt.date
) -> Comparison | None:
    """`compare` against the meter's accepted readings of `register` stored before `read_on`,
    those of the account the meter had on `read_on` only (after a move the tenant before's
    readings are none of the new tenant's business, nor the other way round)."""
    meter = session.execute(
        select(Meter.id, Meter.registers).where(Meter.number == meter_number)
    ).first()
    if meter is None:
        return None
    primary = (meter.registers or "").split(",")[0].strip() or "1.8.0"
    rows = session.execute(
        select(Reading.read_on, Reading.value).where(
            Reading.meter_id == meter.id,
            Reading.register == (register or primary),
            Reading.status == "accepted",
            Reading.read_on < read_on,
            account_id_on(Reading.meter_id, Reading.read_on) == account_id_on(meter.id, read_on),
        )
    ).all()
    return compare([Point(day, Decimal(v)) for day, v in rows], Point(read_on, value))


def latest_daily_rate(session: Session, meter_number: str, account_id: int) -> Decimal | None:
    """The meter's daily consumption between its two newest accepted readings taken while it was
    on account `account_id`, summed over its registers (HT + NT); None when a register has no
    such pair or its counter went down."""
    meter = session.execute(
        select(Meter.id, Meter.registers).where(Meter.number == meter_number)
    ).first()
    if meter is None:
        return None
    total = Decimal(0)
    for register in (meter.registers or "1.8.0").split(","):
        newest = session.execute(
            select(Reading.read_on, Reading.value)
            .where(
                Reading.meter_id == meter.id,
                Reading.register == register.strip(),
                Reading.status == "accepted",
                account_id_on(Reading.meter_id, Reading.read_on) == account_id,
            )
            .order_by(Reading.read_on.desc(), Reading.id.desc())
            .limit(2)
        ).all()
        if len(newest) < 2:
            return None
        (end, last), (start, first) = newest
        if end <= start or last < first:
            return None
        total += (Decimal(last) - Decimal(first)) / (end - start).days
    return total
