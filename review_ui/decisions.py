"""A clerk's decision on a review task: parse the form, then book it in one transaction.

Booking (reading, task closed, audit log) belongs to `matching.record.resolve_task`; the
customer's confirmation is queued by `notifications.outbox` in the same transaction (transactional
outbox), so either both happen or neither does. Two clerks on one task: the task is closed by a
conditional UPDATE, and the second clerk gets `AlreadyDecided`.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

from sqlalchemy.orm import Session

from core.context import AppContext
from core.db import transaction
from core.errors import ConflictError, InvalidInputError
from core.formatting import parse_german_decimal
from core.models import Meter, ReviewTask
from matching.history import find_meters
from matching.record import TaskResolution, resolve_task
from matching.values import normalize_meter_number
from notifications.errors import InvalidRecipientError
from notifications.outbox import ConfirmedReading, queue_confirmation, queue_resend_request

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


@dataclass(frozen=True)
class DecisionInput:
    action: Action
    value: Decimal | None
    meter_id: int | None
    reason: str = ""
    ask_resend: bool = False


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
    return DecisionInput(final, parsed, chosen)


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

    Raises `AlreadyDecided` when another clerk was faster, `DecisionRefused` when the value
    cannot be booked on the meter (e.g. too many digits), `NotFoundError` for an unknown task.
    """
    now = ctx.clock()
    try:
        with transaction(ctx.sessions) as session:
            resolution = resolve_task(
                session,
                task_id,
                action=decision.action,
                value=decision.value,
                meter_id=decision.meter_id,
                clerk=clerk,
                now=now,
                max_daily_consumption=ctx.settings.max_daily_consumption,
            )
            if decision.action == "reject":
                _note_rejection(session, task_id, decision.reason)
            _queue_reply(session, resolution, decision, now)
    except ConflictError as exc:
        raise AlreadyDecided(str(exc)) from exc
    except InvalidInputError as exc:
        raise DecisionRefused(str(exc)) from exc
    return resolution


def _note_rejection(session: Session, task_id: int, reason: str) -> None:
    task = session.get(ReviewTask, task_id)
    if task is not None:
        task.note = reason


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
                readings=[_confirmed(resolution)],
                review_task_id=resolution.task_id,
                **common,
            )
        elif decision.ask_resend:
            queue_resend_request(session, reason="unreadable", **common)
    except InvalidRecipientError as exc:  # a bad sender address must not undo the decision
        log.warning("task %s: reply not queued: %s", resolution.task_id, exc)


def _confirmed(resolution: TaskResolution) -> ConfirmedReading:
    assert resolution.value is not None and resolution.meter_number and resolution.read_on
    return ConfirmedReading(
        meter_number=resolution.meter_number,
        value=resolution.value,
        unit=resolution.unit or "",
        read_on=resolution.read_on,
        decimal_digits=resolution.decimal_digits,
        register=resolution.register,
    )
