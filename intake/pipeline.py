"""Process one claimed ledger entry, top to bottom:

parse → loop protection (auto-reply / bounce: ignored, no reply) → read the photos (OCR, outside
any transaction) → in ONE transaction: photos and OCR results stored, match, decide, record, reply
queued, status and target folder set. A failure anywhere rolls all of it back; `process_one`
records the error on the mail in a fresh transaction and the worker goes on.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy.orm import Session, SessionTransaction

from core import metrics
from core.context import BERLIN, AppContext
from core.db import is_postgres, lock_meters, transaction
from core.errors import ToolMissingError
from core.logging_setup import current_mail
from core.models import (
    InboundMessage,
    OcrResult,
    Photo,
)
from core.settings import Settings
from core.types import ImageAttachment, MeterHint, MeterRead, ReadingItem, Submission
from intake.autoreply import is_loop, own_address
from intake.claims import Claim, ClaimLost, finish, lock_claimed, record_failure, release
from intake.mime import parse_message
from intake.outages import is_infrastructure_fault
from intake.photos import photo_facts
from intake.replies import queue_reply, resend_reason_for
from intake.second_look import second_look
from intake.sender_auth import check_sender
from intake.sources import NEEDS_REVIEW, PROCESSED, REJECTED
from matching import reasons
from matching.mail import MailDecision, candidate_hints, decide_mail, further_hints
from matching.new_photo import close_tasks_awaiting, mark_new_photo_requested
from matching.record import record_decision
from notifications.bounces import record_bounce

log = logging.getLogger(__name__)
# one photo read under each hint (the meters the sender may mean): one MeterRead per hint, in order
Reader = Callable[[bytes, Sequence[MeterHint], Settings], list[MeterRead]]
RESULT = {
    "accept": ("accepted", PROCESSED),
    "review": ("review", NEEDS_REVIEW),
    "reject": ("rejected", REJECTED),
    "ignore": ("ignored", PROCESSED),
}


def ocr_reader(data: bytes, hints: Sequence[MeterHint], settings: Settings) -> list[MeterRead]:
    """Each hint's read as `read_meter` gives it, the photo loaded and its counter located once
    (hints that differ in their decimal digits reuse the location: see `OcrEngine`)."""
    from ocr import read_meter_hypotheses

    reads: dict[MeterHint, MeterRead] = {}
    for decimals in dict.fromkeys(hint.decimal_digits for hint in hints):
        alike = [hint for hint in hints if hint.decimal_digits == decimals]
        hypotheses = [(hint.integer_digits, hint.display) for hint in alike]
        found = read_meter_hypotheses(data, hypotheses, settings=settings, decimal_digits=decimals)
        reads.update(zip(alike, found, strict=True))
    return [reads[hint] for hint in hints]


@dataclass(frozen=True)
class PhotoRead:
    """One photo, read under each way the candidate meters show their counter."""

    image: ImageAttachment
    reads: dict[MeterHint, MeterRead]

    @property
    def read(self) -> MeterRead:
        """The first read (the only one when the sender has one kind of meter)."""
        return next(iter(self.reads.values()))


def process_one(ctx: AppContext, claim: Claim, *, reader: Reader = ocr_reader) -> str:
    """Process a claimed mail; never raises for a bad mail. Returns the ledger status.
    An outage of the database or the disk is raised, the claim untouched: it is not the mail's
    fault, so the caller hands the mail back without counting the attempt."""
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
        if is_infrastructure_fault(exc):
            raise
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
    # the Berlin day the mail arrived, as a clerk's booking of it uses (not the processing day)
    today = submission.received_at.astimezone(BERLIN).date()
    with ctx.sessions() as session:
        hints = candidate_hints(session, submission, today=today)
    reads = [read_photo(reader, image, hints, ctx.settings) for image in submission.images]
    reads = read_again_for_named_meters(ctx, submission, reads, reader, today)
    with metrics.stage_timer("match"), transaction(ctx.sessions) as session:
        row = lock_claimed(session, claim)
        mail = decide_locked(
            session,
            lambda: decide_mail(
                session, submission, [p.reads for p in reads], today=today,
                min_confidence=ctx.settings.auto_accept_min_confidence,
                max_daily_consumption=ctx.settings.max_daily_consumption,
            ),
        )  # fmt: skip
        photo_ids = store_photos(ctx, session, row, reads, mail.decision.items)
        status = record_and_reply(ctx, session, row, submission, mail, photo_ids, today)
    return status


def decide_locked(session: Session, decide: Callable[[], MailDecision]) -> MailDecision:
    """The mail's decision as made while this transaction holds every meter it books on (or
    sends to a clerk): another worker booking on one of them meanwhile has committed before the
    history is read again, so a day never gets two readings and no value is judged against a
    history without the other's. Decided once without the lock to learn the meters, then again
    under it.

    Should the decision under the lock name a meter not yet held, on PostgreSQL the meters held
    are let go (rolled back to a savepoint taken before the lock, which releases its row locks)
    and the whole set is locked again in id order. Holding some meters while waiting for
    another could deadlock with a worker doing the same crosswise; waiting only in id order
    cannot."""
    locked: set[int] = set()
    mail = decide()
    held: SessionTransaction | None = None
    while wanted := meters_of(mail) - locked:
        if held is not None:
            held.rollback()
        if is_postgres(session):  # SQLite: one write lock for all, nothing to wait for crosswise
            held = session.begin_nested()
        locked |= wanted
        lock_meters(session, locked)
        mail = decide()
    if held is not None:
        held.commit()  # the locks pass to the mail's transaction
    return mail


def meters_of(mail: MailDecision) -> set[int]:
    decision = mail.decision
    ids = {decision.meter_id, *(item.meter_id for item in decision.items)}
    if mail.match.meter is not None:
        ids.add(mail.match.meter.meter_id)
    return {meter_id for meter_id in ids if meter_id is not None}


def load_submission(ctx: AppContext, claim: Claim) -> Submission:
    with ctx.sessions() as session:
        row = session.get(InboundMessage, claim.ledger_id)
        if row is None:
            raise ClaimLost(f"Eingang {claim.ledger_id} existiert nicht mehr")
        sha, received_at = row.sha256, row.received_at
    raw = ctx.blobs.get(sha)
    submission = parse_message(raw, ledger_id=claim.ledger_id, received_at=received_at)
    checked = check_sender(raw, submission.sender, ctx.settings.authserv_ids)
    return dataclasses.replace(submission, sender_check=checked)


def ignore_mail(ctx: AppContext, claim: Claim, submission: Submission) -> str:
    with transaction(ctx.sessions) as session:
        row = lock_claimed(session, claim)
        if submission.is_bounce:
            record_bounce(
                session, submission.bounced_recipients,
                references=submission.bounce_references, now=ctx.clock(),
            )  # fmt: skip
        note = _loop_note(submission, ctx.settings.mail_from)
        finish(row, status="ignored", folder=PROCESSED, error=note)
    log.info("Mail ignoriert: %s", note)
    return "ignored"


def _loop_note(submission: Submission, mail_from: str) -> str:
    if submission.is_bounce:
        return "Unzustellbarkeitsmeldung: " + (", ".join(submission.bounced_recipients) or "-")
    if submission.is_auto_reply:
        return "automatische Antwort; nicht beantwortet"
    return (
        f"von unserer eigenen Adresse {own_address(mail_from)} (Mail-Schleife); nicht beantwortet"
    )


def read_photo(
    reader: Reader, image: ImageAttachment, hints: list[MeterHint], settings: Settings
) -> PhotoRead:
    """OCR one photo under all hints in one reader call (the counter is located once); a crash
    degrades this photo's reads to unreadable ones, never the whole mail."""
    if not hints:
        return PhotoRead(image=image, reads={})
    try:
        with metrics.stage_timer("ocr"):
            reads = dict(zip(hints, reader(image.data, hints, settings), strict=True))
    except ToolMissingError:
        raise
    except Exception as exc:
        log.exception("Texterkennung für %s abgestürzt", image.filename or image.content_type)
        failed = MeterRead(reading=None, reason=f"ocr_error: {type(exc).__name__}")
        return PhotoRead(image=image, reads=dict.fromkeys(hints, failed))
    for read in reads.values():
        metrics.observe_ocr(read.confidence, readable=read.reading is not None)
    return PhotoRead(image=image, reads=reads)


