"""Seasonal weighting of consumption: how much of a year's use falls on each day.

Gas and heat follow the heating season. The monthly shares are those of a German household
standard load profile for gas (the BDEW profiles' typical monthly split for a space-heating
household at long-term average temperatures), rounded to half a percent; heat (district heating)
is used the same way. Electricity and water are flat: every day weighs the same.

A weight is measured in "standard days": a whole year weighs 365 whatever the profile, so a
per-day rate from the history stays comparable with a flat meter's.
"""

from __future__ import annotations

import calendar
import datetime as dt
from decimal import Decimal

HEATING_MONTH_SHARES = (
    Decimal("0.155"), Decimal("0.135"), Decimal("0.120"), Decimal("0.085"),
    Decimal("0.050"), Decimal("0.030"), Decimal("0.025"), Decimal("0.025"),
    Decimal("0.040"), Decimal("0.080"), Decimal("0.115"), Decimal("0.140"),
)  # fmt: skip
SEASONAL_KINDS = frozenset({"gas", "heat"})
YEAR_DAYS = Decimal(365)


def day_weight(kind: str, day: dt.date) -> Decimal:
    """One day's weight in standard days (1 for flat kinds)."""
    if kind not in SEASONAL_KINDS:
        return Decimal(1)
    month_days = calendar.monthrange(day.year, day.month)[1]
    return YEAR_DAYS * HEATING_MONTH_SHARES[day.month - 1] / month_days


def period_weight(kind: str, start: dt.date, end: dt.date) -> Decimal:
    """The weight of the days after `start` up to and including `end` (0 when end <= start)."""
    if end <= start:
        return Decimal(0)
    if kind not in SEASONAL_KINDS:
        return Decimal((end - start).days)
    total = Decimal(0)
    day = start + dt.timedelta(days=1)
    while day <= end:
        month_days = calendar.monthrange(day.year, day.month)[1]
        month_end = min(end, day.replace(day=month_days))
        count = (month_end - day).days + 1
        total += YEAR_DAYS * HEATING_MONTH_SHARES[day.month - 1] * count / month_days
        day = month_end + dt.timedelta(days=1)
    return total
