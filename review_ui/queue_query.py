"""The review queue: open tasks with meter, customer, thumbnail and claim, filtered and sorted.

One query for the page (at most `PAGE_SIZE` rows, oldest task first) and one count; the order
follows the (status, created_at) index, so the page stays fast with tens of thousands of open
tasks.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, String, and_, cast, func, or_, select
from sqlalchemy.orm import Session

from core.models import ContractAccount, Customer, InboundMessage, Meter, Photo, ReviewTask
from matching.plausibility import decimal_places
from review_ui.claims import free_for

PAGE_SIZE = 100  # rows per queue page; filters and search narrow it down
SORTS = ("oldest", "newest", "meter", "reason")
KINDS = ("electricity", "gas", "water", "heat")
AGES = {"1": 1, "3": 3, "7": 7, "30": 30}  # "older than N days"


@dataclass(frozen=True)
class QueueFilter:
    reason: str = ""
    kind: str = ""
    older_than_days: int = 0
    search: str = ""
    sort: str = "oldest"

    @classmethod
    def of(cls, *, reason: str, kind: str, age: str, q: str, sort: str) -> QueueFilter:
        return cls(
            reason=reason if reason.replace("_", "").isalpha() else "",
            kind=kind if kind in KINDS else "",
            older_than_days=AGES.get(age, 0),
            search=q.strip()[:60],
            sort=sort if sort in SORTS else "oldest",
        )


@dataclass(frozen=True)
class QueueRow:
    id: int
    received_at: dt.datetime
    sender: str
    subject: str
    reason_codes: list[str]
    proposed_value: Decimal | None
    meter_id: int | None
    meter_number: str | None
    meter_kind: str
    unit: str
    decimal_digits: int
    customer_name: str
    account_number: str
    photo_id: int | None
    claimed_by: str | None  # another clerk's active lease, else None


def queue_rows(
    session: Session, wanted: QueueFilter, *, clerk: str, now: dt.datetime
) -> tuple[list[QueueRow], int]:
    """One page of open tasks and the number of all that match the filter."""
    base = _filtered(select(ReviewTask.id), wanted, now)
    total = int(session.scalar(select(func.count()).select_from(base.subquery())) or 0)
    columns = select(
        ReviewTask.id,
        ReviewTask.inbound_message_id,
        ReviewTask.photo_id,
        ReviewTask.reason_codes,
        ReviewTask.proposed_value,
        ReviewTask.claimed_by,
        ReviewTask.claimed_until,
        InboundMessage.received_at,
        InboundMessage.sender,
        InboundMessage.subject,
        Meter.id.label("meter_id"),
        Meter.number.label("meter_number"),
        Meter.kind,
        Meter.unit,
        Meter.decimal_digits,
        Customer.name.label("customer_name"),
        ContractAccount.number.label("account_number"),
    )
    stmt = _sorted(_filtered(columns, wanted, now), wanted.sort).limit(PAGE_SIZE)
    rows = session.execute(stmt).all()
    photos = _first_photos(session, rows)
    return [_row(r, photos, clerk, now) for r in rows], total


def _filtered(stmt: Select, wanted: QueueFilter, now: dt.datetime) -> Select:
    stmt = (
        stmt.join(InboundMessage, InboundMessage.id == ReviewTask.inbound_message_id)
        .outerjoin(Meter, Meter.id == ReviewTask.meter_id)
        .outerjoin(ContractAccount, ContractAccount.id == Meter.account_id)
        .outerjoin(Customer, Customer.id == ContractAccount.customer_id)
        .where(ReviewTask.status == "open")
    )
    if wanted.reason:
        stmt = stmt.where(cast(ReviewTask.reason_codes, String).like(f'%"{wanted.reason}"%'))
    if wanted.kind:
        stmt = stmt.where(Meter.kind == wanted.kind)
    if wanted.older_than_days:
        cutoff = now - dt.timedelta(days=wanted.older_than_days)
        stmt = stmt.where(InboundMessage.received_at <= cutoff)
    if wanted.search:
        pattern = f"%{_escape_like(wanted.search.lower())}%"
        stmt = stmt.where(
            or_(
                func.lower(Meter.number).like(pattern, escape="\\"),
                func.lower(ContractAccount.number).like(pattern, escape="\\"),
                func.lower(Customer.name).like(pattern, escape="\\"),
                func.lower(InboundMessage.sender).like(pattern, escape="\\"),
            )
        )
    return stmt


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _sorted(stmt: Select, sort: str) -> Select:
    if sort == "newest":
        return stmt.order_by(ReviewTask.created_at.desc(), ReviewTask.id.desc())
    if sort == "meter":
        return stmt.order_by(Meter.number.nulls_last(), ReviewTask.id)
    if sort == "reason":
        return stmt.order_by(cast(ReviewTask.reason_codes, String), ReviewTask.id)
    return stmt.order_by(ReviewTask.created_at, ReviewTask.id)


def _first_photos(session: Session, rows: Sequence[Any]) -> dict[int, int]:
    """The photo to show as a thumbnail per task: its own, else the mail's first."""
    found = {r.id: r.photo_id for r in rows if r.photo_id is not None}
    missing = {r.inbound_message_id: r.id for r in rows if r.photo_id is None}
    if missing:
        stmt = (
            select(Photo.message_id, func.min(Photo.id))
            .where(Photo.message_id.in_(missing))
            .group_by(Photo.message_id)
        )
        for message_id, photo_id in session.execute(stmt):
            found[missing[message_id]] = photo_id
    return found