def read_again_for_named_meters(
    ctx: AppContext, submission: Submission, reads: list[PhotoRead], reader: Reader, today: dt.date
) -> list[PhotoRead]:
    """Read a photo again as a meter only its own meter number pointed at would show it."""
    if not reads:
        return reads
    with ctx.sessions() as session:
        missing = further_hints(session, submission, [p.reads for p in reads], today=today)
    result = []
    for photo, hints in zip(reads, missing, strict=True):
        more = read_photo(reader, photo.image, hints, ctx.settings).reads if hints else {}
        result.append(PhotoRead(photo.image, {**photo.reads, **more}))
    return result


def store_photos(
    ctx: AppContext,
    session: Session,
    row: InboundMessage,
    reads: list[PhotoRead],
    items: tuple[ReadingItem, ...] = (),
) -> list[int]:
    """Store each photo with one OCR row per hypothesis read; the read the decision used is
    stored last (the newest OCR row is the one the review UI shows)."""
    chosen = {item.photo_index: item.hint for item in items if item.hint is not None}
    ids: list[int] = []
    for index, item in enumerate(reads):
        image = item.image
        facts = photo_facts(image.data, max_pixels=ctx.settings.max_image_pixels)
        photo = Photo(
            message_id=row.id, sha256=ctx.blobs.put(image.data), filename=image.filename,
            content_type=image.content_type, size=len(image.data), phash=facts.phash,
            exif_time=facts.exif_time,
        )  # fmt: skip
        session.add(photo)
        session.flush()
        last = chosen.get(index)
        ordered = sorted(item.reads.items(), key=lambda pair: pair[0] == last)
        for hint, read in ordered:
            session.add(_ocr_row(photo.id, read, hint))
        ids.append(photo.id)
    return ids


