"""A clerk's decision on a review task: parse the form, then book it in one transaction.

Booking (reading, task closed, audit log) belongs to `matching.record.resolve_task`; the
customer's confirmation is queued by `notifications.outbox` in the same transaction (transactional
outbox), so either both happen or neither does. Two clerks on one task: the task is closed by a
conditional UPDATE, and the second clerk gets `AlreadyDecided`.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.context import BERLIN, AppContext
from core.db import transaction
from core.errors import ConflictError, InvalidInputError, NotFoundError
from core.formatting import parse_german_decimal
from core.models import AuditLog, Meter, Reading, ReviewTask
from matching.history import find_meters
from matching.meters import named_register, registers_of
from matching.new_photo import close_tasks_awaiting
from matching.plausibility import MeterSpec, digit_codes
from matching.record import TaskResolution, resolve_task
from matching.values import normalize_meter_number
from notifications.errors import InvalidRecipientError
from notifications.outbox import ConfirmedReading, queue_confirmation, queue_resend_request
from review_ui.claims import require_claim_free
from review_ui.expectation import GUARDS, expectation_for, task_guard_codes
from review_ui.undo import UndoRefused, book_correction, exported_reading, plain

log = logging.getLogger(__name__)

Action = Literal["accept", "correct", "reject"]
MAX_REASON = 500


class DecisionInvalid(ValueError):
    """The form cannot be booked as it is; `key` names the UI text explaining why."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


class AlreadyDecided(Exception):
    """Another clerk (or another tab) decided this task first."""


class DecisionRefused(Exception):
    """The value cannot be booked on the chosen meter; the message says why (German)."""


class NeedsConfirmation(Exception):
    """The value trips a guard the clerk has not confirmed by name; nothing was booked."""

    def __init__(self, codes: tuple[str, ...]) -> None:
        super().__init__(", ".join(codes))
        self.codes = codes


@dataclass(frozen=True)
class DecisionInput:
    action: Action
    value: Decimal | None
    meter_id: int | None
    reason: str = ""
    ask_resend: bool = False
    confirmed: frozenset[str] = frozenset()
    register: str | None = None  # the register the clerk chose (HT/NT meters); None: the task's


def parse_decision(
    session: Session,
    task: ReviewTask,
    *,
    action: str,
    value: str,
    meter_id: str | int | None,
    meter_number: str = "",
    reason: str = "",
    ask_resend: bool = False,
    confirmed: Iterable[str] = (),
    register: str = "",
) -> DecisionInput:
    """Turn form/API fields into a decision. "Accept" with a changed value is a correction."""
    if action == "reject":
        reason = reason.strip()
        if not reason:
            raise DecisionInvalid("task.error_reason")
        return DecisionInput("reject", None, None, reason[:MAX_REASON], ask_resend=ask_resend)
    if action not in ("accept", "correct"):
        raise DecisionInvalid("task.error_value")
    try:
        parsed = parse_german_decimal(value)
    except ValueError as exc:
        raise DecisionInvalid("task.error_value") from exc
    if not parsed.is_finite() or parsed < 0:
        raise DecisionInvalid("task.error_value")
    chosen = _chosen_meter(session, meter_id, meter_number)
    if chosen is None:
        raise DecisionInvalid("task.error_meter")
    unchanged = task.proposed_value is not None and parsed == task.proposed_value
    final: Action = "accept" if action == "accept" and unchanged else "correct"
    known = frozenset(c for c in confirmed if c in GUARDS)
    meter = session.get(Meter, chosen)
    registers = registers_of(meter) if meter is not None else ()
    register = register.strip()
    if not register or len(registers) < 2:  # a meter with one register: nothing to choose
        return DecisionInput(final, parsed, chosen, confirmed=known)
    if register not in registers:
        raise DecisionInvalid("task.error_register")
    return DecisionInput(final, parsed, chosen, confirmed=known, register=register)


def _chosen_meter(session: Session, meter_id: str | int | None, meter_number: str) -> int | None:
    """A meter number typed by the clerk wins over the radio choice."""
    number = normalize_meter_number(meter_number)
    if number:
        hits = find_meters(session, meter_number, limit=5)
        exact = [h.meter_id for h in hits if normalize_meter_number(h.meter_number) == number]
        return exact[0] if exact else None
    if meter_id in (None, ""):
        return None
    try:
        wanted = int(meter_id)
    except ValueError:
        return None
    return wanted if session.get(Meter, wanted) is not None else None


def decide(ctx: AppContext, task_id: int, decision: DecisionInput, *, clerk: str) -> TaskResolution:
    """Book the decision and queue the customer's mail, atomically.

    Raises `AlreadyDecided` when another clerk was faster, `ClaimedElsewhere` when another clerk
    holds the task, `NeedsConfirmation` when the value trips an unconfirmed guard,
    `DecisionRefused` when the value cannot be booked on the meter (e.g. too many digits),
    `NotFoundError` for an unknown task.
    """
    now = ctx.clock()
    try:
        with transaction(ctx.sessions) as session:
            task = session.get(ReviewTask, task_id)
            if task is None:
                raise NotFoundError(f"Prüfaufgabe {task_id} gibt es nicht.")
            require_claim_free(task, clerk, now)
            proposal = plain(task.proposed_value)
            if decision.action != "reject":
                _require_confirmed(session, task, decision)
            exported = exported_reading(session, task)
            if exported is not None:
                return _correct_exported(session, task, exported, decision, clerk=clerk, now=now)
            resolution = resolve_task(
                session,
                task_id,
                action=decision.action,
                value=decision.value,
                meter_id=decision.meter_id,
                clerk=clerk,
                now=now,
                register=decision.register,
                max_daily_consumption=ctx.settings.max_daily_consumption,
            )
            _annotate(session, task, decision, proposal)
            _queue_reply(session, resolution, decision, now)
            if resolution.decision != "rejected":  # a task waiting for this mail's photo is done
                close_tasks_awaiting(session, task.inbound_message_id, now=now)
    except ConflictError as exc:
        raise AlreadyDecided(str(exc)) from exc
    except UndoRefused as exc:
        raise AlreadyDecided(exc.key) from exc
    except InvalidInputError as exc:
        raise DecisionRefused(str(exc)) from exc
    return resolution


