"""What the task page shows around the decision: undo/reopen, and flags for a photo sent before
and for other open tasks on the same meter."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.blobstore import BlobStorage
from core.models import Photo, ReviewTask
from review_ui.mail_view import mail_text
from review_ui.undo import UNDO_WINDOW, can_undo


def task_context(
    session: Session, task: ReviewTask, *, clerk: str, now: dt.datetime, blobs: BlobStorage
) -> dict[str, Any]:
    undo_until = task.decided_at + UNDO_WINDOW if task.decided_at else None
    return {
        "can_undo": can_undo(task, clerk, now),
        "undo_until": undo_until,
        "other_open": _other_open_tasks(session, task),
        "reused_photos": _reused_photos(session, task),
        "mail_text": mail_text(blobs, task.message.sha256),
    }


def _other_open_tasks(session: Session, task: ReviewTask) -> list[int]:
    if task.meter_id is None:
        return []
    stmt = (
        select(ReviewTask.id)
        .where(
            ReviewTask.meter_id == task.meter_id,
            ReviewTask.status == "open",
            ReviewTask.id != task.id,
        )
        .order_by(ReviewTask.id)
        .limit(5)
    )
    return list(session.scalars(stmt))


def _reused_photos(session: Session, task: ReviewTask) -> list[int]:
    """Ids of the other mails, earlier or later, that carried the same photo (same bytes)."""
    hashes = [p.sha256 for p in task.message.photos]
    if not hashes:
        return []
    stmt = (
        select(Photo.message_id)
        .where(Photo.sha256.in_(hashes), Photo.message_id != task.inbound_message_id)
        .distinct()
        .limit(5)
    )
    return sorted(session.scalars(stmt))