def _row(row: Any, photos: dict[int, int], clerk: str, now: dt.datetime) -> QueueRow:
    held = row.claimed_by if row.claimed_until and row.claimed_until > now else None
    return QueueRow(
        id=row.id,
        received_at=row.received_at,
        sender=row.sender or "",
        subject=row.subject or "",
        reason_codes=list(row.reason_codes or []),
        proposed_value=row.proposed_value,
        meter_id=row.meter_id,
        meter_number=row.meter_number,
        meter_kind=row.kind or "",
        unit=row.unit or "",
        decimal_digits=_places(row.decimal_digits, row.proposed_value),
        customer_name=row.customer_name or "",
        account_number=row.account_number or "",
        photo_id=photos.get(row.id),
        claimed_by=held if held != clerk else None,
    )


def _places(meter_digits: int | None, proposed: Decimal | None) -> int:
    """The meter's decimal digits; without a meter, the proposal's own (262,612, not 263)."""
    if meter_digits is not None or proposed is None:
        return meter_digits or 0
    return decimal_places(Decimal(proposed))


def next_task_id(session: Session, *, clerk: str, now: dt.datetime) -> int | None:
    """The oldest open task nobody else holds."""
    stmt = (
        select(ReviewTask.id)
        .where(ReviewTask.status == "open", free_for(clerk, now))
        .order_by(ReviewTask.created_at, ReviewTask.id)
        .limit(1)
    )
    return session.scalar(stmt)


def neighbour_task_id(
    session: Session, task_id: int, *, clerk: str, now: dt.datetime, forward: bool
) -> int | None:
    """The task after (`forward`) or before `task_id` in the queue's order (oldest first): after
    it the next open task nobody else holds; before it also the tasks this clerk decided, so
    "previous" leads back to a decision just made (to look at it, or undo it)."""
    current = session.get(ReviewTask, task_id)
    if current is None:
        return None
    at, key = current.created_at, current.id
    if forward:
        beyond = or_(
            ReviewTask.created_at > at, and_(ReviewTask.created_at == at, ReviewTask.id > key)
        )
        wanted = and_(ReviewTask.status == "open", free_for(clerk, now))
        order = (ReviewTask.created_at.asc(), ReviewTask.id.asc())
    else:
        beyond = or_(
            ReviewTask.created_at < at, and_(ReviewTask.created_at == at, ReviewTask.id < key)
        )
        mine = ReviewTask.decided_by == clerk
        wanted = or_(and_(ReviewTask.status == "open", free_for(clerk, now)), mine)
        order = (ReviewTask.created_at.desc(), ReviewTask.id.desc())
    stmt = select(ReviewTask.id).where(beyond, wanted).order_by(*order).limit(1)
    return session.scalar(stmt)
