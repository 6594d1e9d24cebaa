"""The meters page: search by meter number, account or customer, with each meter's last reading;
and the links from a meter's readings to their mail, photo and review decision."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.models import ContractAccount, Customer, Meter, Photo, Reading, ReviewTask
from matching.history import find_meters

LIMIT = 100


@dataclass(frozen=True)
class MeterRow:
    meter_id: int
    number: str
    kind: str
    unit: str
    decimal_digits: int
    account_number: str
    customer_name: str
    readings: int
    last_value: Decimal | None
    last_read_on: dt.date | None


@dataclass(frozen=True)
class ReadingLink:
    message_id: int | None
    photo_id: int | None
    task_id: int | None
    corrects_id: int | None


def meter_list(session: Session, query: str) -> list[MeterRow]:
    stmt = (
        select(Meter, ContractAccount.number, Customer.name)
        .join(ContractAccount, ContractAccount.id == Meter.account_id)
        .join(Customer, Customer.id == ContractAccount.customer_id)
    )
    if query:
        ids = [hit.meter_id for hit in find_meters(session, query, limit=LIMIT)]
        stmt = stmt.where(Meter.id.in_(ids))
    rows = session.execute(stmt.order_by(Meter.number).limit(LIMIT)).all()
    stats = _reading_stats(session, [meter.id for meter, _, _ in rows])
    return [
        MeterRow(
            meter.id,
            meter.number,
            meter.kind,
            meter.unit,
            meter.decimal_digits,
            account,
            name,
            *stats.get(meter.id, (0, None, None)),
        )
        for meter, account, name in rows
    ]


def _reading_stats(
    session: Session, meter_ids: list[int]
) -> dict[int, tuple[int, Decimal | None, dt.date | None]]:
    if not meter_ids:
        return {}
    accepted = (Reading.meter_id.in_(meter_ids), Reading.status == "accepted")
    counts = dict(
        session.execute(
            select(Reading.meter_id, func.count()).where(*accepted).group_by(Reading.meter_id)
        ).all()
    )
    newest = (
        select(Reading.meter_id, Reading.value, Reading.read_on)
        .where(*accepted)
        .order_by(Reading.meter_id, Reading.read_on.desc(), Reading.id.desc())
    )
    last: dict[int, tuple[Decimal, dt.date]] = {}
    for meter_id, value, read_on in session.execute(newest):
        last.setdefault(meter_id, (value, read_on))
    stats: dict[int, tuple[int, Decimal | None, dt.date | None]] = {}
    for m in meter_ids:
        found = last.get(m)
        count = int(counts.get(m, 0))
        stats[m] = (count, found[0], found[1]) if found else (count, None, None)
    return stats


def reading_links(session: Session, reading_ids: list[int]) -> dict[int, ReadingLink]:
    if not reading_ids:
        return {}
    stmt = (
        select(
            Reading.id,
            Reading.inbound_message_id,
            Reading.corrects_id,
            ReviewTask.id,
            ReviewTask.photo_id,
        )
        .outerjoin(ReviewTask, ReviewTask.inbound_message_id == Reading.inbound_message_id)
        .where(Reading.id.in_(reading_ids))
    )
    rows = session.execute(stmt).all()
    messages = [r[1] for r in rows if r[1] is not None]
    first_photo = (
        dict(
            session.execute(
                select(Photo.message_id, func.min(Photo.id))
                .where(Photo.message_id.in_(messages))
                .group_by(Photo.message_id)
            ).all()
        )
        if messages
        else {}
    )
    links = {}
    for rid, message, corrects, task, task_photo in rows:
        photo = task_photo or (first_photo.get(message) if message is not None else None)
        links[rid] = ReadingLink(message, photo, task, corrects)
    return links
