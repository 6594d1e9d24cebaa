"""Send due outbox rows: claim one, send it, record the outcome; repeat.

Claiming is a short transaction of its own: one `UPDATE … WHERE id = (SELECT … FOR UPDATE SKIP
LOCKED LIMIT 1) RETURNING id` on PostgreSQL (on SQLite the same conditional UPDATE without the
lock clause; SQLite serialises writers). The claim counts the attempt and pushes `next_attempt_at`
out by a lease, so no other worker takes the row while it is being sent, and no transaction is
held open across the SMTP conversation.

Delivery is at-least-once. If the process dies after the SMTP server accepted a mail but before
the "sent" commit, the lease expires and the row is sent again. The window is the few
milliseconds between the server's `250` after DATA and our commit; a duplicate then carries the
same deterministic Message-ID, so mail clients and clerks can recognise it.
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
from core.models import Outbox
from notifications.errors import InvalidRecipientError
from notifications.smtp import SmtpSender, build_message

log = logging.getLogger(__name__)

MIN_LEASE = dt.timedelta(minutes=10)
MAX_RETRY_DELAY = dt.timedelta(days=1)


@dataclass
class SendReport:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    disabled: bool = False

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


def send_due(ctx: AppContext, *, sender: SmtpSender | None = None, limit: int = 50) -> SendReport:
    """Send up to `limit` due mails. One failing mail never stops the others."""
    report = SendReport()
    if not ctx.settings.smtp_enabled:
        report.disabled = True
        return report
    smtp = sender or SmtpSender(ctx.settings)
    for _ in range(limit):
        claimed = _claim_next(ctx)
        if claimed is None:
            break
        _deliver(ctx, smtp, claimed, report)
    if report.sent or report.retried or report.failed:
        log.info("outbox: %s", report.summary())
    return report


def retry_delay(ctx: AppContext, attempts: int) -> dt.timedelta:
    """Delay after the `attempts`-th failed try: base · 2^(attempts-1), capped at one day."""
    seconds = ctx.settings.send_retry_base_seconds * 2 ** max(attempts - 1, 0)
    return min(dt.timedelta(seconds=seconds), MAX_RETRY_DELAY)


def claim_lease(ctx: AppContext) -> dt.timedelta:
    """How long a claimed row is hidden from other workers: well beyond one SMTP conversation."""
    return max(MIN_LEASE, dt.timedelta(seconds=10 * ctx.settings.smtp_timeout_seconds))


def _claim_next(ctx: AppContext) -> _Claimed | None:
    now = ctx.clock()
    with transaction(ctx.sessions) as session:
        outbox_id = _claim_row(session, now, now + claim_lease(ctx))
        if outbox_id is None:
            return None
        row = session.get(Outbox, outbox_id)
        assert row is not None
        if row.attempts > ctx.settings.send_max_attempts:
            return _Claimed(
                outbox_id, row.attempts, None, "zu viele Versuche (Abbruch beim Senden?)"
            )
        try:
            message = build_message(row, mail_from=ctx.settings.mail_from, now=now)
        except (InvalidRecipientError, ValueError) as exc:
            return _Claimed(outbox_id, row.attempts, None, f"nicht versendbar: {exc}")
        return _Claimed(outbox_id, row.attempts, message)


def _claim_row(session: Session, now: dt.datetime, lease_until: dt.datetime) -> int | None:
    due = (
        select(Outbox.id)
        .where(Outbox.status == "pending", Outbox.next_attempt_at <= now)
        .order_by(Outbox.next_attempt_at, Outbox.id)
        .limit(1)
    )
    if is_postgres(session):
        due = due.with_for_update(skip_locked=True)
    stmt = (
        update(Outbox)
        .where(Outbox.id == due.scalar_subquery(), Outbox.status == "pending")
        .values(attempts=Outbox.attempts + 1, next_attempt_at=lease_until)
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
    try:
        smtp.send(claimed.message)
    except SendError as exc:
        _record_failure(ctx, claimed, exc, report)
        return
    except Exception as exc:  # a bug in a sender must not stop the other mails
        log.exception("outbox %d: unexpected error while sending", claimed.outbox_id)
        _record_failure(ctx, claimed, SendError(f"{type(exc).__name__}: {exc}"), report)
        return
    _mark_sent(ctx, claimed.outbox_id, str(claimed.message["Message-ID"]))
    report.sent += 1


def _record_failure(ctx: AppContext, claimed: _Claimed, exc: SendError, report: SendReport) -> None:
    permanent = bool(getattr(exc, "permanent", False))
    if permanent or claimed.attempts >= ctx.settings.send_max_attempts:
        log.warning("outbox %d failed for good after %d tries: %s",
                    claimed.outbox_id, claimed.attempts, exc)  # fmt: skip
        _mark_failed(ctx, claimed.outbox_id, str(exc))
        report.failed += 1
        return
    retry_at = ctx.clock() + retry_delay(ctx, claimed.attempts)
    log.info("outbox %d: try %d failed, next at %s: %s",
             claimed.outbox_id, claimed.attempts, retry_at.isoformat(), exc)  # fmt: skip
    _update_pending(ctx, claimed.outbox_id, next_attempt_at=retry_at, last_error=str(exc))
    report.retried += 1


def _mark_sent(ctx: AppContext, outbox_id: int, message_id: str) -> None:
    """Recorded whatever the row's status meanwhile: the server has the mail."""
    with transaction(ctx.sessions) as session:
        session.execute(
            update(Outbox)
            .where(Outbox.id == outbox_id)
            .values(status="sent", sent_at=ctx.clock(), message_id=message_id, last_error=None)
            .execution_options(synchronize_session=False)
        )


def _mark_failed(ctx: AppContext, outbox_id: int, error: str) -> None:
    _update_pending(ctx, outbox_id, status="failed", last_error=error)


def _update_pending(ctx: AppContext, outbox_id: int, **values: object) -> None:
    with transaction(ctx.sessions) as session:
        session.execute(
            update(Outbox)
            .where(Outbox.id == outbox_id, Outbox.status == "pending")
            .values(**values)
            .execution_options(synchronize_session=False)
        )
