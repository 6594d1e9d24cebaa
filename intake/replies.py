"""Which reply a processed mail gets, queued in the processing transaction (outbox)."""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy.orm import Session

from core.formatting import format_number
from core.types import Decision, MatchResult, Submission
from intake.autoreply import is_loop
from matching import reasons
from matching.record import RecordOutcome
from matching.resolve import sender_customers
from notifications.errors import InvalidRecipientError
from notifications.outbox import (
    ConfirmedReading,
    queue_confirmation,
    queue_resend_request,
    queue_review_notice,
)

log = logging.getLogger(__name__)
MEBIBYTE = 1024 * 1024  # what mail programs call a megabyte


def queue_reply(
    session: Session,
    *,
    submission: Submission,
    match: MatchResult,
    decision: Decision,
    outcome: RecordOutcome,
    resend_reason: str | None,
    read_on: dt.date,
    now: dt.datetime,
) -> str | None:
    """Queue the reply for one mail; returns its kind (None: no reply, e.g. no address)."""
    recipient = outcome.customer_email or submission.sender
    if recipient is None or submission.ledger_id is None:
        return None
    name = outcome.customer_name or submission.sender_name
    ledger_id, mid, lang = submission.ledger_id, submission.message_id, outcome.customer_language
    kind = reply_kind(match, decision, resend_reason)
    try:
        if kind == "confirmation":
            queue_confirmation(
                session, recipient=recipient, language=lang, inbound_message_id=ledger_id,
                readings=_confirmed_all(outcome, read_on), now=now, in_reply_to=mid,
                customer_name=name,
            )  # fmt: skip
        elif kind == "received_review":
            queue_review_notice(
                session, recipient=recipient, language=lang, inbound_message_id=ledger_id,
                now=now, in_reply_to=mid, customer_name=name, meter_number=outcome.meter_number,
            )  # fmt: skip
        else:
            queue_resend_request(
                session, recipient=recipient, language=lang, inbound_message_id=ledger_id,
                reason=resend_reason or "no_photo", now=now, in_reply_to=mid, customer_name=name,
            )  # fmt: skip
    except InvalidRecipientError as exc:
        log.warning("keine Antwort an %r: %s", recipient, exc)
        return None
    return kind


def queue_too_large_reply(
    session: Session, submission: Submission, *, limit_bytes: int, mail_from: str, now: dt.datetime
) -> bool:
    """Ask for a smaller photo when a mail was too large to fetch (`submission`: its headers).
    Loops get no answer; a known customer is answered in their language. True if queued."""
    recipient = submission.sender
    if recipient is None or submission.ledger_id is None or is_loop(submission, mail_from):
        return False
    customer = next(iter(sender_customers(session, recipient)), None)
    language = customer.language if customer else "de"
    try:
        return queue_resend_request(
            session, recipient=customer.email if customer and customer.email else recipient,
            language=language,
            inbound_message_id=submission.ledger_id, reason="too_large", now=now,
            in_reply_to=submission.message_id,
            customer_name=customer.name if customer else submission.sender_name,
            limit_mb=format_number(max(1, limit_bytes // MEBIBYTE), lang=language),
        )  # fmt: skip
    except InvalidRecipientError as exc:
        log.warning("keine Antwort an %r: %s", recipient, exc)
        return False


def reply_kind(match: MatchResult, decision: Decision, resend_reason: str | None) -> str:
    """confirmation (accepted), received_review (clerk checks), resend_request (nothing to do)."""
    if decision.outcome == "accept":
        return "confirmation"
    if decision.outcome == "review" and not _nothing_to_review(match, decision, resend_reason):
        return "received_review"
    return "resend_request"


def _nothing_to_review(match: MatchResult, decision: Decision, resend_reason: str | None) -> bool:
    unknown = reasons.UNKNOWN_SENDER in decision.reason_codes and not match.candidates
    return unknown or (resend_reason == "unreadable" and match.value is None)


def resend_reason_for(
    submission: Submission, match: MatchResult, *, photos_broken: bool
) -> str | None:
    """no_photo | unreadable | unknown_sender, for the resend request's wording."""
    if reasons.UNKNOWN_SENDER in match.reason_codes and not match.candidates:
        return "unknown_sender"
    if not submission.images:
        return "no_photo"
    if photos_broken:
        return "unreadable"
    return None


def _confirmed_all(outcome: RecordOutcome, read_on: dt.date) -> list[ConfirmedReading]:
    """Every reading booked for the mail (one per photo and register)."""
    if not outcome.booked:
        return [_confirmed(outcome, read_on)]
    return [
        ConfirmedReading(
            meter_number=b.meter_number,
            value=b.value,
            unit=b.unit,
            read_on=read_on,
            decimal_digits=b.decimal_digits,
            register=b.register if len(outcome.booked) > 1 else None,
        )
        for b in outcome.booked
    ]


def _confirmed(outcome: RecordOutcome, read_on: dt.date) -> ConfirmedReading:
    if outcome.meter_number is None or outcome.value is None or outcome.unit is None:
        raise ValueError("an accepted reading needs meter number, value and unit")
    return ConfirmedReading(
        meter_number=outcome.meter_number,
        value=outcome.value,
        unit=outcome.unit,
        read_on=read_on,
        decimal_digits=outcome.decimal_digits,
    )
