"""Which reply a processed mail gets, and to whom, queued in the processing transaction (outbox)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from typing import Any

from sqlalchemy.orm import Session

from core.formatting import format_number
from core.models import Meter
from core.types import Decision, MatchResult, Submission
from intake.autoreply import is_loop
from intake.reply_policy import ReplyTarget, reply_target
from intake.sender_auth import UNVERIFIED
from matching import reasons
from matching.corrections import Correction
from matching.meters import named_register
from matching.record import RecordOutcome
from matching.resolve import sender_customers
from matching.rows import Contact, customer_on
from notifications.errors import InvalidRecipientError
from notifications.outbox import (
    ConfirmedReading,
    queue_confirmation,
    queue_correction_notice,
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
    correction: Correction | None = None,
    allow_unknown: bool = False,
) -> str | None:
    """Queue the reply for one mail; returns its kind (None: no reply).

    Only where it is safe (`intake.reply_policy`): an unknown sender gets none unless
    `allow_unknown`; a reply about a meter goes to its customer's address on file; the greeting
    uses the name on file, never the sender's display name. A sender our mail server could not
    confirm (SPF/DKIM/DMARC) gets none: the customer on file would be thanked for, or asked
    about, a stranger's mail; the clerk's decision sends what is needed.
    """
    if submission.sender_check in UNVERIFIED:
        log.info("keine automatische Antwort: Absender nicht bestätigt (%s)",
                 submission.sender_check)  # fmt: skip
        return None
    if correction is not None:
        outcome = _of_corrected_day(session, outcome, correction)
    target = _target(session, submission, outcome, allow_unknown=allow_unknown)
    if target.recipient is None or submission.ledger_id is None:
        return None
    kind = "correction_received" if correction else reply_kind(match, decision, resend_reason)
    common: dict[str, Any] = {
        "recipient": target.recipient, "language": outcome.customer_language,
        "inbound_message_id": submission.ledger_id, "now": now,
        "in_reply_to": None if target.not_sender else submission.message_id,
        "customer_name": target.name, "not_sender": target.not_sender,
    }  # fmt: skip
    try:
        if correction is not None:
            queue_correction_notice(session, **common, **_correction_values(session, correction))
        elif kind == "confirmation":
            queue_confirmation(
                session, **common, readings=_confirmed_all(session, outcome, read_on)
            )
        elif kind == "received_review":
            queue_review_notice(session, **common, meter_number=outcome.meter_number)
        else:
            queue_resend_request(session, **common, reason=resend_reason or "no_photo")
    except InvalidRecipientError as exc:
        log.warning("keine Antwort an %r: %s", target.recipient, exc)
        return None
    return kind


def _target(
    session: Session, submission: Submission, outcome: RecordOutcome, *, allow_unknown: bool
) -> ReplyTarget:
    on_file = sender_customers(session, submission.sender)
    return reply_target(
        sender=submission.sender,
        sender_name_on_file=on_file[0].name if len(on_file) == 1 else None,
        sender_on_file=bool(on_file),
        customer_email=outcome.customer_email,
        customer_name=outcome.customer_name,
        allow_unknown=allow_unknown,
    )


def _of_corrected_day(
    session: Session, outcome: RecordOutcome, correction: Correction
) -> RecordOutcome:
    """A correction is answered to the customer of the corrected reading's day (its account may
    have moved since; the clerk's booking takes that day too)."""
    meter = session.get(Meter, correction.booked.meter_id)
    if meter is None:
        return outcome
    who = Contact.of(customer_on(session, meter, correction.booked.read_on))
    return dataclasses.replace(
        outcome, customer_email=who.email, customer_language=who.language, customer_name=who.name
    )


def _correction_values(session: Session, correction: Correction) -> dict[str, Any]:
    booked = correction.booked
    meter = session.get(Meter, booked.meter_id)
    old = ConfirmedReading(
        meter_number=booked.meter_number, value=booked.value, unit=booked.unit,
        read_on=booked.read_on, decimal_digits=booked.decimal_digits,
        register=named_register(meter, booked.register) if meter else None,
    )  # fmt: skip
    new = None
    if correction.new_value is not None:
        new = dataclasses.replace(old, value=correction.new_value)
    return {"old": old, "new": new}


def queue_too_large_reply(
    session: Session,
    submission: Submission,
    *,
    limit_bytes: int,
    mail_from: str,
    now: dt.datetime,
    allow_unknown: bool = False,
) -> bool:
    """Ask for a smaller photo when a mail was too large to fetch (`submission`: its headers).
    Loops get no answer, nor does an unknown sender unless `allow_unknown`; a known customer is
    answered at the address on file, in their language, unless our mail server could not
    confirm the sender. True if queued."""
    if submission.ledger_id is None or is_loop(submission, mail_from):
        return False
    if submission.sender_check in UNVERIFIED:
        return False
    customer = next(iter(sender_customers(session, submission.sender)), None)
    recipient = customer.email if customer else (submission.sender if allow_unknown else None)
    if recipient is None:
        return False
    language = customer.language if customer else "de"
    try:
        return queue_resend_request(
            session, recipient=recipient, language=language,
            inbound_message_id=submission.ledger_id, reason="too_large", now=now,
            in_reply_to=submission.message_id,
            customer_name=customer.name if customer else None,
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


def _confirmed_all(
    session: Session, outcome: RecordOutcome, read_on: dt.date
) -> list[ConfirmedReading]:
    """Every reading booked for the mail (one per photo and register), the register named as
    `named_register` names it."""
    if not outcome.booked:
        return [_confirmed(outcome, read_on)]
    return [
        ConfirmedReading(
            meter_number=b.meter_number,
            value=b.value,
            unit=b.unit,
            read_on=read_on,
            decimal_digits=b.decimal_digits,
            register=named_register(meter, b.register)
            if (meter := session.get(Meter, b.meter_id))
            else None,
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
