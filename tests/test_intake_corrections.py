"""A reply to our confirmation that corrects the value: a clerk task linked to the booked reading,
and a reply that fits. Pure judgement with plain strings; the whole path on both databases with the
confirmation really sent over SMTP (its Message-ID is what the customer's reply points at)."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from decimal import Decimal
from email.message import EmailMessage

import pytest
from sqlalchemy import select

from core.context import AppContext
from core.models import (
    ContractAccount,
    Customer,
    InboundMessage,
    Meter,
    Outbox,
    Photo,
    Reading,
    ReviewTask,
)
from core.settings import Settings
from core.types import MeterHint, MeterRead
from intake.corrections import judge_reply
from matching import reasons
from matching.corrections import BookedReading
from matching.record import resolve_task
from notifications.dispatch import send_due
from review_ui.expectation import expectation_for as ui_expectation
from tests.fixtures_smtp import SmtpTestServer
from tests.readers import per_hint
from tests.samples import customer_mail, meter_photo, seed_meter
from tests.test_intake_pipeline import all_of, good_read, run_one

CUSTOMER = "erika@example.de"
JPEG = meter_photo("04521", seed=1)
OURS = "Guten Tag Erika Mustermann,\n\n  Zählerstand:   4.521 m³\n  Ablesedatum:   20.11.2026\n"
BOOKED = BookedReading(
    reading_id=7, ledger_id=3, meter_id=1, meter_number="12345678", kind="water",
    register="1.8.0", value=Decimal(4521), unit="m3", decimal_digits=0,
    read_on=dt.date(2026, 11, 20), photo_id=2, confirmation_text=OURS,
)  # fmt: skip


@pytest.mark.parametrize(
    ("body", "has_photo", "new_value"),
    [
        ("der Stand ist falsch, richtig ist 00123", False, "123"),
        ("Der Stand ist falsch, richtig ist 4.512\n> Zählerstand:   4.521 m³", False, "4512"),
        ("Es sind 4.512 m³.\n" + OURS, False, "4512"),  # our lines quoted without '>'
        ("Bitte korrigieren, ich habe mich vertippt.", False, None),
        ("Der Stand stimmt nicht, neues Foto anbei", True, None),
    ],
)
def test_a_correction_is_read_from_the_customers_own_words(
    body: str, has_photo: bool, new_value: str | None
) -> None:
    correction = judge_reply(body, BOOKED, has_photo=has_photo)
    assert correction is not None
    assert correction.new_value == (Decimal(new_value) if new_value else None)
    assert correction.details() == {
        "corrects_reading_id": 7, "corrected_ledger_id": 3, "register": "1.8.0",
        "old_value": "4521", "new_value": new_value, "booked_photo_id": 2,
    }  # fmt: skip


@pytest.mark.parametrize(
    ("body", "has_photo"),
    [
        ("Vielen Dank!\n" + OURS, False),
        ("Anbei der Stand vom Gaszähler: 4.600", True),  # a new photo and reading, no complaint
        ("Danke, der Zählerstand 4.521 stimmt so.", False),
    ],
)
def test_other_replies_to_a_confirmation_are_no_correction(body: str, has_photo: bool) -> None:
    assert judge_reply(body, BOOKED, has_photo=has_photo) is None


def _booked(
    reading_id: int, meter: str, kind: str, register: str, value: str, unit: str
) -> BookedReading:
    return replace(
        BOOKED, reading_id=reading_id, meter_id=reading_id, meter_number=meter, kind=kind,
        register=register, value=Decimal(value), unit=unit,
    )  # fmt: skip


WATER = _booked(11, "W123", "water", "1.8.0", "401.234", "m3")
GAS = _booked(12, "GAS-0815", "gas", "1.8.0", "4615.123", "m3")
HT = _booked(13, "1ESY1160123456", "electricity", "1.8.1", "17512.3", "kWh")
NT = _booked(14, "1ESY1160123456", "electricity", "1.8.2", "8020.5", "kWh")


@pytest.mark.parametrize(
    ("booked", "body", "meant", "new_value"),
    [
        ((WATER, HT), "Der Stand vom Strom ist falsch, richtig ist 17.600,0 kWh", HT, "17600"),
        ((WATER, HT), "Falsch, es sind 17.600,0 kWh", HT, "17600"),  # the unit says which
        ((WATER, HT), "Der Wasserzähler stimmt nicht, richtig ist 402", WATER, "402"),
        ((HT, NT), "Der NT-Stand ist falsch, richtig ist 8.100,0", NT, "8100"),
        ((HT, NT), "Niedertarif bitte korrigieren", NT, None),
        ((HT, NT), "Zählwerk 1.8.2 ist falsch, richtig ist 8.100,0", NT, "8100"),
        ((WATER, GAS), "der Stand ist falsch, richtig ist 04621", GAS, "4621"),  # closest value
        ((WATER, GAS), "Zählernummer GAS-0815 stimmt nicht, richtig ist 403", GAS, "403"),
        ((WATER, HT), "Bitte korrigieren, ich habe mich vertippt.", WATER, None),  # not said: first
    ],
)
def test_a_correction_of_a_confirmation_with_several_readings_is_of_the_one_named(
    booked: tuple[BookedReading, ...], body: str, meant: BookedReading, new_value: str | None
) -> None:
    correction = judge_reply(body, booked, has_photo=False)
    assert correction is not None
    assert correction.booked == meant
    assert correction.new_value == (Decimal(new_value) if new_value else None)


@pytest.fixture
def confirmed(
    smtp_ctx: AppContext, smtp_server: SmtpTestServer
) -> tuple[AppContext, InboundMessage, EmailMessage]:
    """Erika's photo was booked (4521) and the confirmation went out over SMTP."""
    with smtp_ctx.sessions.begin() as session:
        seed_meter(session, email=CUSTOMER, account="123456789", meter="12345678")
    mail = customer_mail(sender=CUSTOMER, photos=[("z.jpg", JPEG)], message_id="<m1@kunde.example>")
    first = run_one(smtp_ctx, mail, good_read)
    assert first.status == "accepted"
    assert send_due(smtp_ctx).sent == 1
    [confirmation] = smtp_server.wait_for(1)
    return smtp_ctx, first, confirmation


