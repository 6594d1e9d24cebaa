"""Transactional outbox: render a mail and insert it in the caller's transaction.

A mail is queued together with the state change that causes it (a reading accepted, a review task
created) and sent later by `notifications.dispatch.send_due`. Every row has a unique idempotency
key, so the same intent never produces two mails:

| helper                 | idempotency key                                        |
|------------------------|--------------------------------------------------------|
| `queue_confirmation`   | `confirmation:<inbound_message_id>` (`:review:<task>`) |
| `queue_review_notice`  | `received_review:<inbound_message_id>`                 |
| `queue_resend_request` | `resend_request:<inbound_message_id>`                  |
| `queue_correction_notice` | `correction_received:<inbound_message_id>`          |
| campaigns              | `reminder:<campaign_id>:<meter_id>`, `reminder_followup:…` |
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.models import Customer, Outbox
from notifications.chart import chart_png
from notifications.consumption import comparison_for
from notifications.headers import check_recipient, clean_message_id
from notifications.installment import installment_hint
from notifications.render import normalize_language, render
from notifications.sqlutil import insert_ignoring_conflict

log = logging.getLogger(__name__)

REPLY_KINDS = frozenset(
    {"confirmation", "received_review", "resend_request", "correction_received"}
)
# Mail-loop brake: at most this many replies to one address per 24 hours (reminders not counted).
MAX_REPLIES_PER_DAY = 25


@dataclass(frozen=True)
class ConfirmedReading:
    """One accepted reading, as the confirmation mail shows it."""

    meter_number: str
    value: Decimal
    unit: str
    read_on: dt.date
    decimal_digits: int = 0
    register: str | None = None


def enqueue(
    session: Session,
    *,
    kind: str,
    recipient: str,
    language: str,
    context: Mapping[str, Any],
    idempotency_key: str,
    now: dt.datetime,
    in_reply_to: str | None = None,
    inbound_message_id: int | None = None,
    campaign_id: int | None = None,
    inline_png: bytes | None = None,
) -> bool:
    """Queue one mail in the caller's transaction. True if queued, False if not.
    `inline_png` goes with the HTML part as `cid:chart` (templates refer to it).

    False means: a row with this idempotency key exists already (also when a concurrent
    transaction inserted it), the address is marked bounced, or the reply brake is on.
    Raises `InvalidRecipientError` for a malformed address or one containing CR/LF, and
    `TemplateContextError` for an unknown kind or a missing template value.
    """
    address = check_recipient(recipient)
    key = _checked_key(idempotency_key)
    if _is_bounced(session, address):
        log.info("not queued %s: address %s is marked bounced", key, address)
        return False
    if kind in REPLY_KINDS and _reply_brake_on(session, address, now):
        log.warning("not queued %s: %d replies to %s in 24 h", key, MAX_REPLIES_PER_DAY, address)
        return False
    mail = render(kind, language, context)
    values = {
        "kind": kind, "recipient": address, "language": normalize_language(language),
        "subject": mail.subject, "body_text": mail.text, "body_html": mail.html,
        "in_reply_to": clean_message_id(in_reply_to), "idempotency_key": key,
        "status": "pending", "attempts": 0, "next_attempt_at": now, "created_at": now,
        "inbound_message_id": inbound_message_id, "campaign_id": campaign_id,
        "inline_png": inline_png,
    }  # fmt: skip
    row_id = insert_ignoring_conflict(session, Outbox, values, conflict=["idempotency_key"])
    if row_id is None:
        log.debug("not queued %s: already in the outbox", key)
        return False
    # a reply is news about one customer mail; a campaign's thousands of reminders are summed up
    level = logging.DEBUG if campaign_id is not None else logging.INFO
    log.log(level, "queued %s mail %s to %s (outbox %d)", kind, key, address, row_id)
    return True


def queue_confirmation(
    session: Session,
    *,
    recipient: str,
    language: str,
    inbound_message_id: int,
    readings: Sequence[ConfirmedReading],
    now: dt.datetime,
    in_reply_to: str | None = None,
    customer_name: str | None = None,
    review_task_id: int | None = None,
    not_sender: bool = False,
) -> bool:
    """Confirmation ("reading received and accepted") for every reading from one customer mail.

    Key `confirmation:<inbound_message_id>`; after a clerk's decision pass `review_task_id`
    (key `confirmation:<inbound_message_id>:review:<task_id>`).
    """
    key = f"confirmation:{inbound_message_id}"
    if review_task_id is not None:
        key += f":review:{review_task_id}"
    shown = [_with_consumption(session, r) for r in readings]
    chart = next((r for r in shown if r["consumption"] is not None), None)
    png = None
    if chart is not None:
        png = chart_png(
            chart.pop("comparison"), unit=chart["unit"], lang=normalize_language(language)
        )
        chart["chart"] = True
    for reading in shown:
        reading.pop("comparison", None)
    context = {"customer_name": customer_name, "readings": shown, "not_sender": not_sender,
               "installment": _installment(session, readings)}  # fmt: skip
    return enqueue(
        session, kind="confirmation", recipient=recipient, language=language, context=context,
        idempotency_key=key, now=now, in_reply_to=in_reply_to,
        inbound_message_id=inbound_message_id, inline_png=png,
    )  # fmt: skip


def _installment(session: Session, readings: Sequence[ConfirmedReading]) -> dict[str, Any] | None:
    """The Abschlag hint of the first reading's contract account, where there is one."""
    for reading in readings[:1]:
        hint = installment_hint(session, reading.meter_number, reading.read_on)
        if hint is not None:
            return hint.as_context()
    return None


