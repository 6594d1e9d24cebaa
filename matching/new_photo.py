"""A task whose customer was asked for a new photo (the photo could not be read) waits for it:
once a reading from a later mail is booked on the task's meter (or, where the mail left several
meters in question, on one of its candidate meters), the task is done, linked to that mail,
without a booking or a reply of its own (the new reading's confirmation is the answer).

Keys in `review_task.details` (matching/task_details.py): `new_photo_requested`,
`replaced_by_ledger_id`, `replaced_by_reading_id`.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from core.models import InboundMessage, Reading, ReviewTask
from matching.rows import audit
from matching.task_details import add_task_details

REQUESTED = "new_photo_requested"


def mark_new_photo_requested(session: Session, task_id: int | None, *, now: dt.datetime) -> None:
    """The customer was asked for a new photo now (ISO time in the task's details)."""
    add_task_details(session, task_id, {REQUESTED: now.isoformat()})


def close_tasks_awaiting(session: Session, ledger_id: int, *, now: dt.datetime) -> list[int]:
    """Close the open tasks of earlier mails that asked for a new photo of a meter this mail's
    readings were booked on. Returns their ids."""
    readings = session.scalars(
        select(Reading)
        .where(Reading.inbound_message_id == ledger_id, Reading.status == "accepted")
        .order_by(Reading.id)
    ).all()
    closed: list[int] = []
    for reading in readings:
        for task in _awaiting(session, reading, ledger_id):
            if _close(session, task, reading, ledger_id, now=now):
                closed.append(task.id)
    return closed


def _awaiting(session: Session, reading: Reading, ledger_id: int) -> list[ReviewTask]:
    query = select(ReviewTask).where(
        ReviewTask.status == "open",
        ReviewTask.inbound_message_id < ledger_id,
        (ReviewTask.meter_id == reading.meter_id) | ReviewTask.meter_id.is_(None),
    )
    return [
        task
        for task in session.scalars(query.order_by(ReviewTask.id))
        if (task.details or {}).get(REQUESTED) and _about(task, reading.meter_id)
    ]


def _about(task: ReviewTask, meter_id: int) -> bool:
    """The task's meter, or, without one, one of the meters it names as candidates (the photo
    that could not be read was of one of them; the new photo shows which)."""
    if task.meter_id is not None:
        return task.meter_id == meter_id
    return any(
        c.get("kind") == "meter" and c.get("meter_id") == meter_id for c in task.candidates or ()
    )


def _close(
    session: Session, task: ReviewTask, reading: Reading, ledger_id: int, *, now: dt.datetime
) -> bool:
    done = session.execute(
        update(ReviewTask)
        .where(ReviewTask.id == task.id, ReviewTask.status == "open")
        .values(
            status="done", decision="superseded", decided_by="auto", decided_at=now,
            note=f"Neues Foto gebucht (Eingang #{ledger_id})", claimed_by=None,
            claimed_until=None,
        )
        .execution_options(synchronize_session=False)
    )  # fmt: skip
    if not done.rowcount:  # type: ignore[attr-defined]
        return False  # a clerk decided it meanwhile
    session.refresh(task)
    session.execute(  # the old mail booked nothing: settled as a clerk's rejection would be
        update(InboundMessage)
        .where(InboundMessage.id == task.inbound_message_id, InboundMessage.status == "review")
        .values(status="rejected")
        .execution_options(synchronize_session=False)
    )
    add_task_details(
        session, task.id, {"replaced_by_ledger_id": ledger_id, "replaced_by_reading_id": reading.id}
    )
    audit(
        session, actor="auto", action="task_closed_new_photo", entity="review_task",
        entity_id=task.id,
        details={"ledger_id": task.inbound_message_id, "replaced_by_ledger_id": ledger_id,
                 "replaced_by_reading_id": reading.id},
    )  # fmt: skip
    return True
