"""Taking a decision back: "undo" for the deciding clerk for a few minutes, "reopen" for admins.

A reading billing has not taken yet is removed with the decision (its values stay in the audit
log) and the unsent reply mail with it. A reading billing has already exported is never
changed: the task reopens, and the next decision books a correction row that points at it
(`Reading.corrects_id`) and marks the original as superseded.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from core.models import InboundMessage, Outbox, Reading, ReviewTask
from matching.rows import audit

UNDO_WINDOW = dt.timedelta(minutes=5)
DECISION_MAILS = ("confirmation", "resend_request")  # what a decision queues for the customer


def plain(value: Decimal | None) -> str | None:
    """A value for the audit log without the database's trailing zeros: '12345.6'."""
    if value is None:
        return None
    text = f"{value:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


class UndoRefused(Exception):
    """The decision cannot be taken back by this user now; `key` names the UI text."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def can_undo(task: ReviewTask, clerk: str, now: dt.datetime) -> bool:
    return (
        task.status == "done"
        and task.decided_by == clerk
        and task.decided_at is not None
        and now - task.decided_at <= UNDO_WINDOW
    )


def booked_reading(session: Session, task: ReviewTask) -> Reading | None:
    """The reading the task's decision booked (the newest for its mail, corrections included)."""
    stmt = (
        select(Reading)
        .where(Reading.inbound_message_id == task.inbound_message_id)
        .order_by(Reading.id.desc())
        .limit(1)
    )
    return session.scalars(stmt).first()


def exported_reading(session: Session, task: ReviewTask) -> Reading | None:
    """An accepted reading of the task's mail that billing has already taken."""
    reading = booked_reading(session, task)
    if reading is None or reading.exported_at is None:
        return None
    return newest_correction(session, reading)


def newest_correction(session: Session, reading: Reading) -> Reading:
    """Follow the chain of correction rows to the one in force."""
    while True:
        later = session.scalars(select(Reading).where(Reading.corrects_id == reading.id)).first()
        if later is None:
            return reading
        reading = later


def undo(session: Session, task_id: int, *, clerk: str, now: dt.datetime) -> None:
    """The deciding clerk takes a decision back within `UNDO_WINDOW` (not once billing has it)."""
    task = _done_task(session, task_id)
    if not can_undo(task, clerk, now):
        raise UndoRefused("undo.too_late")
    reading = booked_reading(session, task)
    if reading is not None and reading.exported_at is not None:
        raise UndoRefused("undo.exported")
    _reopen(session, task, reading, actor=clerk, action="task_undone")


def reopen(session: Session, task_id: int, *, admin: str, reason: str) -> None:
    """An admin reopens any decided task; an exported reading stays and is corrected later."""
    task = _done_task(session, task_id)
    reading = booked_reading(session, task)
    _reopen(session, task, reading, actor=admin, action="task_reopened", reason=reason)


def _replaced_by(session: Session, reading: Reading) -> Reading | None:
    """The reading `reading` superseded (a correction, another reading of the same day)."""
    old = session.get(Reading, reading.corrects_id) if reading.corrects_id else None
    return old if old is not None and old.status == "superseded" else None


def _done_task(session: Session, task_id: int) -> ReviewTask:
    task = session.get(ReviewTask, task_id)
    if task is None or task.status != "done":
        raise UndoRefused("undo.not_decided")
    return task


def _reopen(
    session: Session,
    task: ReviewTask,
    reading: Reading | None,
    *,
    actor: str,
    action: str,
    reason: str = "",
) -> None:
    details: dict[str, Any] = {
        "decision": task.decision,
        "decided_by": task.decided_by,
        "value": plain(task.decided_value),
        "meter_id": task.meter_id,
    }
    if reason:
        details["reason"] = reason
    if task.note:
        details["note"] = task.note
    if reading is not None and reading.exported_at is None:
        details["reading_removed"] = {"id": reading.id, "value": plain(reading.value)}
        if (replaced := _replaced_by(session, reading)) is not None:
            replaced.status = "accepted"  # the reading it replaced is in force again
            details["reading_restored"] = replaced.id
        session.delete(reading)
    elif reading is not None:
        details["exported_reading_kept"] = reading.id
    details["unsent_mail_dropped"] = _drop_unsent_replies(session, task)
    changed = session.execute(
        update(ReviewTask)
        .where(ReviewTask.id == task.id, ReviewTask.status == "done")
        .values(
            status="open",
            decision=None,
            decided_value=None,
            decided_by=None,
            decided_at=None,
            note=None,
            claimed_by=None,
            claimed_until=None,
        )
        .execution_options(synchronize_session=False)
    )
    if getattr(changed, "rowcount", 0) != 1:
        raise UndoRefused("undo.not_decided")
    session.execute(
        update(InboundMessage)
        .where(InboundMessage.id == task.inbound_message_id)
        .values(status="review")
        .execution_options(synchronize_session=False)
    )
    audit(
        session,
        actor=actor,
        action=action,
        entity="review_task",
        entity_id=task.id,
        details=details,
    )
    session.refresh(task)


def _drop_unsent_replies(session: Session, task: ReviewTask) -> int:
    result = session.execute(
        delete(Outbox).where(
            Outbox.inbound_message_id == task.inbound_message_id,
            Outbox.kind.in_(DECISION_MAILS),
            Outbox.status == "pending",
        )
    )
    return int(getattr(result, "rowcount", 0) or 0)


def _closed(decision: str, value: Decimal, clerk: str, now: dt.datetime) -> dict[str, Any]:
    return {
        "status": "done",
        "decision": decision,
        "decided_value": value,
        "decided_by": clerk,
        "decided_at": now,
    }


def book_correction(
    session: Session,
    task: ReviewTask,
    original: Reading,
    value: Decimal,
    *,
    clerk: str,
    now: dt.datetime,
    details: dict[str, Any],
) -> Reading:
    """Close the reopened task with a correction row for a reading billing already took."""
    closed = session.execute(
        update(ReviewTask)
        .where(ReviewTask.id == task.id, ReviewTask.status == "open")
        .values(
            status="done",
            decision="corrected",
            decided_value=value,
            decided_by=clerk,
            decided_at=now,
            meter_id=original.meter_id,
        )
        .execution_options(synchronize_session=False)
    )
    if getattr(closed, "rowcount", 0) != 1:
        raise UndoRefused("undo.not_decided")
    correction = Reading(
        meter_id=original.meter_id,
        register=original.register,
        value=value,
        read_on=original.read_on,
        source="clerk",
        status="accepted",
        accepted_by=clerk,
        corrects_id=original.id,
        created_at=now,
    )
    original.status = "superseded"
    session.add(correction)
    session.flush()
    audit(
        session,
        actor=clerk,
        action="reading_corrected",
        entity="reading",
        entity_id=correction.id,
        details={
            **details,
            "corrects": original.id,
            "before": plain(original.value),
            "after": plain(value),
        },
    )
    session.refresh(task)
    return correction
