"""The pipeline on one mail at a time, with a stand-in OCR reader (the seam) and both databases."""

from __future__ import annotations

import datetime as dt
import logging
import mailbox
import struct
import zlib
from collections.abc import Sequence
from dataclasses import replace
from decimal import Decimal
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from core.blobstore import BlobStore
from core.context import AppContext
from core.db import transaction
from core.errors import ToolMissingError
from core.logging_setup import current_mail
from core.models import Customer, InboundMessage, OcrResult, Outbox, Photo, Reading, ReviewTask
from core.settings import Settings
from core.types import DigitRead, MeterHint, MeterRead
from intake.claims import claim_next
from intake.ledger import fetch_new
from intake.maildir import MaildirSource
from intake.pipeline import Reader, process_one
from tests.conftest import FrozenClock
from tests.readers import per_hint
from tests.samples import customer_mail, meter_photo, seed_meter
from tests.test_intake_mime import DSN

CUSTOMER = "erika@example.de"
JPEG = meter_photo("04521", seed=1)


@per_hint
def good_read(data: bytes, hint: MeterHint, settings: Settings) -> MeterRead:
    return MeterRead(reading="04521", confidence=0.99, accepted=True, seconds=0.1)


@per_hint
def unsure_read(data: bytes, hint: MeterHint, settings: Settings) -> MeterRead:
    return MeterRead(reading="04521", confidence=0.3, accepted=False, reason="low_confidence")


def png_bomb(width: int = 50_000, height: int = 50_000) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    idat = zlib.compress(b"\0" * 1024)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
    )


@pytest.fixture
def seeded(ctx: AppContext) -> AppContext:
    with ctx.sessions.begin() as session:
        seed_meter(session, email=CUSTOMER, account="123456789", meter="12345678")
    return ctx


def run_one(ctx: AppContext, raw: bytes, reader: Reader = good_read) -> InboundMessage:
    path = ctx.settings.effective_maildir
    path.parent.mkdir(parents=True, exist_ok=True)
    mailbox.Maildir(path, create=True).add(raw)
    fetch_new(ctx, MaildirSource(path))
    claim = claim_next(ctx)
    assert claim is not None
    process_one(ctx, claim, reader=reader)
    with ctx.sessions() as session:
        row = session.get(InboundMessage, claim.ledger_id)
        assert row is not None
        return row


def all_of(ctx: AppContext, model: type) -> list[Any]:
    with ctx.sessions() as session:
        return list(session.scalars(select(model)))


def test_accepted_photo_books_reading_and_queues_confirmation(seeded: AppContext) -> None:
    seen: list[int | None] = []

    @per_hint
    def reader(data: bytes, hint: MeterHint, settings: Settings) -> MeterRead:
        seen.append(current_mail.get())
        assert hint == MeterHint(5, "drum", 0)  # one water meter: drums, 5 digits, no decimals
        return good_read(data, [hint], settings)[0]

    raw = customer_mail(sender=f"Erika <{CUSTOMER}>", photos=[("z.jpg", JPEG)], message_id="<a@b>")
    row = run_one(seeded, raw, reader)
    assert (row.status, row.target_folder, row.error) == ("accepted", "Processed", None)
    assert seen == [row.id]  # log lines during OCR are tagged with the ledger id
    [reading] = all_of(seeded, Reading)
    assert (reading.value, reading.inbound_message_id) == (Decimal("4521"), row.id)
    [photo] = all_of(seeded, Photo)
    assert photo.message_id == row.id and photo.phash and len(photo.phash) == 16
    assert seeded.blobs.get(photo.sha256) == JPEG
    [ocr] = all_of(seeded, OcrResult)
    assert (ocr.photo_id, ocr.reading, ocr.accepted) == (photo.id, "04521", True)
    [mail] = all_of(seeded, Outbox)
    assert (mail.kind, mail.recipient, mail.in_reply_to) == ("confirmation", CUSTOMER, "<a@b>")


def test_ocr_row_keeps_the_counter_and_digit_boxes(seeded: AppContext) -> None:
    counter = ((10.0, 20.0), (110.0, 20.0), (110.0, 50.0), (10.0, 50.0))
    digits = tuple(((10.0 + 20 * i, 20.0), (30.0 + 20 * i, 20.0), (30.0 + 20 * i, 50.0),
                    (10.0 + 20 * i, 50.0)) for i in range(5))  # fmt: skip
    read = MeterRead(
        reading="04521", confidence=0.3, reason="low_confidence", counter_box=counter,
        digit_boxes=digits, digits=(DigitRead(0, 0.9, ((0, 0.9), (8, 0.07))),) * 5,
    )  # fmt: skip
    run_one(
        seeded, customer_mail(sender=CUSTOMER, photos=[("z.jpg", JPEG)]), per_hint(lambda *_: read)
    )
    [ocr] = all_of(seeded, OcrResult)
    assert ocr.details["counter_box"] == [list(p) for p in counter]
    assert ocr.details["digit_boxes"][4] == [list(p) for p in digits[4]]
    assert ocr.details["digits"][0] == [0, 0.9, [[0, 0.9], [8, 0.07]]]


