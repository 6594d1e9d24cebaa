"""Claiming ledger entries for processing; several workers may run (SKIP LOCKED on PostgreSQL).

A claim commits `status=processing`, `attempts+1` and a lease (`next_attempt_at`). If the worker
dies, the lease runs out and the mail is claimed again; after `max_attempts` it is marked `failed`.
"""

from __future__ import annotations

import datetime as dt
import logging
import traceback
from dataclasses import dataclass

from sqlalchemy import ColumnElement, or_, select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from core.context import AppContext
from core.db import is_postgres, transaction
from core.models import InboundMessage
from intake.sources import NEEDS_REVIEW

log = logging.getLogger(__name__)
LEASE_SECONDS = 900.0
RETRY_BASE_SECONDS = 60.0
MAX_ERROR_CHARS = 4000


@dataclass(frozen=True)
class Claim:
    ledger_id: int
    attempts: int


class ClaimLost(Exception):
    """Another worker took the mail over (our lease ran out); drop our result."""


def _claimable(now: dt.datetime) -> ColumnElement[bool]:
    return InboundMessage.status.in_(("new", "processing")) & or_(
        InboundMessage.next_attempt_at.is_(None), InboundMessage.next_attempt_at <= now
    )


def claim_next(ctx: AppContext) -> Claim | None:
    """Take the oldest claimable mail, or None. Gives up mails that used all their attempts."""
    for _ in range(20):
        try:
            outcome = _claim_once(ctx)
        except OperationalError as exc:  # SQLite: another writer won the race; try again
            log.debug("Zugriff auf das Eingangsbuch kollidierte: %s", exc)
            continue
        if outcome != "again":
            return outcome if isinstance(outcome, Claim) else None
    return None


def _claim_once(ctx: AppContext) -> Claim | str | None:
    now = ctx.clock()
    with transaction(ctx.sessions) as session:
        stmt = select(InboundMessage).where(_claimable(now)).order_by(InboundMessage.id).limit(1)
        if is_postgres(session):
            stmt = stmt.with_for_update(skip_locked=True)
        row = session.scalars(stmt).first()
        if row is None:
            return None
        if row.attempts >= ctx.settings.max_attempts:
            _give_up(row, "Verarbeitung nach dem letzten Versuch abgebrochen (Absturz?)")
            return "again"
        taken = session.execute(
            update(InboundMessage)
            .where(
                InboundMessage.id == row.id,
                InboundMessage.status == row.status,
                InboundMessage.attempts == row.attempts,
            )
            .values(
                status="processing",
                attempts=row.attempts + 1,
                next_attempt_at=now + dt.timedelta(seconds=LEASE_SECONDS),
            )
            .execution_options(synchronize_session=False)
        )
        if taken.rowcount != 1:  # type: ignore[attr-defined]
            return "again"
        return Claim(ledger_id=row.id, attempts=row.attempts + 1)


def _give_up(row: InboundMessage, why: str) -> None:
    row.status = "failed"
    row.error = f"{row.error}\n{why}" if row.error else why
    row.next_attempt_at = None
    row.target_folder = NEEDS_REVIEW


def lock_claimed(session: Session, claim: Claim) -> InboundMessage:
    """The claimed row, locked for the processing transaction; ClaimLost if it is no longer ours."""
    stmt = select(InboundMessage).where(InboundMessage.id == claim.ledger_id)
    if is_postgres(session):
        stmt = stmt.with_for_update()
    row = session.scalars(stmt).first()
    if row is None or row.status != "processing" or row.attempts != claim.attempts:
        raise ClaimLost(f"Eingang {claim.ledger_id} wird inzwischen anderswo verarbeitet")
    return row


def finish(row: InboundMessage, *, status: str, folder: str, error: str | None = None) -> None:
    """Final state of a processed mail; the folder move follows after commit."""
    row.status = status
    row.target_folder = folder
    row.error = error
    row.next_attempt_at = None


def error_summary(exc: BaseException) -> str:
    """The exception and the last frames of its traceback, bounded."""
    lines = traceback.format_exception(type(exc), exc, exc.__traceback__, limit=-6)
    return "".join(lines)[-MAX_ERROR_CHARS:]


def record_failure(ctx: AppContext, claim: Claim, exc: BaseException) -> str:
    """In a fresh transaction: error text, then a later retry or `failed`. Returns the status."""
    now = ctx.clock()
    with transaction(ctx.sessions) as session:
        row = session.get(InboundMessage, claim.ledger_id)
        if row is None or row.status != "processing" or row.attempts != claim.attempts:
            return row.status if row else "missing"
        row.error = error_summary(exc)
        if row.attempts >= ctx.settings.max_attempts:
            _give_up(row, f"aufgegeben nach {row.attempts} Versuchen")
        else:
            row.status = "new"
            delay = RETRY_BASE_SECONDS * 2 ** (row.attempts - 1)
            row.next_attempt_at = now + dt.timedelta(seconds=delay)
        return row.status


def release(ctx: AppContext, claim: Claim) -> None:
    """Hand a claim back untouched (the attempt does not count), e.g. when a tool is missing."""
    with transaction(ctx.sessions) as session:
        row = session.get(InboundMessage, claim.ledger_id)
        if row is not None and row.status == "processing" and row.attempts == claim.attempts:
            row.status = "new"
            row.attempts -= 1
            row.next_attempt_at = None
