"""Task claims: the clerk who opens a task holds it for a few minutes (a lease on the task row).

Others see who holds it, "next" skips it, and a decision by anyone else is refused until the lease
runs out or an admin releases it. The lease is taken with a conditional UPDATE, so of two clerks
opening the same task at once exactly one gets it, on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import ColumnElement, or_, update
from sqlalchemy.orm import Session

from core.models import ReviewTask
from matching.rows import audit

LEASE = dt.timedelta(minutes=10)


class ClaimedElsewhere(Exception):
    """Another clerk holds the task; `holder` and `until` say who and how long."""

    def __init__(self, holder: str, until: dt.datetime) -> None:
        super().__init__(f"{holder} bis {until.isoformat()}")
        self.holder = holder
        self.until = until


@dataclass(frozen=True)
class Claim:
    holder: str | None
    until: dt.datetime | None
    mine: bool


def free_for(clerk: str, now: dt.datetime) -> ColumnElement[bool]:
    """SQL condition: the task is not held by another clerk right now."""
    return or_(
        ReviewTask.claimed_by.is_(None),
        ReviewTask.claimed_by == clerk,
        ReviewTask.claimed_until <= now,
    )


def claim(session: Session, task_id: int, clerk: str, now: dt.datetime) -> Claim:
    """Take or renew the lease on an open task unless another clerk holds it; returns the holder."""
    session.execute(
        update(ReviewTask)
        .where(ReviewTask.id == task_id, ReviewTask.status == "open", free_for(clerk, now))
        .values(claimed_by=clerk, claimed_until=now + LEASE)
        .execution_options(synchronize_session=False)
    )
    task = session.get(ReviewTask, task_id)
    if task is not None:
        session.refresh(task)
    return current_claim(task, clerk, now)


def current_claim(task: ReviewTask | None, clerk: str, now: dt.datetime) -> Claim:
    if task is None or task.status != "open" or not task.claimed_by:
        return Claim(None, None, mine=False)
    if task.claimed_until is None or task.claimed_until <= now:
        return Claim(None, None, mine=False)
    return Claim(task.claimed_by, task.claimed_until, mine=task.claimed_by == clerk)


def require_claim_free(task: ReviewTask, clerk: str, now: dt.datetime) -> None:
    """Refuse a decision on a task another clerk holds (server-side, whatever the page showed)."""
    held = current_claim(task, clerk, now)
    if held.holder is not None and not held.mine:
        assert held.until is not None
        raise ClaimedElsewhere(held.holder, held.until)


def release(session: Session, task_id: int, *, admin: str) -> str | None:
    """An admin frees a task another clerk holds; returns the former holder (audited)."""
    task = session.get(ReviewTask, task_id)
    if task is None or not task.claimed_by:
        return None
    holder = task.claimed_by
    task.claimed_by = None
    task.claimed_until = None
    audit(
        session,
        actor=admin,
        action="task_released",
        entity="review_task",
        entity_id=task_id,
        details={"holder": holder},
    )
    return holder