def _reply(confirmation: EmailMessage, body: str) -> bytes:
    plain = confirmation.get_body(("plain",))
    assert plain is not None
    quoted = "\n".join("> " + line for line in plain.get_content().splitlines())
    return customer_mail(
        sender=f"Erika <{CUSTOMER}>",
        subject="Re: " + str(confirmation["Subject"]),
        body=f"{body}\n\nAm 20.11.2026 um 10:31 schrieb Zählerstand:\n{quoted}",
        extra_headers=[
            ("In-Reply-To", str(confirmation["Message-ID"])),
            ("References", f"<m1@kunde.example> {confirmation['Message-ID']}"),
        ],
    )


def test_a_correction_reply_becomes_a_task_linked_to_the_booked_reading(
    confirmed: tuple[AppContext, InboundMessage, EmailMessage], smtp_server: SmtpTestServer
) -> None:
    ctx, first, confirmation = confirmed
    row = run_one(ctx, _reply(confirmation, "Der Stand ist falsch, richtig ist 04512."), good_read)
    assert row.status == "review"
    [reading] = all_of(ctx, Reading)
    assert reading.value == Decimal(4521), "the booked reading stays until a clerk decides"
    [photo] = all_of(ctx, Photo)
    with ctx.sessions() as session:
        task = session.scalars(select(ReviewTask)).one()
        meter = session.scalars(select(Meter)).one()
    assert task.inbound_message_id == row.id and task.meter_id == meter.id
    assert task.reason_codes == [reasons.CORRECTION_REQUEST]
    assert task.proposed_value == Decimal(4512)
    assert task.photo_id == photo.id and photo.message_id == first.id  # the clerk sees the photo
    assert task.details == {
        "corrects_reading_id": reading.id, "corrected_ledger_id": first.id, "register": "1.8.0",
        "old_value": "4521", "new_value": "4512", "booked_photo_id": photo.id,
    }  # fmt: skip
    with ctx.sessions() as session:
        reply = session.scalars(select(Outbox).where(Outbox.inbound_message_id == row.id)).one()
    assert (reply.kind, reply.recipient) == ("correction_received", CUSTOMER)
    assert "Korrektur" in reply.subject and "12345678" in reply.subject
    assert "4.521 m³" in reply.body_text and "4.512 m³" in reply.body_text
    assert "Foto" not in reply.subject and "senden Sie uns" not in reply.body_text
    assert send_due(ctx).sent == 1
    [_, sent] = smtp_server.wait_for(2)
    assert sent["In-Reply-To"] == row.message_id


def test_a_correction_without_a_value_still_reaches_a_clerk(
    confirmed: tuple[AppContext, InboundMessage, EmailMessage],
) -> None:
    ctx, _, confirmation = confirmed
    row = run_one(ctx, _reply(confirmation, "Der Zählerstand stimmt nicht."), good_read)
    assert row.status == "review"
    [task] = all_of(ctx, ReviewTask)
    assert task.reason_codes == [reasons.CORRECTION_REQUEST] and task.proposed_value is None
    assert task.details["old_value"] == "4521" and task.details["new_value"] is None
    [_, reply] = sorted(all_of(ctx, Outbox), key=lambda m: m.id)
    assert reply.kind == "correction_received" and "Ihre Angabe jetzt" not in reply.body_text


