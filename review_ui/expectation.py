"""What the decision form expects for a meter: the value and tolerance band, and the checks a
clerk must confirm explicitly before a value is booked (below the last reading, a lost decimal, a
rollover, an implausible jump, the value of a display that showed another counter).

`expectation_for` is the single place the form gets its expectation from, in this order:

1. the decision core's expectation stored with the task (`review_task.details["expectation"]`,
   `matching.expectation.expect`), when the clerk books on the task's meter and register and
   the meter's last reading is still the one it was computed from;
2. otherwise (another meter, another register, a reading booked since, an older task without
   one) the decision core's expectation computed now (`matching.meters.expectation_for`), as
   the booking itself checks the band (`matching.review`);
3. only where the decision core has none (no earlier reading it may use), the meter's last
   accepted reading and its own average consumption (or a typical household consumption for
   its kind).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, cast

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.models import Meter, Reading, ReviewTask
from core.types import Expectation as CoreExpectation
from matching import meters as core_meters
from matching import reasons
from matching.corrections import history_excluded
from matching.expectation import Basis
from matching.meters import registers_of
from matching.plausibility import (
    MeterSpec,
    PriorReading,
    consumption,
    decimal_places,
    last_accepted,
    primary_register,
)

# Typical household consumption per day by meter kind (kWh for electricity and heat, m³ for gas
# and water): the fallback when the decision core has no expectation. Gas: ~12,000 kWh a year
# ≈ 3 m³ a day; water: ~45 m³ a person and year.
TYPICAL_PER_DAY: dict[str, Decimal] = {
    "electricity": Decimal("10"),
    "gas": Decimal("3.5"),
    "water": Decimal("0.4"),
    "heat": Decimal("25"),
}
# The fallback band runs from the last reading (no consumption) to this multiple of the expected
# consumption plus a floor of a few typical days: wide enough for a cold winter or a guest,
# narrow enough that a misplaced decimal point or a doubled digit falls outside.
BAND_FACTOR = Decimal("3")
BAND_FLOOR_DAYS = 14

BELOW_LAST = "below_last_reading"
LOST_DECIMAL = "lost_decimal"
ROLLOVER = "meter_rollover"
IMPLAUSIBLE_JUMP = "implausible_jump"
OTHER_COUNTER = reasons.OTHER_COUNTER_SHOWN  # the proposal as shown in another unit or register
GUARDS = (BELOW_LAST, LOST_DECIMAL, ROLLOVER, IMPLAUSIBLE_JUMP, OTHER_COUNTER)


@dataclass(frozen=True)
class Expectation:
    """The meter's last reading and what the reading on `read_on` should be.

    `source`: "decision" (the decision core's) or "fallback"; `per_day_source`: where the rate
    comes from (history, predecessor, typical)."""

    meter_id: int
    unit: str
    integer_digits: int
    decimal_digits: int
    read_on: dt.date
    last: PriorReading | None
    per_day: Decimal  # expected consumption per day
    per_day_source: str  # "history" | "predecessor" | "typical"
    expected: Decimal | None
    low: Decimal | None
    high: Decimal | None
    source: str = "fallback"

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


def expectation_for(
    session: Session,
    meter: Meter,
    read_on: dt.date,
    *,
    task: ReviewTask | None = None,
    register: str | None = None,
) -> Expectation:
    """The expected value and band for `meter` on `read_on` when deciding `task` (see the module
    docstring for where it comes from); `register`: the one the clerk chose, if any of the
    meter's."""
    register = booking_register(task, meter, register)
    exclude = history_excluded(task) if task is not None else None
    last = last_accepted(session, meter.id, register, exclude_message_id=exclude)
    stored = _stored(task, meter, register)
    if stored is not None and _same_last(stored, last):
        return _from_core(stored, meter, read_on)
    core = core_meters.expectation_for(
        session, meter, register, read_on, exclude_message_id=exclude
    )
    if core.high is not None and core.last_value is not None:
        return _from_core(core, meter, read_on)
    return _fallback(session, meter, register, read_on)


def booking_register(task: ReviewTask | None, meter: Meter, chosen: str | None = None) -> str:
    """The register a booking on `meter` goes to: the one the clerk chose, else the task's."""
    return chosen if chosen in registers_of(meter) else _register(task, meter)


def _register(task: ReviewTask | None, meter: Meter) -> str:
    """The register the decision proposed where the clerk books on the task's meter, else the
    meter's first."""
    proposed = (task.details or {}).get("register") if task is not None else None
    registers = [r.strip() for r in meter.registers.split(",")]
    if task is not None and task.meter_id == meter.id and proposed in registers:
        return str(proposed)
    return primary_register(meter)


def _stored(task: ReviewTask | None, meter: Meter, register: str) -> CoreExpectation | None:
    """The decision core's expectation stored with the task, when it is for this meter and
    register and bounds the value."""
    if task is None or task.meter_id != meter.id:
        return None
    raw = (task.details or {}).get("expectation")
    if not isinstance(raw, dict) or raw.get("register", register) != register:
        return None
    try:
        exp = CoreExpectation(
            register=register,
            read_on=dt.date.fromisoformat(str(raw["read_on"])),
            basis=_basis(raw.get("basis")),
            last_value=_decimal(raw.get("last_value")),
            last_read_on=_day(raw.get("last_read_on")),
            expected_consumption=_decimal(raw.get("expected_consumption")),
            low=_decimal(raw.get("low")),
            high=_decimal(raw.get("high")),
            per_day=_decimal(raw.get("per_day")),
            periods=int(raw.get("periods") or 0),
        )
    except (KeyError, ValueError, TypeError, InvalidOperation):
        return None
    return exp if exp.high is not None and exp.last_value is not None else None


def _same_last(stored: CoreExpectation, last: PriorReading | None) -> bool:
    """Is the meter's last reading still the one the stored expectation was computed from?"""
    return last is not None and (stored.last_value, stored.last_read_on) == (
        last.value,
        last.read_on,
    )


def _from_core(exp: CoreExpectation, meter: Meter, read_on: dt.date) -> Expectation:
    assert exp.last_value is not None and exp.last_read_on is not None
    places = _places(meter)
    expected = exp.expected_value
    source = {"history": "history", "predecessor": "predecessor"}.get(exp.basis, "typical")
    return Expectation(
        meter_id=meter.id,
        unit=meter.unit,
        integer_digits=meter.integer_digits,
        decimal_digits=meter.decimal_digits,
        read_on=read_on,
        last=PriorReading(exp.last_value, exp.last_read_on),
        per_day=exp.per_day or Decimal(0),
        per_day_source=source,
        expected=expected.quantize(places) if expected is not None else None,
        low=exp.low,
        high=exp.high,
        source="decision",
    )


def _places(meter: Meter) -> Decimal:
    """The step of the meter's last decimal (1 where it has none), for quantize."""
    return Decimal(1).scaleb(-max(meter.decimal_digits, 0))


def _basis(raw: Any) -> Basis:
    if raw not in ("history", "predecessor", "kind_default", "none"):
        raise ValueError(f"unknown basis {raw!r}")
    return cast(Basis, raw)


def _decimal(raw: Any) -> Decimal | None:
    return None if raw is None else Decimal(str(raw))


def _day(raw: Any) -> dt.date | None:
    return None if raw is None else dt.date.fromisoformat(str(raw))


def _fallback(session: Session, meter: Meter, register: str, read_on: dt.date) -> Expectation:
    """The last accepted reading and the meter's own (or a typical) consumption per day."""
    last = last_accepted(session, meter.id, register)
    per_day, source = _per_day(session, meter, register)
    expected = low = high = None
    if last is not None:
        days = max((read_on - last.read_on).days, 1)
        used = per_day * days
        places = _places(meter)
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


def task_guard_codes(value: Decimal, expectation: Expectation, task: ReviewTask) -> tuple[str, ...]:
    """`guard_codes` for a value decided on `task`; also the proposal of a display that showed
    another counter (a heat meter's GJ or volume screen, another OBIS register) booked as it
    stands: a value the clerk converted or read off the right screen needs no confirmation."""
    codes = guard_codes(value, expectation, proposed=task.proposed_value)
    shown_other = OTHER_COUNTER in (task.reason_codes or ())
    if shown_other and task.proposed_value is not None and value == task.proposed_value:
        return (OTHER_COUNTER, *codes)
    return codes


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
