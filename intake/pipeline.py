"""Process one claimed ledger entry, top to bottom:

parse → loop protection (auto-reply / bounce: ignored, no reply) → read the photos (OCR, outside
any transaction) → in ONE transaction: photos and OCR results stored, match, decide, record, reply
queued, status and target folder set. A failure anywhere rolls all of it back; `process_one`
records the error on the mail in a fresh transaction and the worker goes on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core import metrics
from core.context import BERLIN, AppContext
from core.db import transaction
from core.errors import ToolMissingError
from core.logging_setup import current_mail
from core.models import (
    ContractAccount,
    Customer,
    InboundMessage,
    Meter,
    OcrResult,
    Photo,
    shown_on,
)
from core.settings import Settings
from core.types import ImageAttachment, MeterHint, MeterRead, Submission
from intake.autoreply import is_loop
from intake.claims import Claim, ClaimLost, finish, lock_claimed, record_failure, release
from intake.mime import parse_message
from intake.photos import photo_facts
from intake.replies import queue_reply, resend_reason_for
from intake.sources import NEEDS_REVIEW, PROCESSED, REJECTED
from matching.decide import decide
from matching.record import record_decision
from matching.resolve import match_submission
from notifications.bounces import record_bounce

log = logging.getLogger(__name__)
Reader = Callable[[bytes, MeterHint, Settings], MeterRead]
RESULT = {
    "accept": ("accepted", PROCESSED),
    "review": ("review", NEEDS_REVIEW),
    "reject": ("rejected", REJECTED),
    "ignore": ("ignored", PROCESSED),
}


def ocr_reader(data: bytes, hint: MeterHint, settings: Settings) -> MeterRead:
    from ocr import read_meter

    return read_meter(
        data, integer_digits=hint.integer_digits, display=hint.display, settings=settings
    )


@dataclass(frozen=True)
class PhotoRead:
    image: ImageAttachment
    read: MeterRead


def process_one(ctx: AppContext, claim: Claim, *, reader: Reader = ocr_reader) -> str:
    """Process a claimed mail; never raises for a bad mail. Returns the ledger status."""
    token = current_mail.set(claim.ledger_id)
    try:
        return process_claimed(ctx, claim, reader=reader)
    except ClaimLost as exc:
        log.warning("%s", exc)
        return "lost"
    except ToolMissingError:
        release(ctx, claim)  # an installation problem, not this mail's fault
        raise
    except Exception as exc:
        status = record_failure(ctx, claim, exc)
        log.exception("Verarbeitung fehlgeschlagen (Versuch %d): %s", claim.attempts, status)
        return status
    finally:
        current_mail.reset(token)


def process_claimed(ctx: AppContext, claim: Claim, *, reader: Reader = ocr_reader) -> str:
    with metrics.stage_timer("parse"):
        submission = load_submission(ctx, claim)
    if is_loop(submission, ctx.settings.mail_from):
        return ignore_mail(ctx, claim, submission)
    hint = sender_meter_hint(ctx, submission.sender)
    reads = [read_photo(reader, image, hint, ctx.settings) for image in submission.images]
    with metrics.stage_timer("match"), transaction(ctx.sessions) as session:
        row = lock_claimed(session, claim)
        photo_ids = store_photos(ctx, session, row, reads)
        best = best_read(reads)
        photo_id = photo_ids[reads.index(best)] if best else None
        status = decide_and_reply(ctx, session, row, submission, best, photo_id)
    log.info("Mail verarbeitet: %s", status)
    return status


def load_submission(ctx: AppContext, claim: Claim) -> Submission:
    with ctx.sessions() as session:
        row = session.get(InboundMessage, claim.ledger_id)
        if row is None:
            raise ClaimLost(f"Eingang {claim.ledger_id} existiert nicht mehr")
        sha, received_at = row.sha256, row.received_at
    raw = ctx.blobs.get(sha)
    return parse_message(raw, ledger_id=claim.ledger_id, received_at=received_at)


def ignore_mail(ctx: AppContext, claim: Claim, submission: Submission) -> str:
    with transaction(ctx.sessions) as session:
        row = lock_claimed(session, claim)
        if submission.is_bounce:
            record_bounce(
                session, submission.bounced_recipients,
                references=submission.bounce_references, now=ctx.clock(),
            )  # fmt: skip
        finish(row, status="ignored", folder=PROCESSED, error=_loop_note(submission))
    log.info("Mail ignoriert: %s", _loop_note(submission))
    return "ignored"


def _loop_note(submission: Submission) -> str:
    if submission.is_bounce:
        return "Unzustellbarkeitsmeldung: " + (", ".join(submission.bounced_recipients) or "-")
    return "automatische Antwort; nicht beantwortet"


def sender_meter_hint(ctx: AppContext, sender: str | None) -> MeterHint:
    """The integer digits and kind of counter of the sender's meter, when the sender has exactly
    one active meter (else nothing: the photo may show any of them)."""
    if not sender:
        return MeterHint()
    with ctx.sessions() as session:
        stmt = (
            select(Meter.integer_digits, Meter.kind, Meter.display)
            .join(ContractAccount, Meter.account_id == ContractAccount.id)
            .join(Customer, ContractAccount.customer_id == Customer.id)
            .where(func.lower(Customer.email) == sender.lower(), Meter.removed_on.is_(None))
            .limit(2)
        )
        meters = session.execute(stmt).all()
    if len(meters) != 1:
        return MeterHint()
    [(digits, kind, display)] = meters
    return MeterHint(digits, shown_on(kind, display))


def read_photo(
    reader: Reader, image: ImageAttachment, hint: MeterHint, settings: Settings
) -> PhotoRead:
    """OCR one photo; a crash on one photo degrades to an unreadable read, never the whole mail."""
    try:
        with metrics.stage_timer("ocr"):
            read = reader(image.data, hint, settings)
        metrics.observe_ocr(read.confidence, readable=read.reading is not None)
    except ToolMissingError:
        raise
    except Exception as exc:
        log.exception("Texterkennung für %s abgestürzt", image.filename or image.content_type)
        read = MeterRead(reading=None, reason=f"ocr_error: {type(exc).__name__}")
    return PhotoRead(image=image, read=read)


def best_read(reads: list[PhotoRead]) -> PhotoRead | None:
    """Readable before unreadable, OCR-accepted before not, then the highest confidence."""
    if not reads:
        return None
    return max(
        reads, key=lambda p: (p.read.reading is not None, p.read.accepted, p.read.confidence)
    )


def store_photos(
    ctx: AppContext, session: Session, row: InboundMessage, reads: list[PhotoRead]
) -> list[int]:
    ids: list[int] = []
    for item in reads:
        image, read = item.image, item.read
        facts = photo_facts(image.data, max_pixels=ctx.settings.max_image_pixels)
        photo = Photo(
            message_id=row.id, sha256=ctx.blobs.put(image.data), filename=image.filename,
            content_type=image.content_type, size=len(image.data), phash=facts.phash,
            exif_time=facts.exif_time,
        )  # fmt: skip
        session.add(photo)
        session.flush()
        session.add(_ocr_row(photo.id, read))
        ids.append(photo.id)
    return ids


def _ocr_row(photo_id: int, read: MeterRead) -> OcrResult:
    details = {
        "display": read.display,
        "meter_number_candidates": list(read.meter_number_candidates),
        "digits": [[d.value, round(d.confidence, 4)] for d in read.digits],
    }
    return OcrResult(
        photo_id=photo_id, reading=read.reading, fraction=read.fraction,
        confidence=float(read.confidence), accepted=read.accepted,
        meter_number=read.meter_number, reason=(read.reason or None) and read.reason[:200],
        seconds=float(read.seconds), details=details,
    )  # fmt: skip


def decide_and_reply(
    ctx: AppContext,
    session: Session,
    row: InboundMessage,
    submission: Submission,
    best: PhotoRead | None,
    photo_id: int | None,
) -> str:
    read = best.read if best else None
    # the Berlin day the mail arrived, as a clerk's booking of it uses (not the processing day)
    today, settings = submission.received_at.astimezone(BERLIN).date(), ctx.settings
    match = match_submission(
        session, submission, read, today=today,
        max_daily_consumption=settings.max_daily_consumption,
    )  # fmt: skip
    decision = decide(match, read, min_confidence=settings.auto_accept_min_confidence)
    outcome = record_decision(
        session, ledger_id=row.id, photo_id=photo_id, read_on=today, match=match,
        decision=decision, read=read,
    )  # fmt: skip
    unreadable = read is not None and read.reading is None  # no photo gave any digits
    queue_reply(
        session, submission=submission, match=match, decision=decision, outcome=outcome,
        resend_reason=resend_reason_for(submission, match, photos_broken=unreadable),
        read_on=today, now=ctx.clock(),
    )  # fmt: skip
    status, folder = RESULT[decision.outcome]
    note = "Teile abgelehnt: " + "; ".join(submission.rejected_parts)
    finish(row, status=status, folder=folder, error=note if submission.rejected_parts else None)
    return status
