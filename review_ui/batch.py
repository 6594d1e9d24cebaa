"""Batch accept: book the proposals of several tasks the clerk ticked in the queue, each in its
own transaction and through the same checks as a single decision (claims, guards)."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from core.context import AppContext
from core.errors import NotFoundError
from core.models import ReviewTask
from review_ui.claims import ClaimedElsewhere
from review_ui.decisions import (
    AlreadyDecided,
    DecisionInput,
    DecisionRefused,
    NeedsConfirmation,
    decide,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BatchOutcome:
    accepted: int
    skipped: int


def accept_batch(ctx: AppContext, task_ids: list[int], *, clerk: str) -> BatchOutcome:
    accepted = skipped = 0
    for task_id in dict.fromkeys(task_ids):
        with ctx.sessions() as session:
            task = session.get(ReviewTask, task_id)
            ready = task is not None and task.proposed_value is not None and task.meter_id
            meter_id = task.meter_id if task is not None else None
        if not ready:
            skipped += 1
            continue
        decision = DecisionInput("accept", None, meter_id)
        try:
            decide(ctx, task_id, decision, clerk=clerk)
        except (
            AlreadyDecided,
            ClaimedElsewhere,
            NeedsConfirmation,
            DecisionRefused,
            NotFoundError,
        ) as exc:
            log.info("batch accept: task %s left open: %s", task_id, exc)
            skipped += 1
            continue
        accepted += 1
    return BatchOutcome(accepted, skipped)
