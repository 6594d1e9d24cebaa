"""Meters as the decision sees them: their profile (digits, display, registers) and the expected
next reading of each register, loaded from the database."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.models import Meter, shown_on
from core.types import Expectation, MeterProfile
from matching.expectation import Point, expect
from matching.plausibility import MeterSpec, newest_accepted

HISTORY_LIMIT = 12  # the newest readings per register the expectation may use


def registers_of(meter: Meter) -> tuple[str, ...]:
    """The meter's registers (OBIS codes) as master data lists them; `1.8.0` where none."""
    return tuple(r.strip() for r in meter.registers.split(",") if r.strip()) or ("1.8.0",)


def named_register(meter: Meter, register: str) -> str | None:
    """The register as a confirmation names it: only on a meter with several (HT/NT), not on a
    water or heat meter's only one."""
    return register if len(registers_of(meter)) > 1 else None


def profile_of(meter: Meter) -> MeterProfile:
    registers = registers_of(meter)
    return MeterProfile(
        meter_id=meter.id,
        number=meter.number,
        account_number=meter.account.number,
        customer_id=meter.account.customer_id,
        kind=meter.kind,
        unit=meter.unit,
        integer_digits=meter.integer_digits,
        decimal_digits=meter.decimal_digits,
        display=shown_on(meter.kind, meter.display),
        registers=registers,
    )


def spec_of(profile: MeterProfile) -> MeterSpec:
    return MeterSpec(profile.integer_digits, profile.decimal_digits, profile.unit)


def history_points(
    session: Session, meter_id: int, register: str, *, exclude_message_id: int | None = None
) -> list[Point]:
    """The register's newest accepted readings, oldest first (one per date: the latest booked)."""
    query = newest_accepted(meter_id, register, exclude_message_id=exclude_message_id)
    rows = session.execute(query.limit(HISTORY_LIMIT)).all()
    by_date: dict[dt.date, Decimal] = {}
    for value, read_on in rows:
        by_date.setdefault(read_on, Decimal(value))
    return [Point(value, day) for day, value in sorted(by_date.items())]


def predecessor(session: Session, meter: Meter) -> Meter | None:
    """The meter this one replaced: same account and kind, removed on or before this one's
    installation (the latest such)."""
    if meter.installed_on is None:
        return None
    query = (
        select(Meter)
        .where(
            Meter.account_id == meter.account_id,
            Meter.kind == meter.kind,
            Meter.id != meter.id,
            Meter.removed_on.is_not(None),
            Meter.removed_on <= meter.installed_on,
        )
        .order_by(Meter.removed_on.desc())
        .limit(1)
    )
    return session.scalars(query).first()


def expectation_for(
    session: Session,
    meter: Meter,
    register: str,
    read_on: dt.date,
    *,
    exclude_message_id: int | None = None,
) -> Expectation:
    """The expected reading of `register` on `read_on` from the meter's history (after a meter
    change, with the replaced meter's rate while the new one has too little history)."""
    profile = profile_of(meter)
    points = history_points(session, meter.id, register, exclude_message_id=exclude_message_id)
    before: list[Point] | None = None
    if len(points) < 3:
        old = predecessor(session, meter)
        if old is not None:
            old_register = register if register in old.registers else old.registers.split(",")[0]
            before = history_points(session, old.id, old_register.strip())
    return expect(profile.kind, spec_of(profile), register, read_on, points, predecessor=before)