@pytest.mark.parametrize(
    ("meters", "hints"),
    [
        ([("electricity", "lcd")], [MeterHint(6, "lcd", 0)]),
        ([("electricity", None)], [MeterHint(6, None, 0)]),  # drums or a display: not known
        ([("heat", None)], [MeterHint(6, "lcd", 0)]),
        # the photo is read as each of the customer's meters would show it
        (
            [("electricity", "lcd"), ("water", None)],
            [MeterHint(6, "lcd", 0), MeterHint(6, "drum", 0)],
        ),
        ([("water", None), ("gas", None)], [MeterHint(6, "drum", 0)]),  # one read serves both
    ],
)
def test_the_reader_learns_the_senders_meter_from_master_data(
    ctx: AppContext, meters: list[tuple[str, str | None]], hints: list[MeterHint]
) -> None:
    with ctx.sessions.begin() as session:
        for n, (kind, display) in enumerate(meters):
            unit = "m3" if kind == "water" else "kWh"
            seed_meter(
                session, email=f"m{n}@example.de", account=f"A{n}", meter=f"M{n}", kind=kind,
                unit=unit, integer_digits=6, display=display,
            )  # fmt: skip
        if len(meters) > 1:
            for customer in session.scalars(select(Customer)):
                customer.email = "m0@example.de"
    calls: list[list[MeterHint]] = []

    def reader(data: bytes, asked: Sequence[MeterHint], settings: Settings) -> list[MeterRead]:
        calls.append(list(asked))
        return unsure_read(data, asked, settings)

    run_one(ctx, customer_mail(sender="m0@example.de", photos=[("z.jpg", JPEG)]), reader)
    [asked] = calls  # the photo is read once, under all of the sender's hints
    assert sorted(asked, key=str) == sorted(hints, key=str)


def test_the_ocr_reader_reads_each_hint_as_a_read_meter_call_of_its_own() -> None:
    from intake.pipeline import ocr_reader
    from ocr import read_meter

    photo = meter_photo("04521", seed=1)
    hints = [MeterHint(5, "drum"), MeterHint(6, "lcd"), MeterHint(6, None), MeterHint()]
    at_once = ocr_reader(photo, hints, Settings())
    alone = [read_meter(photo, integer_digits=h.integer_digits, display=h.display) for h in hints]
    assert [replace(r, seconds=0.0) for r in at_once] == [replace(r, seconds=0.0) for r in alone]
    assert (at_once[0].reading, at_once[0].accepted) == ("04521", True)


def test_the_ocr_reader_passes_each_meters_decimal_digits() -> None:
    """A Ferraris meter's single red drum is its tenth drum where master data gives one decimal:
    the hint with it reads surer than the same meter's hint without it, in the same call."""
    import cv2

    from intake.pipeline import ocr_reader
    from ocr.synth_drums import random_meter

    sample = random_meter("ferraris", 1, extras=False)
    photo = cv2.imencode(".png", sample.image)[1].tobytes()
    told, plain = (
        MeterHint(sample.integer_digits, "drum", 1),
        MeterHint(sample.integer_digits, "drum"),
    )
    got = ocr_reader(photo, [plain, told], Settings())
    assert [r.reading for r in got] == [sample.reading, sample.reading]
    assert got[1].confidence > got[0].confidence and got[1].fraction == sample.fraction


def test_unsure_read_goes_to_review_with_notice(seeded: AppContext) -> None:
    row = run_one(seeded, customer_mail(sender=CUSTOMER, photos=[("z.jpg", JPEG)]), unsure_read)
    assert (row.status, row.target_folder) == ("review", "Needs-Review")
    [task] = all_of(seeded, ReviewTask)
    assert task.inbound_message_id == row.id and task.photo_id is not None
    assert [m.kind for m in all_of(seeded, Outbox)] == ["received_review"]
    assert all_of(seeded, Reading) == []


def test_no_photo_is_rejected_with_resend_request(seeded: AppContext) -> None:
    row = run_one(seeded, customer_mail(sender=CUSTOMER, body="Hallo, wie geht es?"))
    assert (row.status, row.target_folder) == ("rejected", "Rejected")
    [mail] = all_of(seeded, Outbox)
    assert mail.kind == "resend_request" and mail.recipient == CUSTOMER


