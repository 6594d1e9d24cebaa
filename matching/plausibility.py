"""Is a reading plausible for this meter, given its digit counts and its last accepted reading?

`check_value` is pure (plain dataclasses in, reason codes out); `check_meter` loads the meter's last
accepted reading from the database and calls it.

Daily consumption limit: `Settings.max_daily_consumption` is in kWh per day. For meters counting m³
the limit is a tenth of it (1 m³ natural gas ≈ 10 kWh), which also catches the typical water-meter
error of a misplaced decimal point (thousands of m³ per day) while staying far above any household.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from core.models import Meter, Reading
from matching import reasons
from matching.units import converted

DEFAULT_MAX_DAILY_CONSUMPTION = 500.0


@dataclass(frozen=True)
class MeterSpec:
    integer_digits: int
    decimal_digits: int
    unit: str

    @classmethod
    def of(cls, meter: Meter) -> MeterSpec:
        return cls(meter.integer_digits, meter.decimal_digits, meter.unit)

    @property
    def rollover_at(self) -> Decimal:
        return Decimal(10) ** self.integer_digits


@dataclass(frozen=True)
class PriorReading:
    value: Decimal
    read_on: dt.date


def daily_limit(unit: str, max_daily_consumption: float) -> Decimal:
    """The highest plausible average consumption per day, in the meter's unit."""
    return converted(Decimal(str(max_daily_consumption)), "kWh", unit)


def decimal_places(value: Decimal) -> int:
    exponent = value.normalize().as_tuple().exponent
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0


def digit_codes(value: Decimal, meter: MeterSpec) -> tuple[str, ...]:
    """Codes for a value that cannot be shown on the meter at all (sign, digit counts)."""
    if value < 0:
        return (reasons.NEGATIVE_VALUE,)
    codes = []
    if value >= meter.rollover_at:
        codes.append(reasons.TOO_MANY_DIGITS)
    if decimal_places(value) > meter.decimal_digits:
        codes.append(reasons.TOO_MANY_DECIMALS)
    return tuple(codes)


def consumption(value: Decimal, previous: Decimal, meter: MeterSpec) -> Decimal:
    """Consumption from `previous` to `value`, assuming one rollover when the counter went down."""
    used = value - previous
    return used if used >= 0 else meter.rollover_at - previous + value


def check_value(
    value: Decimal,
    read_on: dt.date,
    *,
    meter: MeterSpec,
    last: PriorReading | None,
    max_daily_consumption: float = DEFAULT_MAX_DAILY_CONSUMPTION,
) -> tuple[str, ...]:
    """Reason codes for everything implausible about `value` read on `read_on`; () if plausible.

    A value below the last reading counts as a rollover (the counter passed 10**integer_digits)
    only when the last value was in the upper half of the range and the consumption across the
    rollover is itself plausible; a rollover still goes to review.
    """
    codes = digit_codes(value, meter)
    if codes or last is None:
        return codes
    if read_on < last.read_on:
        return (reasons.DATE_BEFORE_LAST_READING,)
    days = max((read_on - last.read_on).days, 1)
    limit = daily_limit(meter.unit, max_daily_consumption)
    if value < last.value:
        wrapped = consumption(value, last.value, meter)
        rolled = last.value >= meter.rollover_at / 2 and wrapped / days <= limit
        return (reasons.METER_ROLLOVER,) if rolled else (reasons.BELOW_LAST_READING,)
    if (value - last.value) / days > limit:
        return (reasons.CONSUMPTION_TOO_HIGH,)
    return ()


def newest_accepted(
    meter_id: int, register: str, *, exclude_message_id: int | None = None
) -> Select[Decimal, dt.date]:
    """(value, read_on) of the register's accepted readings, newest first (by read date, then
    by id); `exclude_message_id` leaves out what one mail booked (when it is judged again)."""
    query = select(Reading.value, Reading.read_on).where(
        Reading.meter_id == meter_id,
        Reading.register == register,
        Reading.status == "accepted",
    )
    if exclude_message_id is not None:
        query = query.where(
            (Reading.inbound_message_id.is_(None))
            | (Reading.inbound_message_id != exclude_message_id)
        )
    return query.order_by(Reading.read_on.desc(), Reading.id.desc())


def last_accepted(
    session: Session,
    meter_id: int,
    register: str,
    *,
    exclude_message_id: int | None = None,
) -> PriorReading | None:
    """The meter register's latest accepted reading (by read date, then by id)."""
    query = newest_accepted(meter_id, register, exclude_message_id=exclude_message_id)
    row = session.execute(query.limit(1)).first()
    return PriorReading(Decimal(row.value), row.read_on) if row else None


def primary_register(meter: Meter) -> str:
    return meter.registers.split(",")[0].strip() or "1.8.0"


def check_meter(
    session: Session,
    meter: Meter,
    value: Decimal,
    read_on: dt.date,
    *,
    register: str | None = None,
    max_daily_consumption: float = DEFAULT_MAX_DAILY_CONSUMPTION,
    exclude_message_id: int | None = None,
) -> tuple[str, ...]:
    """`check_value` against the meter's stored history."""
    last = last_accepted(
        session,
        meter.id,
        register or primary_register(meter),
        exclude_message_id=exclude_message_id,
    )
    return check_value(
        value,
        read_on,
        meter=MeterSpec.of(meter),
        last=last,
        max_daily_consumption=max_daily_consumption,
    )