def _require_confirmed(session: Session, task: ReviewTask, decision: DecisionInput) -> None:
    """Every guard the value trips must be named in `decision.confirmed` (server-side)."""
    meter_id = decision.meter_id or task.meter_id
    meter = session.get(Meter, meter_id) if meter_id else None
    value = task.proposed_value if decision.action == "accept" else decision.value
    if meter is None or value is None or digit_codes(Decimal(value), MeterSpec.of(meter)):
        return  # nothing to confirm, or a value the meter cannot show (refused when booking)
    expectation = expectation_for(
        session, meter, read_date(task), task=task, register=decision.register
    )
    codes = task_guard_codes(Decimal(value), expectation, task)
    missing = tuple(c for c in codes if c not in decision.confirmed)
    if missing:
        raise NeedsConfirmation(codes)


def read_date(task: ReviewTask) -> dt.date:
    """The reading's date: the day the customer's mail arrived (Berlin time)."""
    return task.message.received_at.astimezone(BERLIN).date()


def _annotate(
    session: Session, task: ReviewTask, decision: DecisionInput, proposal: str | None
) -> None:
    """Add what matching's audit row lacks: the original proposal, the confirmed guards and a
    rejection's reason."""
    if decision.action == "reject":
        task.note = decision.reason
    session.flush()
    row = session.scalars(
        select(AuditLog)
        .where(AuditLog.entity == "review_task", AuditLog.entity_id == task.id)
        .order_by(AuditLog.id.desc())
        .limit(1)
    ).first()
    if row is None:
        return
    extra: dict[str, Any] = {"proposed_value": proposal}
    if decision.confirmed:
        extra["confirmed"] = sorted(decision.confirmed)
    if decision.action == "reject":
        extra["reason"] = decision.reason
        extra["ask_resend"] = decision.ask_resend
    row.details = {**(row.details or {}), **extra}


def _correct_exported(
    session: Session,
    task: ReviewTask,
    exported: Reading,
    decision: DecisionInput,
    *,
    clerk: str,
    now: dt.datetime,
) -> TaskResolution:
    """A reopened task whose reading billing already took: book a correction row instead."""
    if decision.action == "reject":
        raise DecisionRefused(
            "Dieser Stand ist schon an die Abrechnung übergeben; er kann nur korrigiert werden."
        )
    value = task.proposed_value if decision.action == "accept" else decision.value
    assert value is not None
    meter = session.get(Meter, exported.meter_id)
    assert meter is not None
    details = {
        "task_id": task.id,
        "proposed_value": plain(task.proposed_value),
        "confirmed": sorted(decision.confirmed),
    }
    reading = book_correction(
        session, task, exported, Decimal(value), clerk=clerk, now=now, details=details
    )
    return TaskResolution(
        task_id=task.id,
        decision="corrected",
        reading_id=reading.id,
        meter_id=meter.id,
        meter_number=meter.number,
        register=reading.register,
        value=reading.value,
        unit=meter.unit,
        decimal_digits=meter.decimal_digits,
        read_on=reading.read_on,
        warnings=(),
        customer_email=None,
        customer_language="de",
        customer_name=None,
        inbound_message_id=task.inbound_message_id,
        message_id=task.message.message_id,
        sender=task.message.sender,
    )


def _queue_reply(
    session: Session, resolution: TaskResolution, decision: DecisionInput, now: dt.datetime
) -> None:
    """Confirmation after accept/correct; on reject a resend request only if the clerk asked."""
    recipient = resolution.customer_email or resolution.sender
    if not recipient:
        log.info("task %s: no address to reply to", resolution.task_id)
        return
    common: dict[str, Any] = {
        "recipient": recipient,
        "language": resolution.customer_language,
        "inbound_message_id": resolution.inbound_message_id,
        "now": now,
        "in_reply_to": resolution.message_id,
        "customer_name": resolution.customer_name,
    }
    try:
        if resolution.decision != "rejected":
            queue_confirmation(
                session,
                readings=[_confirmed(session, resolution)],
                review_task_id=resolution.task_id,
                **common,
            )
        elif decision.ask_resend:  # the clerk's reason reaches the customer as written
            reason = "clerk" if decision.reason.strip() else "unreadable"
            note = decision.reason.strip() or None
            if not queue_resend_request(session, reason=reason, clerk_note=note, **common):
                log.info("task %s: a request for a new photo went out for this mail already",
                         resolution.task_id)  # fmt: skip
    except InvalidRecipientError as exc:  # a bad sender address must not undo the decision
        log.warning("task %s: reply not queued: %s", resolution.task_id, exc)


def _confirmed(session: Session, resolution: TaskResolution) -> ConfirmedReading:
    """The booked reading as the confirmation shows it (the register as `named_register`
    names it)."""
    assert resolution.value is not None and resolution.meter_number and resolution.read_on
    meter = session.get(Meter, resolution.meter_id) if resolution.meter_id else None
    return ConfirmedReading(
        meter_number=resolution.meter_number,
        value=resolution.value,
        unit=resolution.unit or "",
        read_on=resolution.read_on,
        decimal_digits=resolution.decimal_digits,
        register=named_register(meter, resolution.register)
        if meter and resolution.register
        else None,
    )