def test_unknown_sender_gets_no_reply_but_a_clerk_sees_the_mail(seeded: AppContext) -> None:
    raw = customer_mail(sender="fremd@example.org", photos=[("z.jpg", JPEG)])
    row = run_one(seeded, raw)
    assert row.status == "review"
    [task] = all_of(seeded, ReviewTask)
    assert task.inbound_message_id == row.id and "unknown_sender" in task.reason_codes
    assert all_of(seeded, Outbox) == []


def test_unknown_sender_gets_resend_request_where_the_setting_allows(seeded: AppContext) -> None:
    seeded.settings.reply_to_unknown_senders = True
    raw = customer_mail(sender="fremd@example.org", photos=[("z.jpg", JPEG)])
    row = run_one(seeded, raw)
    assert row.status in ("review", "rejected")
    [mail] = all_of(seeded, Outbox)
    assert (mail.kind, mail.recipient) == ("resend_request", "fremd@example.org")


def test_auto_reply_and_bounce_are_ignored_without_reply(seeded: AppContext) -> None:
    auto = customer_mail(
        sender=CUSTOMER,
        photos=[("z.jpg", JPEG)],
        extra_headers=[("Auto-Submitted", "auto-replied")],
    )
    assert run_one(seeded, auto).status == "ignored"
    forged = DSN.replace(b"kunde@example.de", CUSTOMER.encode())
    row = run_one(seeded, forged)
    assert (row.status, row.target_folder) == ("ignored", "Processed")
    assert all_of(seeded, Outbox) == [] and all_of(seeded, Photo) == []
    [customer] = all_of(seeded, Customer)
    assert customer.email_bounced_at is None, "a bounce quoting no mail of ours is not believed"

    with transaction(seeded.sessions) as session:
        session.add(Outbox(kind="confirmation", recipient=CUSTOMER, subject="s", body_text="b",
                           idempotency_key="confirmation:99", status="sent",
                           message_id="<reply-1@stadtwerke.example>"))  # fmt: skip
    quoting = forged.replace(
        b"Subject: Ihr Zaehlerstand", b"Message-ID: <reply-1@stadtwerke.example>\nSubject: Ihr Z"
    )
    assert run_one(seeded, quoting).status == "ignored"
    [customer] = all_of(seeded, Customer)
    assert customer.email_bounced_at is not None


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"\xff\xfe\x00garbage\r\n\r\n\x80\x81",
        customer_mail(sender=CUSTOMER, subject="<script>alert(1)</script>", body="<b>hi</b>"),
        b"From: =?utf-8?q?x=0D=0ABcc:_a@b.c?= <erika@example.de>\r\n"
        b"Subject: a\r\n\tBcc: victim@example.org\r\n\r\nhallo",
        customer_mail(sender=CUSTOMER, photos=[("bomb.png", png_bomb())]),
        customer_mail(sender=CUSTOMER, photos=[("kaputt.jpg", b"\xff\xd8\xff\xe0garbage")]),
    ],
    ids=["empty", "binary", "html-subject", "header-injection", "bomb", "corrupt"],
)
def test_hostile_mail_does_not_crash_the_pipeline(seeded: AppContext, raw: bytes) -> None:
    from intake.pipeline import ocr_reader

    row = run_one(seeded, raw, ocr_reader)
    assert row.status in ("rejected", "review", "ignored"), row.error
    for mail in all_of(seeded, Outbox):
        assert mail.recipient == CUSTOMER and "\n" not in mail.subject


def test_corrupt_photo_asks_for_a_new_one(seeded: AppContext) -> None:
    from intake.pipeline import ocr_reader

    raw = customer_mail(sender=CUSTOMER, photos=[("kaputt.jpg", b"\xff\xd8\xff\xe0garbage")])
    run_one(seeded, raw, ocr_reader)
    [mail] = all_of(seeded, Outbox)
    assert mail.kind == "resend_request"


class PhotoStoreDown(BlobStore):
    """The blob store fails for photos (`error`) while raw mails still go in."""

    error: Exception = RuntimeError("kaputt")

    def put(self, data: bytes) -> str:
        if data == JPEG:
            raise self.error
        return super().put(data)


def test_failure_rolls_back_and_is_recorded(seeded: AppContext) -> None:
    seeded.blobs = PhotoStoreDown(seeded.settings.effective_blob_dir)
    row = run_one(seeded, customer_mail(sender=CUSTOMER, photos=[("z.jpg", JPEG)]))
    assert (row.status, row.attempts) == ("new", 1)
    assert row.error and "kaputt" in row.error and "Traceback" in row.error
    assert row.next_attempt_at is not None and row.target_folder is None
    assert all_of(seeded, Photo) == [] and all_of(seeded, Outbox) == []  # rolled back


