"""A reply to our confirmation that says the confirmed value is wrong: a clerk task linked to the
booked reading it would correct.

`confirmed_readings` finds the readings a mail replies to: one of its In-Reply-To/References ids is
the Message-ID of a confirmation we sent (the outbox keeps it), and that confirmation's mail booked
them (one mail may book several meters or registers). Whether the reply *is* a correction, and of
which of them, is read from its text by `intake.corrections`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session

from core.models import AuditLog, InboundMessage, Meter, Outbox, Photo, Reading, ReviewTask
from core.types import Decision, decimal_text
from matching import reasons
from matching.rows import supersede


@dataclass(frozen=True)
class BookedReading:
    """A reading we confirmed, as a correction task and its reply need it."""

    reading_id: int
    ledger_id: int
    meter_id: int
    meter_number: str
    kind: str  # electricity | gas | water | heat
    register: str
    value: Decimal
    unit: str
    decimal_digits: int
    read_on: dt.date
    photo_id: int | None
    confirmation_text: str  # our mail's plain text: lines the reply quotes from it are not read


@dataclass(frozen=True)
class Correction:
    booked: BookedReading
    new_value: Decimal | None  # None: the customer says it is wrong but gives no value we can read

    def details(self) -> dict[str, Any]:
        """The review task's details (keys in matching/task_details.py)."""
        return {
            "corrects_reading_id": self.booked.reading_id,
            "corrected_ledger_id": self.booked.ledger_id,
            "register": self.booked.register,
            "old_value": decimal_text(self.booked.value),
            "new_value": decimal_text(self.new_value),
            "booked_photo_id": self.booked.photo_id,
        }

    def decision(self, found: Decision) -> Decision:
        """A clerk decides a correction, on the booked reading's meter, never the automat."""
        photo_codes = (reasons.PHOTO_REUSED, reasons.PHOTO_SIMILAR, reasons.PHOTO_OLD)
        kept = [code for code in found.reason_codes if code in photo_codes]
        return Decision(
            outcome="review",
            reason_codes=reasons.blocking([reasons.CORRECTION_REQUEST, *kept]),
            value=self.new_value,
            meter_id=self.booked.meter_id,
        )


def confirmed_readings(session: Session, references: Sequence[str]) -> tuple[BookedReading, ...]:
    """The readings booked from the mail whose confirmation `references` point at (latest
    confirmation first; its readings in booking order)."""
    if not references:
        return ()
    query = (
        select(Outbox)
        .where(
            Outbox.message_id.in_(list(references)),
            Outbox.kind == "confirmation",
            Outbox.inbound_message_id.is_not(None),
        )
        .order_by(Outbox.id.desc())
    )
    for mail in session.scalars(query.limit(5)):
        assert mail.inbound_message_id is not None  # the query says so
        booked = _booked(session, mail.inbound_message_id, mail.body_text)
        if booked:
            return booked
    return ()


def _booked(session: Session, ledger_id: int, our_text: str) -> tuple[BookedReading, ...]:
    query = (
        select(Reading, Meter)
        .join(Meter, Reading.meter_id == Meter.id)
        .where(
            or_(Reading.inbound_message_id == ledger_id, Reading.id.in_(_repeated(ledger_id))),
            Reading.status == "accepted",
        )
        .order_by(Reading.id)
    )
    rows = session.execute(query).all()
    first_photo = session.scalar(
        select(Photo.id).where(Photo.message_id == ledger_id).order_by(Photo.id).limit(1)
    )
    booked = []
    for reading, meter in rows:
        photo_id = reading.photo_id or first_photo
        booked.append(BookedReading(
            reading_id=reading.id, ledger_id=ledger_id, meter_id=meter.id,
            meter_number=meter.number, kind=meter.kind, register=reading.register,
            value=reading.value, unit=meter.unit, decimal_digits=meter.decimal_digits,
            read_on=reading.read_on, photo_id=photo_id, confirmation_text=our_text,
        ))  # fmt: skip
    return tuple(booked)


def _repeated(ledger_id: int) -> Select[int | None]:
    """The readings a mail sent again (booked once, from an earlier mail the same day): its
    confirmation listed them. Only audit rows written since the mail arrived are searched."""
    received = select(InboundMessage.received_at).where(InboundMessage.id == ledger_id)
    return select(AuditLog.entity_id).where(
        AuditLog.action == "reading_repeated",
        AuditLog.at >= received.scalar_subquery(),
        AuditLog.details["ledger_id"].as_integer() == ledger_id,
    )


def supersede_corrected(
    session: Session, task: ReviewTask, reading: Reading, *, clerk: str
) -> None:
    """When a clerk books the value of a correction task, the corrected reading is superseded:
    the new one takes its read date, the old one no longer counts (status `superseded`) and is
    not exported again (only when the clerk booked the corrected reading's meter and register).
    Other tasks are left alone."""
    corrects = (task.details or {}).get("corrects_reading_id")
    old = session.get(Reading, corrects) if isinstance(corrects, int) else None
    if old is None or old.status != "accepted":
        return
    if (old.meter_id, old.register) != (reading.meter_id, reading.register):
        return  # the clerk booked another meter or register: nothing of it is replaced
    reading.read_on = old.read_on
    supersede(session, old, reading, clerk=clerk, details={"review_task_id": task.id})


def history_excluded(task: ReviewTask) -> int | None:
    """The mail whose readings a booking on `task` is not judged against: for a correction the
    corrected mail, for another reading of the same day that reading's mail (its value is the one
    being replaced), else the task's own mail."""
    details = task.details or {}
    for key in ("corrected_ledger_id", "same_day_ledger_id"):
        if isinstance(details.get(key), int):
            return int(details[key])
    return task.inbound_message_id