def _with_consumption(session: Session, reading: ConfirmedReading) -> dict[str, Any]:
    """The reading as the template shows it, with its consumption figures where history allows."""
    shown: dict[str, Any] = {**dataclasses.asdict(reading), "consumption": None, "chart": False}
    found = comparison_for(
        session, reading.meter_number, reading.register, reading.value, reading.read_on
    )
    if found is None:
        return shown
    change = found.change_to_year_before
    shown["comparison"] = found
    shown["consumption"] = {
        "since": found.current.start, "days": found.current.days, "used": found.current.used,
        "per_day": found.current.per_day, "year_before_per_day": found.year_before_per_day,
        "change_percent": None if change is None else round(change * 100),
        "average_per_day": found.average_per_day,
        "periods": [{"start": p.start, "end": p.end, "per_day": p.per_day}
                    for p in found.periods],
    }  # fmt: skip
    return shown


def queue_review_notice(
    session: Session,
    *,
    recipient: str,
    language: str,
    inbound_message_id: int,
    now: dt.datetime,
    in_reply_to: str | None = None,
    customer_name: str | None = None,
    meter_number: str | None = None,
    not_sender: bool = False,
) -> bool:
    """Review notice ("we received it, a clerk checks it").

    Key `received_review:<inbound_message_id>`.
    """
    return enqueue(
        session, kind="received_review", recipient=recipient, language=language,
        context={
            "customer_name": customer_name, "meter_number": meter_number,
            "not_sender": not_sender,
        },
        idempotency_key=f"received_review:{inbound_message_id}", now=now,
        in_reply_to=in_reply_to, inbound_message_id=inbound_message_id,
    )  # fmt: skip


def queue_resend_request(
    session: Session,
    *,
    recipient: str,
    language: str,
    inbound_message_id: int,
    reason: str,
    now: dt.datetime,
    in_reply_to: str | None = None,
    customer_name: str | None = None,
    limit_mb: str | None = None,
    not_sender: bool = False,
    clerk_note: str | None = None,
) -> bool:
    """Resend request ("please send a clearer photo").

    `reason`: no_photo | unreadable | unknown_sender | too_large (then `limit_mb`: the
    mailbox's limit, formatted in the customer's language) | clerk (a clerk rejected the reading;
    `clerk_note`: the clerk's words, shown to the customer as written, escaped in HTML).

    Key `resend_request:<inbound_message_id>`: one request for a new photo per mail, whoever asks.
    """
    return enqueue(
        session, kind="resend_request", recipient=recipient, language=language,
        context={
            "customer_name": customer_name, "reason": reason, "limit_mb": limit_mb,
            "not_sender": not_sender, "clerk_note": clerk_note,
        },
        idempotency_key=f"resend_request:{inbound_message_id}", now=now,
        in_reply_to=in_reply_to, inbound_message_id=inbound_message_id,
    )  # fmt: skip


def queue_correction_notice(
    session: Session,
    *,
    recipient: str,
    language: str,
    inbound_message_id: int,
    old: ConfirmedReading,
    new: ConfirmedReading | None,
    now: dt.datetime,
    in_reply_to: str | None = None,
    customer_name: str | None = None,
    not_sender: bool = False,
) -> bool:
    """Correction notice ("we received your correction, a colleague checks it"): the value we
    confirmed (`old`) and the one the customer gives now (`new`, None when none was readable).

    Key `correction_received:<inbound_message_id>`.
    """
    context = {
        "customer_name": customer_name, "meter_number": old.meter_number,
        "old": dataclasses.asdict(old), "new": dataclasses.asdict(new) if new else None,
        "not_sender": not_sender,
    }  # fmt: skip
    return enqueue(
        session, kind="correction_received", recipient=recipient, language=language,
        context=context, idempotency_key=f"correction_received:{inbound_message_id}", now=now,
        in_reply_to=in_reply_to, inbound_message_id=inbound_message_id,
    )  # fmt: skip


def _checked_key(key: str) -> str:
    if not key or len(key) > 200 or any(ch in key for ch in "\r\n\0"):
        raise ValueError(f"ungültiger Idempotenzschlüssel: {key!r}")
    return key


def _is_bounced(session: Session, address: str) -> bool:
    stmt = select(Customer.id).where(
        func.lower(Customer.email) == address.lower(), Customer.email_bounced_at.is_not(None)
    )
    return session.execute(stmt.limit(1)).first() is not None


def _reply_brake_on(session: Session, address: str, now: dt.datetime) -> bool:
    stmt = select(func.count(Outbox.id)).where(
        func.lower(Outbox.recipient) == address.lower(),
        Outbox.kind.in_(REPLY_KINDS),
        Outbox.created_at > now - dt.timedelta(days=1),
    )
    return (session.execute(stmt).scalar() or 0) >= MAX_REPLIES_PER_DAY
