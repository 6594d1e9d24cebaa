"""A clerk's decision on a review task: accept the proposal, correct it, or reject the mail.

The task is closed with a conditional UPDATE (`… WHERE status = 'open'`), so of two clerks deciding
the same task at once exactly one wins on both databases; the other gets `ConflictError`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from core.context import BERLIN
from core.db import lock_meters
from core.errors import ConflictError, InvalidInputError, NotFoundError
from core.formatting import format_number
from core.models import InboundMessage, Meter, Reading, ReviewTask
from matching import reasons
from matching.corrections import history_excluded, supersede_corrected
from matching.expectation import band_codes
from matching.meters import expectation_for
from matching.plausibility import (
    DEFAULT_MAX_DAILY_CONSUMPTION,
    MeterSpec,
    check_meter,
    digit_codes,
    primary_register,
)
from matching.rows import Contact, audit, customer_on, text
from matching.same_day import supersede_same_day

Action = Literal["accept", "correct", "reject"]
DECISIONS: dict[str, str] = {"accept": "accepted", "correct": "corrected", "reject": "rejected"}


@dataclass(frozen=True)
class TaskResolution:
    """The outcome of a clerk's decision, with everything the UI and the reply need."""

    task_id: int
    decision: Literal["accepted", "corrected", "rejected"]
    reading_id: int | None
    meter_id: int | None
    meter_number: str | None
    register: str | None
    value: Decimal | None
    unit: str | None
    decimal_digits: int
    read_on: dt.date | None
    warnings: tuple[str, ...]  # plausibility reason codes; see matching.reasons.label()
    customer_email: str | None
    customer_language: str
    customer_name: str | None
    inbound_message_id: int
    message_id: str | None  # the customer mail's Message-ID header, for In-Reply-To
    sender: str | None  # the customer mail's From address (reply here when no customer is known)


def resolve_task(
    session: Session,
    task_id: int,
    *,
    action: Action,
    value: Decimal | None,
    meter_id: int | None,
    clerk: str,
    now: dt.datetime,
    register: str | None = None,
    max_daily_consumption: float = DEFAULT_MAX_DAILY_CONSUMPTION,
) -> TaskResolution:
    """Decide review task `task_id` as clerk `clerk`.

    - `accept`: book the proposed value (on `meter_id` if given, else the task's meter);
    - `correct`: book `value` (required) on `meter_id` (or the task's meter), source "clerk";
    - `reject`: book nothing.
    Plausibility findings are returned as `warnings` and do not block the clerk; a value that the
    meter cannot show (sign, digit counts) raises `InvalidInputError`. A task that is not open
    raises `ConflictError`, an unknown task or meter `NotFoundError`.
    """
    task = _open_task(session, task_id)
    if action == "reject":
        _close(session, task, "rejected", None, None, clerk, now)
        return _resolution(session, task, "rejected", None, None, None, None, ())
    if action not in ("accept", "correct"):
        raise InvalidInputError(f"unbekannte Aktion: {action!r}")
    meter, booked = _target(session, task, action, value, meter_id)
    _require_fits(meter, booked)
    lock_meters(session, [meter.id])  # a worker booking on it meanwhile commits first
    register = register or _task_register(task, meter) or primary_register(meter)
    read_on = task.message.received_at.astimezone(BERLIN).date()
    warnings = check_meter(
        session,
        meter,
        booked,
        read_on,
        register=register,
        max_daily_consumption=max_daily_consumption,
        exclude_message_id=history_excluded(task),
    )
    warnings = _with_band(session, task, meter, register, booked, read_on, warnings)
    decision: Literal["accepted", "corrected"] = "accepted" if action == "accept" else "corrected"
    _close(session, task, decision, booked, meter.id, clerk, now)
    reading = _book(session, task, meter, register, booked, read_on, action=action, clerk=clerk)
    supersede_corrected(session, task, reading, clerk=clerk)  # a customer's correction
    supersede_same_day(session, task, reading, clerk=clerk)  # the day's other reading
    read_on = reading.read_on
    _audit_booking(session, task, reading, meter, clerk=clerk, warnings=warnings)
    return _resolution(session, task, decision, reading, meter, booked, read_on, warnings)


def _with_band(
    session: Session,
    task: ReviewTask,
    meter: Meter,
    register: str,
    value: Decimal,
    read_on: dt.date,
    warnings: tuple[str, ...],
) -> tuple[str, ...]:
    """The clerk is also told when the value leaves the register's expected band."""
    exp = expectation_for(
        session, meter, register, read_on, exclude_message_id=history_excluded(task)
    )
    band = band_codes(value, exp, meter.kind, MeterSpec.of(meter))
    return tuple(dict.fromkeys([*warnings, *band]))


def _task_register(task: ReviewTask, meter: Meter) -> str | None:
    """The register the decision proposed, when the clerk books on the proposed meter."""
    proposed = (task.details or {}).get("register")
    if task.meter_id != meter.id or not isinstance(proposed, str):
        return None
    return proposed if proposed in meter.registers.split(",") else None


def _audit_booking(
    session: Session,
    task: ReviewTask,
    reading: Reading,
    meter: Meter,
    *,
    clerk: str,
    warnings: tuple[str, ...],
) -> None:
    audit(
        session,
        actor=clerk,
        action=f"task_{task.decision}",
        entity="review_task",
        entity_id=task.id,
        details={
            "reading_id": reading.id,
            "meter_number": meter.number,
            "value": text(reading.value),
            "warnings": list(warnings),
        },
    )


