"""Send due outbox rows: claim one, send it, record the outcome; repeat.

Claiming is a short transaction of its own: one `UPDATE … WHERE id = (SELECT … FOR UPDATE SKIP
LOCKED LIMIT 1) RETURNING id` on PostgreSQL (on SQLite the same conditional UPDATE without the
lock clause; SQLite serialises writers). The claim counts the attempt, names the holder
(`claimed_by`) and pushes `next_attempt_at` out by a short lease, so no other worker takes the row
while it is being sent, and no transaction is held open across the SMTP conversation.

Delivery is at-least-once, with the duplicate window narrowed to the time between the server's
`250` after DATA and our commit of `sent`: one UPDATE on a connection held open for it, committed
before QUIT without waiting for the disk (`notifications.send_marks`). Once the server took sender
and recipient the row is marked `sending` with its Message-ID, then DATA goes out. A row found
`sending` after a crash (holder gone, or lease run out) may have arrived: it is sent again with
the same deterministic Message-ID, so receivers and clerks can deduplicate, and the log says so.
A row still `pending` under a dead holder never reached DATA and is simply sent.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from email.message import EmailMessage

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from core.context import AppContext
from core.db import is_postgres, transaction
from core.errors import SendError
from core.holders import is_gone, thread_holder
from core.models import Outbox
from notifications.errors import InvalidRecipientError
from notifications.send_marks import SendMarks
from notifications.smtp import SmtpSender, SmtpUnreachable, build_message

log = logging.getLogger(__name__)

CLAIMABLE = ("pending", "sending")
UNREACHABLE_RETRY = dt.timedelta(seconds=10)  # an outage costs no try; look again soon
MAX_RETRY_DELAY = dt.timedelta(days=1)


@dataclass
class SendReport:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    disabled: bool = False
    unreachable: str | None = None  # why the SMTP server could not be reached, if it could not

    def summary(self) -> str:
        if self.disabled:
            return "Versand ist abgeschaltet (smtp_enabled=false); nichts gesendet."
        return (
            f"{self.sent} E-Mails gesendet, {self.retried} später erneut versucht, "
            f"{self.failed} endgültig fehlgeschlagen."
        )


@dataclass(frozen=True)
class _Claimed:
    outbox_id: int
    attempts: int
    message: EmailMessage | None  # None: the row cannot be turned into a message
    error: str | None = None


def send_due(
    ctx: AppContext,
    *,
    sender: SmtpSender | None = None,
    limit: int = 50,
    inbound_message_id: int | None = None,
) -> SendReport:
    """Send up to `limit` due mails (only the replies to one inbound mail, if given). One failing
    mail never stops the others; an unreachable server stops the batch (`report.unreachable`)."""
    report = SendReport()
    if not ctx.settings.smtp_enabled:
        report.disabled = True
        return report
    smtp = sender or SmtpSender(ctx.settings)
    holder = thread_holder()
    reclaim_from_gone(ctx)
    for _ in range(limit):
        claimed = _claim_next(ctx, holder, inbound_message_id)
        if claimed is None:
            break
        _deliver(ctx, smtp, claimed, report)
        if report.unreachable:
            break
    if report.sent or report.retried or report.failed:
        log.info("outbox: %s", report.summary())
    return report


def retry_delay(ctx: AppContext, attempts: int) -> dt.timedelta:
    """Delay after the `attempts`-th failed try: base · 2^(attempts-1), capped at one day."""
    seconds = ctx.settings.send_retry_base_seconds * 2 ** max(attempts - 1, 0)
    return min(dt.timedelta(seconds=seconds), MAX_RETRY_DELAY)


def claim_lease(ctx: AppContext) -> dt.timedelta:
    """How long a claimed row is hidden from other workers: beyond one SMTP conversation (each
    step may take the socket timeout) and at least the claim lease."""
    seconds = max(ctx.settings.claim_lease_seconds, 4 * ctx.settings.smtp_timeout_seconds)
    return dt.timedelta(seconds=seconds)


def reclaim_from_gone(ctx: AppContext) -> int:
    """Make rows whose sending worker process is provably gone due now. Returns how many."""
    now = ctx.clock()
    with ctx.sessions() as session:
        held = session.execute(
            select(Outbox.id, Outbox.claimed_by).where(
                Outbox.status.in_(CLAIMABLE),
                Outbox.claimed_by.is_not(None),
                Outbox.next_attempt_at > now,
            )
        ).all()
    gone = [outbox_id for outbox_id, holder in held if is_gone(holder)]
    if gone:
        with transaction(ctx.sessions) as session:
            session.execute(
                update(Outbox)
                .where(Outbox.id.in_(gone), Outbox.status.in_(CLAIMABLE))
                .values(next_attempt_at=now, claimed_by=None)
                .execution_options(synchronize_session=False)
            )
        log.warning("outbox %s: sending worker is gone; due again now", gone)
    return len(gone)


def _claim_next(ctx: AppContext, holder: str, inbound_message_id: int | None) -> _Claimed | None:
    now = ctx.clock()
    with transaction(ctx.sessions) as session:
        outbox_id = _claim_row(session, now, now + claim_lease(ctx), holder, inbound_message_id)
        if outbox_id is None:
            return None
        row = session.get(Outbox, outbox_id)
        assert row is not None
        if row.status == "sending":
            log.warning(
                "outbox %d: an earlier try was cut off during DATA and may have arrived; "
                "sending again with the same Message-ID %s",
                row.id,
                row.message_id,
            )
            row.status = "pending"
        if row.attempts > ctx.settings.send_max_attempts:
            return _Claimed(
                outbox_id, row.attempts, None, "zu viele Versuche (Abbruch beim Senden?)"
            )
        try:
            message = build_message(row, mail_from=ctx.settings.mail_from, now=now)
        except (InvalidRecipientError, ValueError) as exc:
            return _Claimed(outbox_id, row.attempts, None, f"nicht versendbar: {exc}")
        return _Claimed(outbox_id, row.attempts, message)


def _claim_row(
    session: Session,
    now: dt.datetime,
    lease_until: dt.datetime,
    holder: str,
    inbound_message_id: int | None,
) -> int | None:
    due = select(Outbox.id).where(Outbox.status.in_(CLAIMABLE), Outbox.next_attempt_at <= now)
    if inbound_message_id is not None:
        due = due.where(Outbox.inbound_message_id == inbound_message_id)
    due = due.order_by(Outbox.next_attempt_at, Outbox.id).limit(1)
    if is_postgres(session):
        due = due.with_for_update(skip_locked=True)
    stmt = (
        update(Outbox)
        .where(
            Outbox.id == due.scalar_subquery(),
            Outbox.status.in_(CLAIMABLE),
            Outbox.next_attempt_at <= now,
        )
        .values(attempts=Outbox.attempts + 1, next_attempt_at=lease_until, claimed_by=holder)
        .returning(Outbox.id)
        .execution_options(synchronize_session=False)
    )
    claimed: int | None = session.execute(stmt).scalar_one_or_none()
    return claimed


def _deliver(ctx: AppContext, smtp: SmtpSender, claimed: _Claimed, report: SendReport) -> None:
    if claimed.message is None:
        _mark_failed(ctx, claimed.outbox_id, claimed.error or "nicht versendbar")
        report.failed += 1
        return
    message_id = str(claimed.message["Message-ID"])
    marks = SendMarks(ctx, claimed.outbox_id, message_id, claim_lease(ctx))
    try:
        with marks:
            smtp.deliver(claimed.message, before_data=marks.sending, accepted=marks.sent)
    except SmtpUnreachable as exc:
        report.unreachable = str(exc)
        _record_failure(ctx, claimed, exc, report)
        return
    except SendError as exc:
        _record_failure(ctx, claimed, exc, report)
        return
    except Exception as exc:  # a bug in a sender must not stop the other mails
        log.exception("outbox %d: unexpected error while sending", claimed.outbox_id)
        _record_failure(ctx, claimed, SendError(f"{type(exc).__name__}: {exc}"), report)
        return
    report.sent += 1


def _record_failure(ctx: AppContext, claimed: _Claimed, exc: SendError, report: SendReport) -> None:
    permanent = bool(getattr(exc, "permanent", False))
    if report.unreachable and not permanent:  # the server's outage, not this mail's: no try lost
        retry_at = ctx.clock() + min(retry_delay(ctx, 1), UNREACHABLE_RETRY)
        _update_pending(
            ctx, claimed.outbox_id, next_attempt_at=retry_at, last_error=str(exc),
            claimed_by=None, attempts=claimed.attempts - 1, status="pending",
        )  # fmt: skip
        report.retried += 1
        return
    if permanent or claimed.attempts >= ctx.settings.send_max_attempts:
        log.warning("outbox %d failed for good after %d tries: %s",
                    claimed.outbox_id, claimed.attempts, exc)  # fmt: skip
        _mark_failed(ctx, claimed.outbox_id, str(exc))
        report.failed += 1
        return
    retry_at = ctx.clock() + retry_delay(ctx, claimed.attempts)
    log.info("outbox %d: try %d failed, next at %s: %s",
             claimed.outbox_id, claimed.attempts, retry_at.isoformat(), exc)  # fmt: skip
    _update_pending(
        ctx,
        claimed.outbox_id,
        next_attempt_at=retry_at,
        last_error=str(exc),
        claimed_by=None,
        status="pending",  # the server answered: it did not take the mail
    )
    report.retried += 1


def _mark_failed(ctx: AppContext, outbox_id: int, error: str) -> None:
    _update_pending(ctx, outbox_id, status="failed", last_error=error, claimed_by=None)


def _update_pending(ctx: AppContext, outbox_id: int, **values: object) -> None:
    with transaction(ctx.sessions) as session:
        session.execute(
            update(Outbox)
            .where(Outbox.id == outbox_id, Outbox.status.in_(CLAIMABLE))
            .values(**values)
            .execution_options(synchronize_session=False)
        )