def _ocr_row(photo_id: int, read: MeterRead, hint: MeterHint) -> OcrResult:
    details = {
        "hypothesis": {
            "integer_digits": hint.integer_digits,
            "display": hint.display,
            "decimal_digits": hint.decimal_digits,
        },
        "display": read.display,
        "unit": read.unit,  # what the display shows beside the value ("GJ", "1.8.0")
        "obis": read.obis,
        # what a drum counter's face says of the meter's kind (`ocr.kind_marks`)
        "printed_unit": read.printed_unit,
        "dials": read.dials,
        "meter_number_candidates": list(read.meter_number_candidates),
        # per digit: value, confidence and the alternatives ([digit, probability], best first)
        "digits": [
            [d.value, round(d.confidence, 4), [[v, round(p, 4)] for v, p in d.alternatives[:3]]]
            for d in read.digits
        ],
        # where the read is on the upright photo (pixels): counter and digits, four corners each
        "counter_box": [list(p) for p in read.counter_box],
        "digit_boxes": [[list(p) for p in box] for box in read.digit_boxes],
    }
    return OcrResult(
        photo_id=photo_id, reading=read.reading, fraction=read.fraction,
        confidence=float(read.confidence), accepted=read.accepted,
        meter_number=read.meter_number, reason=(read.reason or None) and read.reason[:200],
        seconds=float(read.seconds), details=details,
    )  # fmt: skip


def record_and_reply(
    ctx: AppContext,
    session: Session,
    row: InboundMessage,
    submission: Submission,
    mail: MailDecision,
    photo_ids: list[int],
    today: dt.date,
) -> str:
    match, decision = mail.match, mail.decision
    read = mail.reads[0] if mail.reads else None
    # photo reuse, corrections of a confirmed reading, another reading that day (second_look.py)
    look = second_look(
        session, ctx.settings, submission=submission, match=match, decision=decision,
        photo_ids=photo_ids, read_on=today,
    )  # fmt: skip
    decision = look.decision
    outcome = record_decision(
        session, ledger_id=row.id, photo_id=photo_ids[0] if photo_ids else None, read_on=today,
        match=match, decision=decision, read=read, photo_ids=photo_ids, reads=mail.reads,
    )  # fmt: skip
    look.annotate(session, outcome)
    unreadable = bool(photo_ids) and all(r is None or r.reading is None for r in mail.reads)
    resend_reason = resend_reason_for(submission, match, photos_broken=unreadable)
    kind = queue_reply(
        session, submission=submission, match=match, decision=decision, outcome=outcome,
        resend_reason=resend_reason, read_on=today, now=ctx.clock(), correction=look.correction,
        allow_unknown=ctx.settings.reply_to_unknown_senders,
    )  # fmt: skip
    asked = kind == "resend_request" and resend_reason == "unreadable"
    if outcome.created and outcome.outcome == "review" and asked:  # the task waits for it
        mark_new_photo_requested(session, outcome.task_id, now=ctx.clock())
    if outcome.created and outcome.outcome in ("accept", "review"):
        close_tasks_awaiting(session, row.id, now=ctx.clock())  # this mail is the new photo
    status, folder = RESULT[decision.outcome]
    note = ledger_note(submission, mail, status)
    finish(row, status=status, folder=folder, error=note)
    codes = ", ".join(decision.reason_codes)
    log.info("Mail verarbeitet: %s%s%s", status, f" ({codes})" if codes else "",
             f" – {note}" if note else "")  # fmt: skip
    return status


def ledger_note(submission: Submission, mail: MailDecision, status: str) -> str | None:
    """What the clerk reads in the ledger: why a mail was rejected, and its refused parts."""
    notes = []
    if status == "rejected":
        codes = dict.fromkeys((*mail.decision.reason_codes, *mail.match.reason_codes))
        notes.append("Abgelehnt: " + "; ".join(reasons.label(code) for code in codes))
    if submission.rejected_parts:
        notes.append("Teile abgelehnt: " + "; ".join(submission.rejected_parts))
    return " – ".join(notes) or None
