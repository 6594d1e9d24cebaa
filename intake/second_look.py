"""What the decision core does not see in one mail alone: a photo mailed or taken before, a
reply that corrects a value we confirmed, and another value booked for the same register and day
from another mail; and a sender our mail server could not confirm (SPF/DKIM/DMARC). Each sends the
mail to a clerk, with the facts on the task.

Called by the pipeline between `decide` and `record_decision`; `annotate` then stores the facts on
the review task (`review_task.details`, keys in matching/task_details.py).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy.orm import Session

from core.settings import Settings
from core.types import Decision, MatchResult, Submission
from intake.corrections import correction_for
from intake.sender_auth import sender_details, unverified_decision
from matching.corrections import Correction
from matching.record import RecordOutcome
from matching.reuse import find_reuse, reuse_decision
from matching.same_day import find_same_day, same_day_decision
from matching.task_details import add_task_details


@dataclass(frozen=True)
class SecondLook:
    decision: Decision
    correction: Correction | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def annotate(self, session: Session, outcome: RecordOutcome) -> None:
        if outcome.created and outcome.outcome == "review":
            add_task_details(session, outcome.task_id, self.details)


def second_look(
    session: Session,
    settings: Settings,
    *,
    submission: Submission,
    match: MatchResult,
    decision: Decision,
    photo_ids: Sequence[int],
    read_on: dt.date,
) -> SecondLook:
    """The decision after checking photo reuse, corrections and another reading of the same day
    (unchanged when none applies)."""
    if decision.outcome == "ignore":
        return SecondLook(decision)
    correction = correction_for(session, submission)
    if correction is None and decision.outcome == "reject":
        return SecondLook(decision)  # nothing to book and nothing to correct
    look = _look(
        session, settings, submission=submission, match=match, decision=decision,
        photo_ids=photo_ids, read_on=read_on, correction=correction,
    )  # fmt: skip
    # a sender our mail server could not confirm is never booked unseen (intake/sender_auth.py)
    decided = unverified_decision(look.decision, submission.sender_check)
    if decided is look.decision:
        return look
    return replace(look, decision=decided, details={**look.details, **sender_details(submission)})


def _look(
    session: Session,
    settings: Settings,
    *,
    submission: Submission,
    match: MatchResult,
    decision: Decision,
    photo_ids: Sequence[int],
    read_on: dt.date,
    correction: Correction | None,
) -> SecondLook:
    meter_id = decision.meter_id or (match.meter.meter_id if match.meter else None)
    if correction is not None:
        meter_id = correction.booked.meter_id
    finding = find_reuse(
        session, photo_ids, customer_id=match.customer_id, meter_id=meter_id,
        received_at=submission.received_at, max_age_days=settings.photo_max_age_days,
        near_bits=settings.photo_similar_max_bits, sender=submission.sender,
    )  # fmt: skip
    decided = reuse_decision(decision, finding)
    details = finding.details() if finding else {}
    if correction is not None:
        decided = correction.decision(decided)
        details.update(correction.details())
    else:
        same_day = find_same_day(session, decided, read_on=read_on, ledger_id=submission.ledger_id)
        decided = same_day_decision(decided, same_day)
        details.update(same_day.details() if same_day else {})
    return SecondLook(decided, correction, details)