def test_a_thank_you_reply_is_no_correction(
    confirmed: tuple[AppContext, InboundMessage, EmailMessage],
) -> None:
    ctx, _, confirmation = confirmed
    row = run_one(ctx, _reply(confirmation, "Vielen Dank!"), good_read)
    assert row.status == "rejected"  # nothing to book, nothing to correct
    assert all_of(ctx, ReviewTask) == []


def test_the_clerk_booking_the_correction_supersedes_the_confirmed_reading(
    confirmed: tuple[AppContext, InboundMessage, EmailMessage],
) -> None:
    ctx, first, confirmation = confirmed
    run_one(ctx, _reply(confirmation, "Der Stand ist falsch, richtig ist 04512."), good_read)
    [task] = all_of(ctx, ReviewTask)
    with ctx.sessions.begin() as session:
        resolution = resolve_task(
            session, task.id, action="accept", value=None, meter_id=None, clerk="anna",
            now=ctx.clock(),
        )  # fmt: skip
    with ctx.sessions() as session:
        readings = {r.id: r for r in session.scalars(select(Reading))}
    old = next(r for r in readings.values() if r.inbound_message_id == first.id)
    new = readings[resolution.reading_id]  # type: ignore[index]
    assert (old.status, new.status) == ("superseded", "accepted")
    assert new.corrects_id == old.id
    assert (new.value, new.read_on) == (Decimal(4512), old.read_on)
    assert resolution.read_on == old.read_on


WATER_JPEG = meter_photo("00401", "234", seed=2)
LCD_JPEG = meter_photo("17512", "3", seed=3)  # stands for the display photo: the reader decides


@per_hint
def _two_meters_read(data: bytes, hint: MeterHint, settings: Settings) -> MeterRead:
    if data == WATER_JPEG and hint.display == "drum":
        return MeterRead(reading="00401", fraction="234", confidence=0.99, accepted=True,
                         display="drum")  # fmt: skip
    if data == LCD_JPEG and hint.display == "lcd":
        return MeterRead(reading="017512", fraction="3", confidence=0.99, accepted=True,
                         display="lcd", unit="kWh")  # fmt: skip
    return MeterRead(reading=None, reason="no_counter")


def _seed_two_meters(ctx: AppContext) -> None:
    """Erika's water meter (drums) and electricity meter (display), each with two years of
    readings."""
    with ctx.sessions.begin() as session:
        customer = Customer(name="Erika Mustermann", email=CUSTOMER, language="de")
        account = ContractAccount(number="100200300", customer=customer)
        water = Meter(number="W123", account=account, kind="water", unit="m3", integer_digits=5,
                      decimal_digits=3, registers="1.8.0", display="drum")  # fmt: skip
        power = Meter(number="1ESY1160123456", account=account, kind="electricity",
                      unit="kWh", integer_digits=6, decimal_digits=1, registers="1.8.0",
                      display="lcd")  # fmt: skip
        session.add_all([customer, account, water, power])
        for meter, values in ((water, ("200", "300")), (power, ("12500", "15000"))):
            for years_ago, value in zip((2, 1), values, strict=True):
                session.add(Reading(
                    meter=meter, register="1.8.0", value=Decimal(value), source="import",
                    read_on=dt.date(2026 - years_ago, 11, 20), accepted_by="import",
                ))  # fmt: skip


def test_a_correction_of_one_of_two_confirmed_readings_goes_to_the_meter_named(
    smtp_ctx: AppContext, smtp_server: SmtpTestServer
) -> None:
    ctx = smtp_ctx
    _seed_two_meters(ctx)
    mail = customer_mail(
        sender=CUSTOMER, photos=[("wasser.jpg", WATER_JPEG), ("strom.jpg", LCD_JPEG)],
        message_id="<m1@kunde.example>",
    )  # fmt: skip
    first = run_one(ctx, mail, _two_meters_read)
    assert first.status == "accepted"
    assert send_due(ctx).sent == 1
    [confirmation] = smtp_server.wait_for(1)
    body = "Der Stand vom Strom ist falsch, richtig ist 17.600,0 kWh"
    row = run_one(ctx, _reply(confirmation, body), _two_meters_read)
    assert row.status == "review"
    with ctx.sessions() as session:
        power = session.scalars(select(Meter).where(Meter.kind == "electricity")).one()
        booked = session.scalars(
            select(Reading).where(Reading.meter_id == power.id, Reading.source == "photo")
        ).one()
        task = session.scalars(select(ReviewTask)).one()
        reply = session.scalars(select(Outbox).where(Outbox.inbound_message_id == row.id)).one()
    assert task.meter_id == power.id and task.proposed_value == Decimal(17600)
    assert (task.details or {}).get("corrects_reading_id") == booked.id
    assert task.photo_id == booked.photo_id  # the clerk sees the electricity photo
    assert "1ESY1160123456" in reply.subject and "W123" not in reply.body_text
    assert "17.512,3 kWh" in reply.body_text and "17.600,0 kWh" in reply.body_text


