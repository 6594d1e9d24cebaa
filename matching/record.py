"""Book a decision: a Reading for an accept, a ReviewTask for a review; an AuditLog row for each.

Idempotent per intake-ledger id: when a reading or a review task for the mail already exists, the
call returns its ids and writes nothing. The unique constraints (`reading`: meter, register,
message; `review_task`: message) are the last line of defence against two workers racing on the
same mail; the loser's transaction fails with IntegrityError and its retry finds the winner's rows.
(No SAVEPOINT: pysqlite's savepoints do not nest safely inside SQLAlchemy's transactions.)

`resolve_task` (the clerk's decision on a review task) lives in `matching.review` and is re-exported
here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.models import AuditLog, Meter, Reading, ReviewTask
from core.types import Decision, MatchResult, MeterRead
from matching.plausibility import primary_register
from matching.record_items import BookedReading, book_items, open_task
from matching.review import TaskResolution, resolve_task
from matching.rows import (
    Contact,
    audit,
    contact_for,
    customer_on,
    reading_for_message,
    task_for_message,
    text,
)
from matching.values import ocr_alternatives, photo_value

__all__ = [
    "BookedReading",
    "RecordOutcome",
    "TaskResolution",
    "record_decision",
    "resolve_task",
]


@dataclass(frozen=True)
class RecordOutcome:
    """What was booked for one mail, and what the reply needs."""

    outcome: Literal["accept", "review", "reject", "ignore"]
    created: bool
    reading_id: int | None = None
    task_id: int | None = None
    meter_id: int | None = None
    meter_number: str | None = None
    value: Decimal | None = None
    unit: str | None = None
    decimal_digits: int = 0
    customer_email: str | None = None
    customer_language: str = "de"
    customer_name: str | None = None
    booked: tuple[BookedReading, ...] = ()  # every reading booked for the mail (item path)


def record_decision(
    session: Session,
    *,
    ledger_id: int,
    photo_id: int | None,
    read_on: dt.date,
    match: MatchResult,
    decision: Decision,
    read: MeterRead | None,
    photo_ids: Sequence[int] = (),
    reads: Sequence[MeterRead | None] = (),
) -> RecordOutcome:
    """Write what `decision` says, once per ledger id; return ids and reply details.

    A decision with `items` (one per photo) books each accepted item and opens one task for the
    rest (`photo_ids`: the stored photos in the mail's order; `reads`: per item, its read).
    """
    existing = _existing(session, ledger_id, read_on)
    if existing is not None:
        return existing
    if decision.items:
        return _record_items(session, ledger_id, photo_ids, read_on, match, decision, reads)
    if decision.outcome == "accept":
        return _accept(session, ledger_id, photo_id, read_on, match, decision)
    if decision.outcome == "review":
        return _review(session, ledger_id, photo_id, read_on, match, decision, read)
    return _other(session, ledger_id, read_on, match, decision)


def _record_items(
    session: Session,
    ledger_id: int,
    photo_ids: Sequence[int],
    read_on: dt.date,
    match: MatchResult,
    decision: Decision,
    reads: Sequence[MeterRead | None],
) -> RecordOutcome:
    booked = book_items(
        session, ledger_id=ledger_id, photo_ids=photo_ids, read_on=read_on, decision=decision
    )
    if decision.outcome == "accept":
        first = booked[0]
        meter = session.get(Meter, first.meter_id)
        return replace(
            _outcome(
                session, "accept", True, meter, first.value, read_on, reading_id=first.reading_id
            ),
            booked=tuple(booked),
        )
    lead = next(i for i, item in enumerate(decision.items) if item.outcome == "review")
    read = reads[lead] if lead < len(reads) else None
    task = open_task(
        session, ledger_id=ledger_id, photo_ids=photo_ids, decision=decision, booked=booked,
        candidates=task_candidates(match, read),
    )  # fmt: skip
    meter = session.get(Meter, task.meter_id) if task.meter_id else None
    contact = contact_for(session, meter, match.customer_id, read_on)
    return replace(
        _outcome(
            session,
            "review",
            True,
            meter,
            decision.value,
            read_on,
            task_id=task.id,
            contact=contact,
        ),
        booked=tuple(booked),
    )


def _existing(session: Session, ledger_id: int, read_on: dt.date) -> RecordOutcome | None:
    reading = reading_for_message(session, ledger_id)
    if reading is not None:
        return _outcome(
            session,
            "accept",
            False,
            reading.meter,
            reading.value,
            reading.read_on,
            reading_id=reading.id,
        )
    task = task_for_message(session, ledger_id)
    if task is not None:
        return _outcome(
            session, "review", False, task.meter, task.proposed_value, read_on, task_id=task.id
        )
    return None


def _outcome(
    session: Session,
    outcome: Literal["accept", "review", "reject", "ignore"],
    created: bool,
    meter: Meter | None,
    value: Decimal | None,
    day: dt.date,
    *,
    reading_id: int | None = None,
    task_id: int | None = None,
    contact: Contact | None = None,
) -> RecordOutcome:
    """`contact`: whom to reply to; by default the customer of the account `meter` had on `day`
    (the reading's), never simply the meter's customer now (core.account_moves)."""
    who = contact or Contact.of(customer_on(session, meter, day) if meter else None)
    return RecordOutcome(
        outcome=outcome,
        created=created,
        reading_id=reading_id,
        task_id=task_id,
        meter_id=meter.id if meter else None,
        meter_number=meter.number if meter else None,
        value=value,
        unit=meter.unit if meter else None,
        decimal_digits=meter.decimal_digits if meter else 0,
        customer_email=who.email,
        customer_language=who.language,
        customer_name=who.name,
    )


def _accept(
    session: Session,
    ledger_id: int,
    photo_id: int | None,
    read_on: dt.date,
    match: MatchResult,
    decision: Decision,
) -> RecordOutcome:
    meter = session.get(Meter, decision.meter_id) if decision.meter_id else None
    if meter is None or decision.value is None:
        raise ValueError("an accept decision needs a meter and a value")
    reading = Reading(
        meter_id=meter.id,
        register=primary_register(meter),
        value=decision.value,
        read_on=read_on,
        source=match.value_source or "photo",
        status="accepted",
        accepted_by="auto",
        inbound_message_id=ledger_id,
    )
    session.add(reading)
    session.flush()
    details = {
        "ledger_id": ledger_id,
        "photo_id": photo_id,
        "meter_number": meter.number,
        "value": text(decision.value),
        "source": reading.source,
        "notes": list(match.reason_codes),
    }
    audit(
        session,
        actor="auto",
        action="reading_accepted",
        entity="reading",
        entity_id=reading.id,
        details=details,
    )
    return _outcome(session, "accept", True, meter, reading.value, read_on, reading_id=reading.id)


def _review(
    session: Session,
    ledger_id: int,
    photo_id: int | None,
    read_on: dt.date,
    match: MatchResult,
    decision: Decision,
    read: MeterRead | None,
) -> RecordOutcome:
    meter_id = decision.meter_id or (match.meter.meter_id if match.meter else None)
    task = ReviewTask(
        inbound_message_id=ledger_id,
        photo_id=photo_id,
        meter_id=meter_id,
        status="open",
        reason_codes=list(decision.reason_codes),
        candidates=task_candidates(match, read),
        proposed_value=decision.value,
    )
    session.add(task)
    session.flush()
    audit(
        session,
        actor="auto",
        action="review_created",
        entity="review_task",
        entity_id=task.id,
        details={"ledger_id": ledger_id, "reason_codes": list(decision.reason_codes)},
    )
    meter = session.get(Meter, meter_id) if meter_id else None
    contact = contact_for(session, meter, match.customer_id, read_on)
    return _outcome(
        session, "review", True, meter, decision.value, read_on, task_id=task.id, contact=contact
    )


def task_candidates(match: MatchResult, read: MeterRead | None) -> list[dict[str, Any]]:
    """The review task's `candidates` JSON: a list of entries, each with a `kind`:

    - `meter`: `meter_id`, `meter_number`, `account_number`, `why` (evidence codes), best first;
    - `value`: `value` (string), `source` (photo | typed | ocr_alternative), `confidence`,
      `proposed` (true for the proposed value); where the history chose one of the OCR's
      alternatives, the proposal carries that alternative's confidence and the OCR's own read
      is listed among the alternatives;
    - `ocr_meter_number`: `meter_number` as read from the photo.
    """
    entries: list[dict[str, Any]] = [
        {
            "kind": "meter",
            "meter_id": c.meter_id,
            "meter_number": c.meter_number,
            "account_number": c.account_number,
            "why": list(c.why),
        }
        for c in match.candidates
    ]
    alternatives = ocr_alternatives(read)
    if match.value is not None:
        confidence = read.confidence if read is not None and match.value_source == "photo" else None
        chosen = dict(alternatives).get(match.value) if confidence is not None else None
        if read is not None and chosen is not None:  # the history chose an alternative digit
            confidence, shown = chosen, photo_value(read)
            others = [(v, c) for v, c in alternatives if v != match.value]
            alternatives = [(shown, read.confidence), *others] if shown is not None else others
        entries.append(_value_entry(match.value, match.value_source or "photo", confidence, True))
    entries.extend(_value_entry(v, "ocr_alternative", c, False) for v, c in alternatives)
    if read is not None:
        numbers = dict.fromkeys(n for n in (read.meter_number, *read.meter_number_candidates) if n)
        entries.extend({"kind": "ocr_meter_number", "meter_number": n} for n in numbers)
    return entries


def _value_entry(
    value: Decimal, source: str, confidence: float | None, proposed: bool
) -> dict[str, Any]:
    return {
        "kind": "value",
        "value": text(value),
        "source": source,
        "confidence": None if confidence is None else round(confidence, 4),
        "proposed": proposed,
    }


def _other(
    session: Session, ledger_id: int, read_on: dt.date, match: MatchResult, decision: Decision
) -> RecordOutcome:
    """Reject / ignore: nothing to book; one audit row per mail."""
    action = "submission_rejected" if decision.outcome == "reject" else "submission_ignored"
    created = not _audited(session, action, ledger_id)
    if created:
        audit(
            session,
            actor="auto",
            action=action,
            entity="inbound_message",
            entity_id=ledger_id,
            details={"reason_codes": list(decision.reason_codes)},
        )
    contact = contact_for(session, None, match.customer_id, read_on)
    return _outcome(session, decision.outcome, created, None, None, read_on, contact=contact)


def _audited(session: Session, action: str, ledger_id: int) -> bool:
    query = select(AuditLog.id).where(
        AuditLog.action == action,
        AuditLog.entity == "inbound_message",
        AuditLog.entity_id == ledger_id,
    )
    return session.execute(query.limit(1)).first() is not None
