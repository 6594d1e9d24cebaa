"""Claiming ledger entries for processing; several workers may run (SKIP LOCKED on PostgreSQL).

A claim commits `status=processing`, `attempts+1`, the holder (`claimed_by`: host, PID, start
time) and a short lease (`next_attempt_at`, `claim_lease_seconds`) that `keep_alive` renews while
the mail is worked on. If the worker dies, its mail is claimed again at once when the holder is
provably gone (same host, process gone: `reclaim_from_gone`), else when the lease runs out;
after `max_attempts` it is marked `failed`.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import ColumnElement, or_, select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from core.context import AppContext
from core.db import is_postgres, transaction
from core.holders import is_gone, thread_holder
from core.models import InboundMessage
from intake.sources import NEEDS_REVIEW

log = logging.getLogger(__name__)
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


def claim_next(ctx: AppContext, *, holder: str | None = None) -> Claim | None:
    """Take the oldest claimable mail, or None. Gives up mails that used all their attempts."""
    holder = holder or thread_holder()
    for _ in range(20):
        try:
            outcome = _claim_once(ctx, holder)
        except OperationalError as exc:  # SQLite: another writer won the race; try again
            if "locked" not in str(exc).lower():
                raise  # the database is away: the worker notes the outage
            log.debug("Zugriff auf das Eingangsbuch kollidierte: %s", exc)
            continue
        if outcome != "again":
            return outcome if isinstance(outcome, Claim) else None
    return None


def _claim_once(ctx: AppContext, holder: str) -> Claim | str | None:
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
                next_attempt_at=now + _lease(ctx),
                claimed_by=holder,
            )
            .execution_options(synchronize_session=False)
        )
        if taken.rowcount != 1:  # type: ignore[attr-defined]
            return "again"
        return Claim(ledger_id=row.id, attempts=row.attempts + 1)


def _lease(ctx: AppContext) -> dt.timedelta:
    return dt.timedelta(seconds=ctx.settings.claim_lease_seconds)


def renew(ctx: AppContext, claim: Claim) -> bool:
    """Push the claim's lease out again; False when the claim is no longer ours."""
    with transaction(ctx.sessions) as session:
        done = session.execute(
            update(InboundMessage)
            .where(
                InboundMessage.id == claim.ledger_id,
                InboundMessage.status == "processing",
                InboundMessage.attempts == claim.attempts,
            )
            .values(next_attempt_at=ctx.clock() + _lease(ctx))
            .execution_options(synchronize_session=False)
        )
        return bool(done.rowcount)  # type: ignore[attr-defined]


@contextmanager
def keep_alive(ctx: AppContext, claim: Claim) -> Iterator[None]:
    """Renew the claim's lease every third of its length until the block ends."""
    done = threading.Event()
    period = ctx.settings.claim_lease_seconds / 3

    def loop() -> None:
        while not done.wait(period):
            try:
                if not renew(ctx, claim):
                    return
            except Exception as exc:  # the database is away: the lease may run out, no harm
                log.debug("Verlängerung der Sperre auf Eingang %d: %s", claim.ledger_id, exc)

    thread = threading.Thread(target=loop, name=f"lease-{claim.ledger_id}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join(timeout=5)


def reclaim_from_gone(ctx: AppContext) -> int:
    """Make mails held by a worker process that is provably gone claimable now. Returns how many."""
    now = ctx.clock()
    with ctx.sessions() as session:
        held = session.execute(
            select(InboundMessage.id, InboundMessage.attempts, InboundMessage.claimed_by).where(
                InboundMessage.status == "processing", InboundMessage.next_attempt_at > now
            )
        ).all()
    freed = 0
    for ledger_id, attempts, holder in held:
        if not is_gone(holder):
            continue
        with transaction(ctx.sessions) as session:
            done = session.execute(
                update(InboundMessage)
                .where(
                    InboundMessage.id == ledger_id,
                    InboundMessage.status == "processing",
                    InboundMessage.attempts == attempts,
                )
                .values(next_attempt_at=now)
                .execution_options(synchronize_session=False)
            )
        if done.rowcount:  # type: ignore[attr-defined]
            log.warning("Eingang %d: Worker %s ist beendet; Mail wird neu verarbeitet",
                        ledger_id, holder)  # fmt: skip
            freed += 1
    return freed


def _give_up(row: InboundMessage, why: str) -> None:
    row.status = "failed"
    row.error = f"{row.error}\n{why}" if row.error else why
    row.next_attempt_at = None
    row.target_folder = NEEDS_REVIEW
    row.claimed_by = None


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
    row.claimed_by = None


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
            row.claimed_by = None
        return row.status


def release(ctx: AppContext, claim: Claim) -> None:
    """Hand a claim back untouched (the attempt does not count), e.g. when a tool is missing."""
    with transaction(ctx.sessions) as session:
        row = session.get(InboundMessage, claim.ledger_id)
        if row is not None and row.status == "processing" and row.attempts == claim.attempts:
            row.status = "new"
            row.attempts -= 1
            row.next_attempt_at = None
            row.claimed_by = None
