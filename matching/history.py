"""A meter's reading history for the clerk's chart, and meter search for the review UI."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from core.errors import NotFoundError
from core.models import ContractAccount, Customer, Meter, Reading
from matching.plausibility import MeterSpec, consumption
from matching.values import normalize_meter_number

PER_DAY_PLACES = Decimal("0.000001")  # fine enough for a meter billed in MWh or GJ


@dataclass(frozen=True)
class HistoryPoint:
    """One reading; consumption is measured from the previous *accepted* reading of its register."""

    reading_id: int
    read_on: dt.date
    register: str
    value: Decimal
    source: str  # import | photo | typed | clerk
    status: str
    accepted_by: str | None
    consumption: Decimal | None  # None for the first reading and for readings not accepted
    per_day: Decimal | None  # consumption / days since the previous reading (None: same day)


@dataclass(frozen=True)
class MeterHit:
    meter_id: int
    meter_number: str
    account_number: str
    customer_name: str
    customer_email: str | None
    kind: str
    unit: str
    removed_on: dt.date | None


def meter_history(session: Session, meter_id: int) -> list[HistoryPoint]:
    """All readings of a meter, oldest first, with consumption between accepted readings.

    A reading below its predecessor is shown as consumption across a counter rollover.
    """
    meter = session.get(Meter, meter_id)
    if meter is None:
        raise NotFoundError(f"Zähler {meter_id} gibt es nicht.")
    spec = MeterSpec.of(meter)
    rows = session.scalars(
        select(Reading).where(Reading.meter_id == meter_id).order_by(Reading.read_on, Reading.id)
    )
    previous: dict[str, Reading] = {}
    points = []
    for reading in rows:
        before = previous.get(reading.register) if reading.status == "accepted" else None
        points.append(_point(reading, before, spec))
        if reading.status == "accepted":
            previous[reading.register] = reading
    return points


def _point(reading: Reading, before: Reading | None, spec: MeterSpec) -> HistoryPoint:
    used = per_day = None
    if before is not None:
        used = consumption(Decimal(reading.value), Decimal(before.value), spec)
        days = (reading.read_on - before.read_on).days
        per_day = (used / days).quantize(PER_DAY_PLACES) if days > 0 else None
    return HistoryPoint(
        reading_id=reading.id,
        read_on=reading.read_on,
        register=reading.register,
        value=Decimal(reading.value),
        source=reading.source,
        status=reading.status,
        accepted_by=reading.accepted_by,
        consumption=used,
        per_day=per_day,
    )


def find_meters(session: Session, query: str, *, limit: int = 20) -> list[MeterHit]:
    """Meters whose number (ignoring spaces and dashes) or account number contains `query`, or
    whose customer's name or email contains it (case-insensitive). Exact number matches first."""
    needle = query.strip()
    if len(needle) < 2:
        return []
    number = normalize_meter_number(needle)
    pattern = f"%{_escape(needle)}%"
    condition = or_(
        func.upper(func.replace(func.replace(Meter.number, " ", ""), "-", "")).like(
            f"%{_escape(number)}%", escape="\\"
        ),
        ContractAccount.number.like(f"%{_escape(needle.replace(' ', ''))}%", escape="\\"),
        Customer.name.ilike(pattern, escape="\\"),
        Customer.email.ilike(pattern, escape="\\"),
    )
    exact = func.upper(Meter.number) == number
    rows = session.execute(
        select(Meter, ContractAccount.number, Customer.name, Customer.email)
        .join(Meter.account)
        .join(ContractAccount.customer)
        .where(condition)
        .order_by(exact.desc(), Meter.number)
        .limit(limit)
    )
    return [
        MeterHit(
            meter_id=meter.id,
            meter_number=meter.number,
            account_number=account,
            customer_name=name,
            customer_email=email,
            kind=meter.kind,
            unit=meter.unit,
            removed_on=meter.removed_on,
        )
        for meter, account, name, email in rows
    ]


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
