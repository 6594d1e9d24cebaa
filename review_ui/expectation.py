"""What the decision form expects for a meter: the value and tolerance band, and the checks a
clerk must confirm explicitly before a value is booked (below the last reading, a lost decimal, a
rollover, an implausible jump).

`expectation_for` is the single place the form gets its expectation from. Until review tasks carry
the decision core's expected value and band, it derives them from the meter's last accepted
reading and its own average consumption (or a typical household consumption for its kind).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.models import Meter, Reading
from matching.plausibility import (
    MeterSpec,
    PriorReading,
    consumption,
    decimal_places,
    last_accepted,
    primary_register,
)

# Typical household consumption per day by meter kind (kWh for electricity and heat, m³ for gas
# and water): the fallback when a meter has too little history of its own. Gas: ~12,000 kWh a
# year ≈ 3 m³ a day; water: ~45 m³ a person and year.
TYPICAL_PER_DAY: dict[str, Decimal] = {
    "electricity": Decimal("10"),
    "gas": Decimal("3.5"),
    "water": Decimal("0.4"),
    "heat": Decimal("25"),
}
# The band runs from the last reading (no consumption) to this multiple of the expected
# consumption plus a floor of a few typical days: wide enough for a cold winter or a guest,
# narrow enough that a misplaced decimal point or a doubled digit falls outside.
BAND_FACTOR = Decimal("3")
BAND_FLOOR_DAYS = 14

BELOW_LAST = "below_last_reading"
LOST_DECIMAL = "lost_decimal"
ROLLOVER = "meter_rollover"
IMPLAUSIBLE_JUMP = "implausible_jump"
GUARDS = (BELOW_LAST, LOST_DECIMAL, ROLLOVER, IMPLAUSIBLE_JUMP)


@dataclass(frozen=True)
class Expectation:
    """The meter's last reading and what the reading on `read_on` should be."""

    meter_id: int
    unit: str
    integer_digits: int
    decimal_digits: int
    read_on: dt.date
    last: PriorReading | None
    per_day: Decimal  # expected consumption per day
    per_day_source: str  # "history" | "typical"
    expected: Decimal | None
    low: Decimal | None
    high: Decimal | None

    @property
    def rollover_at(self) -> Decimal:
        return Decimal(10) ** self.integer_digits

    @property
    def days(self) -> int:
        return 0 if self.last is None else max((self.read_on - self.last.read_on).days, 1)

    def implied(self, value: Decimal) -> Decimal | None:
        """Consumption since the last reading that `value` implies (across a rollover if below)."""
        if self.last is None:
            return None
        spec = MeterSpec(self.integer_digits, self.decimal_digits, self.unit)
        return consumption(value, self.last.value, spec)


def expectation_for(session: Session, meter: Meter, read_on: dt.date) -> Expectation:
    """The expected value and band for `meter` on `read_on` (see the module docstring)."""
    register = primary_register(meter)
    last = last_accepted(session, meter.id, register)
    per_day, source = _per_day(session, meter, register)
    expected = low = high = None
    if last is not None:
        days = max((read_on - last.read_on).days, 1)
        used = per_day * days
        places = Decimal(1).scaleb(-max(meter.decimal_digits, 0))
        expected = (last.value + used).quantize(places)
        low = last.value
        high = (last.value + used * BAND_FACTOR + per_day * BAND_FLOOR_DAYS).quantize(places)
    return Expectation(
        meter_id=meter.id,
        unit=meter.unit,
        integer_digits=meter.integer_digits,
        decimal_digits=meter.decimal_digits,
        read_on=read_on,
        last=last,
        per_day=per_day,
        per_day_source=source,
        expected=expected,
        low=low,
        high=high,
    )


def _per_day(session: Session, meter: Meter, register: str) -> tuple[Decimal, str]:
    """The meter's average consumption per day over its accepted readings, else the typical one."""
    rows = session.execute(
        select(Reading.value, Reading.read_on)
        .where(
            Reading.meter_id == meter.id,
            Reading.register == register,
            Reading.status == "accepted",
        )
        .order_by(Reading.read_on.desc(), Reading.id.desc())
        .limit(12)
    ).all()
    typical = TYPICAL_PER_DAY.get(meter.kind, Decimal("10"))
    if len(rows) >= 2:
        newest, oldest = rows[0], rows[-1]
        days = (newest.read_on - oldest.read_on).days
        used = Decimal(newest.value) - Decimal(oldest.value)
        if days >= 30 and used > 0:
            return (used / days).quantize(Decimal("0.001")), "history"
    return typical, "typical"


def guard_codes(
    value: Decimal, expectation: Expectation, *, proposed: Decimal | None = None
) -> tuple[str, ...]:
    """The findings a clerk must confirm by name before `value` is booked; () when none."""
    truncated = proposed is not None and _drops_fraction(value, proposed)
    last = expectation.last
    if last is None or expectation.high is None:
        return (LOST_DECIMAL,) if truncated else ()
    codes: list[str] = []
    if value < last.value:
        spec_half = expectation.rollover_at / 2
        used = expectation.implied(value)
        near_top = last.value >= spec_half and used is not None and used <= _jump_limit(expectation)
        codes.append(ROLLOVER if near_top else BELOW_LAST)
    elif value > expectation.high:
        codes.append(IMPLAUSIBLE_JUMP)
    if truncated or _lost_decimal(value, expectation):
        codes.append(LOST_DECIMAL)
    return tuple(codes)


def _drops_fraction(value: Decimal, proposed: Decimal) -> bool:
    """93 (or 93004) entered where the proposal was 93,004."""
    fraction = proposed - int(proposed)
    if fraction == 0 or decimal_places(value) > 0:
        return False
    return value == int(proposed) or value == proposed.scaleb(decimal_places(proposed))


def _jump_limit(expectation: Expectation) -> Decimal:
    assert expectation.high is not None and expectation.last is not None
    return expectation.high - expectation.last.value


def _lost_decimal(value: Decimal, expectation: Expectation) -> bool:
    """The value fits only once its last digits are read as decimals (93004 for 93,004), or it
    is a whole number where the meter shows decimals and the expected value sits just above it
    (93 typed for 93,004)."""
    places = expectation.decimal_digits
    if places <= 0 or expectation.low is None or expectation.high is None:
        return False
    in_band = expectation.low <= value <= expectation.high
    shifted = value.scaleb(-places)
    if not in_band and expectation.low <= shifted <= expectation.high:
        return True
    if decimal_places(value) == 0 and value < expectation.low:
        return expectation.low - value < 1
    return False