def test_a_full_disk_is_raised_to_the_worker_and_not_recorded_as_the_mails_failure(
    seeded: AppContext,
) -> None:
    store = PhotoStoreDown(seeded.settings.effective_blob_dir)
    store.error = OSError(28, "No space left on device")
    seeded.blobs = store
    with pytest.raises(OSError, match="No space left"):
        run_one(seeded, customer_mail(sender=CUSTOMER, photos=[("z.jpg", JPEG)]))
    [row] = all_of(seeded, InboundMessage)
    assert (row.status, row.error) == ("processing", None)  # the worker hands it back
    assert all_of(seeded, Photo) == [] and all_of(seeded, Outbox) == []  # rolled back


def test_photo_crash_degrades_to_review(seeded: AppContext) -> None:
    @per_hint
    def crash(data: bytes, hint: MeterHint, settings: Settings) -> MeterRead:
        raise RuntimeError("segfault-ish")

    row = run_one(seeded, customer_mail(sender=CUSTOMER, photos=[("z.jpg", JPEG)]), crash)
    assert row.status == "review"
    [ocr] = all_of(seeded, OcrResult)
    assert ocr.reason == "ocr_error: RuntimeError"


def test_missing_tool_releases_the_claim(seeded: AppContext, tmp_path: Path) -> None:
    @per_hint
    def missing(data: bytes, hint: MeterHint, settings: Settings) -> MeterRead:
        raise ToolMissingError("tesseract fehlt")

    with pytest.raises(ToolMissingError):
        run_one(seeded, customer_mail(sender=CUSTOMER, photos=[("z.jpg", JPEG)]), missing)
    [row] = all_of(seeded, InboundMessage)
    assert (row.status, row.attempts) == ("new", 0)


def test_reading_is_dated_by_the_berlin_day_the_mail_arrived(
    seeded: AppContext, clock: FrozenClock
) -> None:
    """Received 23:50 Berlin, processed after midnight (or retried later): the reading keeps the
    day the customer sent it, as a clerk's booking of the same mail would (matching.review)."""
    clock.now = dt.datetime(2026, 11, 20, 22, 50, tzinfo=dt.UTC)
    path = seeded.settings.effective_maildir
    path.parent.mkdir(parents=True, exist_ok=True)
    mailbox.Maildir(path, create=True).add(customer_mail(sender=CUSTOMER, photos=[("z.jpg", JPEG)]))
    fetch_new(seeded, MaildirSource(path))
    clock.advance(minutes=30)  # 00:20 in Berlin, 21 November
    claim = claim_next(seeded)
    assert claim is not None
    assert process_one(seeded, claim, reader=good_read) == "accepted"
    [reading] = all_of(seeded, Reading)
    assert reading.read_on == dt.date(2026, 11, 20)
    [mail] = all_of(seeded, Outbox)
    assert "20.11.2026" in mail.body_text and "21.11.2026" not in mail.body_text


def test_a_rejected_mail_tells_the_clerk_why(
    seeded: AppContext, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="intake.pipeline")
    empty = run_one(seeded, b"")
    assert "Mail verarbeitet: rejected (no_content) – Abgelehnt: Weder Foto" in caplog.text
    assert empty.status == "rejected"
    assert empty.error is not None and empty.error.startswith(
        "Abgelehnt: Weder Foto noch Zählerstand in der Mail"
    )
    row = run_one(seeded, _with_pdf(customer_mail(sender=CUSTOMER, body="anbei als PDF")))
    assert row.status == "rejected"
    assert row.error == (
        "Abgelehnt: Weder Foto noch Zählerstand in der Mail – "
        "Teile abgelehnt: zaehler.pdf: Dateityp application/pdf wird nicht unterstützt"
    )


def _with_pdf(raw: bytes) -> bytes:
    import email
    from email import policy

    msg = email.message_from_bytes(raw, policy=policy.default)
    assert isinstance(msg, EmailMessage)
    msg.add_attachment(b"%PDF-1.4\n%%EOF", maintype="application", subtype="pdf",
                       filename="zaehler.pdf")  # fmt: skip
    return msg.as_bytes()


def test_our_own_mail_coming_back_is_named_a_loop(seeded: AppContext) -> None:
    own = customer_mail(sender="zaehlerstand@stadtwerke.example", photos=[("z.jpg", JPEG)])
    row = run_one(seeded, own)
    assert (row.status, row.error) == (
        "ignored",
        "von unserer eigenen Adresse zaehlerstand@stadtwerke.example (Mail-Schleife); "
        "nicht beantwortet",
    )
    assert all_of(seeded, Outbox) == []