NT_JPEG = meter_photo("8020", "5", seed=4)  # stands for the display photo: the reader decides


@per_hint
def _nt_read(data: bytes, hint: MeterHint, settings: Settings) -> MeterRead:
    if data == NT_JPEG and hint.display == "lcd":
        return MeterRead(reading="008020", fraction="5", confidence=0.99, accepted=True,
                         display="lcd", unit="kWh", obis="1.8.2")  # fmt: skip
    return MeterRead(reading=None, reason="no_counter")


def test_a_clerk_booking_the_correction_of_a_low_tariff_reading_books_that_register(
    smtp_ctx: AppContext, smtp_server: SmtpTestServer
) -> None:
    ctx = smtp_ctx
    with ctx.sessions.begin() as session:
        customer = Customer(name="Erika Mustermann", email=CUSTOMER, language="de")
        account = ContractAccount(number="100200300", customer=customer)
        meter = Meter(number="1ESY1160123456", account=account, kind="electricity", unit="kWh",
                      integer_digits=6, decimal_digits=1, registers="1.8.1,1.8.2",
                      display="lcd")  # fmt: skip
        session.add_all([customer, account, meter])
        for register, values in (("1.8.1", ("12500", "15000")), ("1.8.2", ("6000", "7000"))):
            for years_ago, value in zip((2, 1), values, strict=True):
                session.add(Reading(
                    meter=meter, register=register, value=Decimal(value), source="import",
                    read_on=dt.date(2026 - years_ago, 11, 20), accepted_by="import",
                ))  # fmt: skip
    mail = customer_mail(
        sender=CUSTOMER, photos=[("nt.jpg", NT_JPEG)], message_id="<m1@kunde.example>"
    )
    assert run_one(ctx, mail, _nt_read).status == "accepted"
    assert send_due(ctx).sent == 1
    [confirmation] = smtp_server.wait_for(1)
    body = "Der Stand ist falsch, richtig ist 8.100,0"
    assert run_one(ctx, _reply(confirmation, body), _nt_read).status == "review"
    [task] = all_of(ctx, ReviewTask)
    notice = max(all_of(ctx, Outbox), key=lambda m: m.id)
    assert notice.kind == "correction_received"
    assert "Zählwerk:          1.8.2\n  Bisher übernommen:  8.020,5 kWh" in notice.body_text
    assert "<td" in (notice.body_html or "") and ">1.8.2</td>" in (notice.body_html or "")
    with ctx.sessions() as session:
        meter = session.scalars(select(Meter)).one()
        form = ui_expectation(session, meter, dt.date(2026, 11, 20), task=task)
    assert form.last is not None and form.last.value == Decimal(7000)  # NT before the booking
    with ctx.sessions.begin() as session:
        resolution = resolve_task(
            session, task.id, action="accept", value=None, meter_id=None, clerk="anna",
            now=ctx.clock(),
        )  # fmt: skip
    assert resolution.warnings == ()  # 8.100,0 fits the NT history: nothing to confirm
    booked = {(r.register, r.status): r.value for r in all_of(ctx, Reading) if r.source != "import"}
    assert booked == {
        ("1.8.2", "superseded"): Decimal("8020.5"), ("1.8.2", "accepted"): Decimal(8100),
    }  # fmt: skip


def test_a_correction_of_a_reading_sent_twice_corrects_the_one_booked(
    confirmed: tuple[AppContext, InboundMessage, EmailMessage], smtp_server: SmtpTestServer
) -> None:
    """The same value sent again the same day is booked once; its second confirmation still
    names that reading, so a correction replying to it is linked to it."""
    ctx, first, _ = confirmed
    again = customer_mail(
        sender=CUSTOMER, photos=[("z2.jpg", meter_photo("04521", seed=5))],
        message_id="<m2@kunde.example>",
    )  # fmt: skip
    second = run_one(ctx, again, good_read)
    assert second.status == "accepted"
    [reading] = all_of(ctx, Reading)
    assert reading.inbound_message_id == first.id
    assert send_due(ctx).sent == 1
    [_, confirmation] = smtp_server.wait_for(2)
    row = run_one(ctx, _reply(confirmation, "Der Stand ist falsch, richtig ist 04512."), good_read)
    assert row.status == "review"
    [task] = all_of(ctx, ReviewTask)
    assert task.reason_codes == [reasons.CORRECTION_REQUEST]
    assert task.details["corrects_reading_id"] == reading.id
    assert task.details["old_value"] == "4521" and task.details["new_value"] == "4512"