def _open_task(session: Session, task_id: int) -> ReviewTask:
    task = session.get(ReviewTask, task_id)
    if task is None:
        raise NotFoundError(f"Prüfaufgabe {task_id} gibt es nicht.")
    if task.status != "open":
        raise ConflictError(_already_decided(task))
    return task


def _already_decided(task: ReviewTask) -> str:
    by = f" von {task.decided_by}" if task.decided_by else ""
    return f"Prüfaufgabe {task.id} ist bereits entschieden ({task.decision or task.status}{by})."


def _target(
    session: Session,
    task: ReviewTask,
    action: Action,
    value: Decimal | None,
    meter_id: int | None,
) -> tuple[Meter, Decimal]:
    booked = task.proposed_value if action == "accept" else value
    if booked is None:
        raise InvalidInputError(
            "Kein Zählerstand vorgeschlagen; bitte den Stand eingeben (korrigieren)."
            if action == "accept"
            else "Bitte den korrigierten Zählerstand angeben."
        )
    chosen = meter_id or task.meter_id
    if chosen is None:
        raise InvalidInputError("Bitte einen Zähler auswählen.")
    meter = session.get(Meter, chosen)
    if meter is None:
        raise NotFoundError(f"Zähler {chosen} gibt es nicht.")
    return meter, Decimal(booked)


def _require_fits(meter: Meter, value: Decimal) -> None:
    codes = digit_codes(value, MeterSpec.of(meter))
    if not codes:
        return
    limit = format_number(Decimal(10) ** meter.integer_digits - 1)
    raise InvalidInputError(
        f"{format_number(value, max(meter.decimal_digits, 0))} passt nicht zu Zähler "
        f"{meter.number} ({meter.integer_digits} Vor-, {meter.decimal_digits} Nachkommastellen, "
        f"höchstens {limit}): " + ", ".join(reasons.label(c) for c in codes)
    )


def _settle_message(session: Session, task: ReviewTask, status: str) -> None:
    """The mail's ledger status follows the clerk's decision (its folder stays Needs-Review)."""
    session.execute(
        update(InboundMessage)
        .where(InboundMessage.id == task.inbound_message_id, InboundMessage.status == "review")
        .values(status=status)
        .execution_options(synchronize_session=False)
    )


def _close(
    session: Session,
    task: ReviewTask,
    decision: str,
    value: Decimal | None,
    meter_id: int | None,
    clerk: str,
    now: dt.datetime,
) -> None:
    """Close the task if it is still open; otherwise someone else was faster."""
    values: dict[str, object] = {
        "status": "done",
        "decision": decision,
        "decided_value": value,
        "decided_by": clerk,
        "decided_at": now,
    }
    if meter_id is not None:
        values["meter_id"] = meter_id
    result = session.execute(
        update(ReviewTask)
        .where(ReviewTask.id == task.id, ReviewTask.status == "open")
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if getattr(result, "rowcount", 0) != 1:
        session.refresh(task)
        raise ConflictError(_already_decided(task))
    session.refresh(task)
    _settle_message(session, task, "rejected" if decision == "rejected" else "accepted")
    if decision == "rejected":
        audit(
            session,
            actor=clerk,
            action="task_rejected",
            entity="review_task",
            entity_id=task.id,
            details={"ledger_id": task.inbound_message_id},
        )


def _book(
    session: Session,
    task: ReviewTask,
    meter: Meter,
    register: str,
    value: Decimal,
    read_on: dt.date,
    *,
    action: Action,
    clerk: str,
) -> Reading:
    clash = select(Reading.id).where(
        Reading.meter_id == meter.id,
        Reading.register == register,
        Reading.inbound_message_id == task.inbound_message_id,
    )
    if session.execute(clash).first() is not None:
        raise ConflictError(
            f"Für diese Mail ist auf Zähler {meter.number} schon ein Stand gebucht."
        )
    reading = Reading(
        meter_id=meter.id,
        register=register,
        value=value,
        read_on=read_on,
        source=_proposal_source(task) if action == "accept" else "clerk",
        status="accepted",
        accepted_by=clerk,
        inbound_message_id=task.inbound_message_id,
    )
    session.add(reading)
    session.flush()
    return reading


def _proposal_source(task: ReviewTask) -> str:
    for entry in task.candidates or []:
        if entry.get("kind") == "value" and entry.get("proposed"):
            return str(entry.get("source") or "photo")
    return "photo"


def _resolution(
    session: Session,
    task: ReviewTask,
    decision: Literal["accepted", "corrected", "rejected"],
    reading: Reading | None,
    meter: Meter | None,
    value: Decimal | None,
    read_on: dt.date | None,
    warnings: tuple[str, ...],
) -> TaskResolution:
    shown = meter or task.meter
    # the customer whose account held the meter on the reading's day: a mail from before a move
    # that a clerk decides after it is confirmed to the tenant before, not to the new one
    day = read_on or task.message.received_at.astimezone(BERLIN).date()
    contact = Contact.of(customer_on(session, shown, day)) if shown else Contact()
    return TaskResolution(
        task_id=task.id,
        decision=decision,
        reading_id=reading.id if reading else None,
        meter_id=shown.id if shown else None,
        meter_number=shown.number if shown else None,
        register=reading.register if reading else None,
        value=value,
        unit=shown.unit if shown else None,
        decimal_digits=shown.decimal_digits if shown else 0,
        read_on=read_on,
        warnings=warnings,
        customer_email=contact.email,
        customer_language=contact.language,
        customer_name=contact.name,
        inbound_message_id=task.inbound_message_id,
        message_id=task.message.message_id,
        sender=task.message.sender,
    )
