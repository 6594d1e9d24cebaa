"""The outbox as clerks see it ("Postausgang"): rows, one mail with the headers it is sent with,
the replies per inbound mail, and the one write: trying a failed mail again."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import Select, func, select, update
from sqlalchemy.orm import Session

from core.context import AppContext
from core.db import transaction
from core.models import AuditLog, Campaign, InboundMessage, Outbox, ReviewTask
from notifications.render import KINDS
from notifications.smtp import build_message

log = logging.getLogger(__name__)

OUTBOX_STATUSES = ("failed", "pending", "sent")
OUTBOX_KINDS = KINDS
PAGE_SIZE = 200


@dataclass(frozen=True)
class OutboxRow:
    id: int
    kind: str
    status: str
    recipient: str
    subject: str
    attempts: int
    next_attempt_at: dt.datetime
    last_error: str | None
    sent_at: dt.datetime | None
    created_at: dt.datetime
    inbound_message_id: int | None
    task_id: int | None
    campaign_id: int | None
    campaign_name: str | None


@dataclass(frozen=True)
class InboundRef:
    id: int
    sender: str
    subject: str
    received_at: dt.datetime


@dataclass(frozen=True)
class OutboxDetail:
    row: OutboxRow
    language: str
    idempotency_key: str
    body_text: str
    body_html: str | None
    inbound: InboundRef | None
    headers: list[tuple[str, str]]
    header_error: str  # why the row cannot become a message ("" when it can)


@dataclass(frozen=True)
class Reply:
    """One mail queued in answer to an inbound mail (the "Antwort: …" line)."""

    id: int
    kind: str
    status: str
    created_at: dt.datetime
    sent_at: dt.datetime | None


def _rows_stmt() -> Select[Outbox, int, str]:
    return (
        select(Outbox, ReviewTask.id, Campaign.name)
        .outerjoin(ReviewTask, ReviewTask.inbound_message_id == Outbox.inbound_message_id)
        .outerjoin(Campaign, Campaign.id == Outbox.campaign_id)
    )


def _row(outbox: Outbox, task_id: int | None, campaign_name: str | None) -> OutboxRow:
    return OutboxRow(
        id=outbox.id,
        kind=outbox.kind,
        status=outbox.status,
        recipient=outbox.recipient,
        subject=outbox.subject,
        attempts=outbox.attempts,
        next_attempt_at=outbox.next_attempt_at,
        last_error=outbox.last_error,
        sent_at=outbox.sent_at,
        created_at=outbox.created_at,
        inbound_message_id=outbox.inbound_message_id,
        task_id=task_id,
        campaign_id=outbox.campaign_id,
        campaign_name=campaign_name,
    )


def outbox_rows(
    session: Session, *, status: str | None, kind: str | None, offset: int = 0
) -> list[OutboxRow]:
    """Outbox mails, newest first, optionally of one status and one kind."""
    stmt = _rows_stmt().order_by(Outbox.created_at.desc(), Outbox.id.desc())
    if status:
        stmt = stmt.where(Outbox.status == status)
    if kind:
        stmt = stmt.where(Outbox.kind == kind)
    stmt = stmt.offset(offset).limit(PAGE_SIZE)
    return [_row(*found) for found in session.execute(stmt)]


def status_counts(session: Session) -> dict[str, int]:
    stmt = select(Outbox.status, func.count()).group_by(Outbox.status)
    return {str(status): int(count) for status, count in session.execute(stmt)}


def outbox_detail(
    session: Session, outbox_id: int, *, mail_from: str, now: dt.datetime
) -> OutboxDetail | None:
    found = session.execute(_rows_stmt().where(Outbox.id == outbox_id)).one_or_none()
    if found is None:
        return None
    outbox = found[0]
    headers, error = message_headers(outbox, mail_from=mail_from, now=outbox.sent_at or now)
    return OutboxDetail(
        row=_row(*found),
        language=outbox.language,
        idempotency_key=outbox.idempotency_key,
        body_text=outbox.body_text,
        body_html=outbox.body_html,
        inbound=_inbound(session, outbox.inbound_message_id),
        headers=headers,
        header_error=error,
    )


def message_headers(
    row: Outbox, *, mail_from: str, now: dt.datetime
) -> tuple[list[tuple[str, str]], str]:
    """The top-level headers `notifications.dispatch` sends this row with (Date: `now`)."""
    try:
        message = build_message(row, mail_from=mail_from, now=now)
    except ValueError as exc:  # InvalidRecipientError is one
        return [], str(exc)
    return [(name, str(value)) for name, value in message.items()], ""


def _inbound(session: Session, message_id: int | None) -> InboundRef | None:
    message = session.get(InboundMessage, message_id) if message_id is not None else None
    if message is None:
        return None
    return InboundRef(
        id=message.id,
        sender=message.sender or "",
        subject=message.subject or "",
        received_at=message.received_at,
    )


def replies_for(session: Session, message_ids: Iterable[int]) -> dict[int, list[Reply]]:
    """The mails queued in answer to each of `message_ids`, oldest first."""
    wanted = sorted(set(message_ids))
    replies: dict[int, list[Reply]] = {}
    if not wanted:
        return replies
    stmt = (
        select(Outbox)
        .where(Outbox.inbound_message_id.in_(wanted))
        .order_by(Outbox.created_at, Outbox.id)
    )
    for row in session.scalars(stmt):
        assert row.inbound_message_id is not None
        reply = Reply(row.id, row.kind, row.status, row.created_at, row.sent_at)
        replies.setdefault(row.inbound_message_id, []).append(reply)
    return replies


def retry_failed(ctx: AppContext, outbox_id: int, *, actor: str) -> bool:
    """Set a failed mail back to pending, due now, with a fresh attempt count (dispatch refuses
    rows past `send_max_attempts`). False when the row is not failed (any more): nothing changed.
    """
    now = ctx.clock()
    with transaction(ctx.sessions) as session:
        row = session.get(Outbox, outbox_id)
        if row is None or row.status != "failed":
            return False
        details = {"attempts": row.attempts, "last_error": row.last_error, "kind": row.kind}
        result = session.execute(
            update(Outbox)
            .where(Outbox.id == outbox_id, Outbox.status == "failed")
            .values(status="pending", next_attempt_at=now, attempts=0)
            .execution_options(synchronize_session=False)
        )
        if getattr(result, "rowcount", 0) != 1:  # a concurrent retry or send won
            return False
        session.add(
            AuditLog(
                at=now,
                actor=actor,
                action="outbox_retry",
                entity="outbox",
                entity_id=outbox_id,
                details=details,
            )
        )
    log.info("outbox %d set back to pending by %s", outbox_id, actor)
    return True
