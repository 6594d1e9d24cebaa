"""The expected next reading of a meter register, from its own history, and the checks against it.

This is how a billing system's plausibility check (SAP IS-U: expected consumption with upper and
lower tolerance limits) judges a meter reading:

- **Rate.** The per-day consumption over the register's last periods (up to `RATE_PERIODS`
  periods within `RATE_YEARS` years), in standard days (`matching.seasons`: gas and heat weighted
  by the heating season, so a summer period expects less than a winter one).
- **Expected consumption** from the last reading to the new reading's date: rate × the period's
  weight. Without a usable rate (one earlier reading only) a default by meter kind is used; after a
  meter change the replaced meter's rate.
- **Band** around the expected value: `UPPER_FACTOR` × expected + slack above, `LOWER_FACTOR` ×
  expected − slack below (slack: `SLACK_DAYS` of the kind's typical use, for short periods and
  the counter's resolution). Without a rate the band is the last reading up to the kind's highest
  household use for the period.

The factors are not fitted to photos: they are a utility's usual tolerance-group settings
(a reading may show up to about three times, and no less than a quarter of, the expected use)
and households' yearly use per kind. What they trade off: a narrower band sends more genuine
readings (a cold winter, a new tenant) to a clerk; a wider one lets more misreads through.
"""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from core.types import Expectation
from matching import reasons
from matching.plausibility import MeterSpec, consumption
from matching.seasons import period_weight
from matching.units import converted

RATE_PERIODS = 3
RATE_YEARS = 3
MIN_RATE_WEIGHT = Decimal(20)  # standard days of history below which a rate means little
UPPER_FACTOR = Decimal(3)
LOWER_FACTOR = Decimal("0.25")
SLACK_DAYS = Decimal(7)
ZERO_MIN_DAYS = Decimal(7)  # expected use of this many typical days makes zero use suspicious
PLACES = Decimal("0.001")
Basis = Literal["history", "predecessor", "kind_default", "none"]


@dataclass(frozen=True)
class KindUse:
    """A household's yearly use of one kind of meter: typical and the most still plausible."""

    unit: str
    typical: Decimal
    highest: Decimal


KIND_USE = {
    "electricity": KindUse("kWh", Decimal(3500), Decimal(30000)),
    "gas": KindUse("m3", Decimal(1500), Decimal(8000)),
    "water": KindUse("m3", Decimal(100), Decimal(400)),
    "heat": KindUse("kWh", Decimal(12000), Decimal(80000)),
}


@dataclass(frozen=True)
class Point:
    """One earlier accepted reading of the register."""

    value: Decimal
    read_on: dt.date


def per_standard_day(kind: str, unit: str, *, highest: bool = False) -> Decimal:
    """The kind's typical (or highest plausible) use per standard day, in `unit`."""
    use = KIND_USE.get(kind, KIND_USE["electricity"])
    return converted(use.highest if highest else use.typical, use.unit, unit) / 365


def history_rate(kind: str, spec: MeterSpec, points: list[Point]) -> tuple[Decimal, int] | None:
    """Consumption per standard day over the last periods of `points` (oldest first), and how
    many periods it covers; None when the history is too short to say."""
    if len(points) < 2:
        return None
    latest = points[-1].read_on
    recent = [p for p in points if (latest - p.read_on).days <= 366 * RATE_YEARS]
    recent = recent[-(RATE_PERIODS + 1) :]
    if len(recent) < 2:
        return None
    used = sum(
        (consumption(b.value, a.value, spec) for a, b in itertools.pairwise(recent)),
        Decimal(0),
    )
    weight = period_weight(kind, recent[0].read_on, latest)
    if weight < MIN_RATE_WEIGHT:
        return None
    return used / weight, len(recent) - 1


def expect(
    kind: str,
    spec: MeterSpec,
    register: str,
    read_on: dt.date,
    points: list[Point],
    *,
    predecessor: list[Point] | None = None,
) -> Expectation:
    """The expectation for a reading of `register` on `read_on` (points: oldest first)."""
    if not points:
        return Expectation(register=register, read_on=read_on, basis="none")
    last = points[-1]
    rate = history_rate(kind, spec, points)
    basis: Basis = "history"
    if rate is None and predecessor:
        rate, basis = history_rate(kind, spec, predecessor), "predecessor"
    weight = period_weight(kind, last.read_on, read_on)
    typical = per_standard_day(kind, spec.unit)
    slack = typical * SLACK_DAYS
    if rate is None:
        highest = per_standard_day(kind, spec.unit, highest=True)
        return _expectation(
            register, read_on, "kind_default", last, typical * weight,
            low=last.value, high=last.value + highest * weight + slack, per_day=typical,
        )  # fmt: skip
    per_day, periods = rate
    expected = per_day * weight
    low = last.value + max(Decimal(0), expected * LOWER_FACTOR - slack)
    high = last.value + expected * UPPER_FACTOR + slack
    return _expectation(
        register, read_on, basis, last, expected,
        low=low, high=high, per_day=per_day, periods=periods,
    )  # fmt: skip


def _expectation(
    register: str,
    read_on: dt.date,
    basis: Basis,
    last: Point,
    expected: Decimal,
    *,
    low: Decimal,
    high: Decimal,
    per_day: Decimal,
    periods: int = 0,
) -> Expectation:
    return Expectation(
        register=register,
        read_on=read_on,
        basis=basis,
        last_value=last.value,
        last_read_on=last.read_on,
        expected_consumption=expected.quantize(PLACES),
        low=low.quantize(PLACES),
        high=high.quantize(PLACES),
        per_day=per_day.quantize(PLACES),
        periods=periods,
    )


def band_codes(value: Decimal, exp: Expectation, kind: str, spec: MeterSpec) -> tuple[str, ...]:
    """Reason codes for a value that does not fit the expectation; () when it does (or when
    there is nothing to compare with)."""
    if exp.last_value is None or exp.last_read_on is None or exp.high is None or exp.low is None:
        return ()
    if exp.read_on < exp.last_read_on:
        return (reasons.DATE_BEFORE_LAST_READING,)
    last = exp.last_value
    if value < last:
        wrapped = consumption(value, last, spec)
        rolled = last >= spec.rollover_at / 2 and last + wrapped <= exp.high
        return (reasons.METER_ROLLOVER,) if rolled else (reasons.BELOW_LAST_READING,)
    if value == last:
        zero_floor = per_standard_day(kind, spec.unit) * ZERO_MIN_DAYS
        expected = exp.expected_consumption or Decimal(0)
        return (reasons.ZERO_CONSUMPTION,) if expected >= zero_floor else ()
    if value > exp.high:
        return (reasons.CONSUMPTION_ABOVE_EXPECTED,)
    if value < exp.low:
        return (reasons.CONSUMPTION_BELOW_EXPECTED,)
    return ()
