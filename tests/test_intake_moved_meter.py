"""Mails that waited in the queue while a master-data import moved their meter to another account
with a past date (`konto_ab`): the worker books, asks and replies as the account of the mail's day
says — to that account's customer, with that account's figures, never the other tenant's
(SQLite and PostgreSQL)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import mailbox
from pathlib import Path

import pytest
from sqlalchemy import select, update

from core.context import AppContext
from core.models import Outbox, Reading, ReviewTask
from core.settings import Settings
from core.types import MeterHint, MeterRead
from intake.ledger import fetch_new
from intake.worker import make_source, run_worker
from matching import reasons
from matching.masterdata import import_csv
from tests.conftest import FrozenClock
from tests.readers import per_hint
from tests.samples import customer_mail

ERIKA, JOHN, NEIGHBOUR = "erika@example.de", "john@example.de", "nachbar@example.de"
HEADER = (
    "vertragskonto;name;email;zaehlernummer;art;einheit;vorkommastellen;"
    "letzter_stand;letzter_stand_datum;konto_ab"
)
ERIKAS_ROWS = [  # two years of Erika's readings: her confirmation compares with them
    "111111111;Erika Mustermann;erika@example.de;11111111;Wasser;m3;5;4000;20.11.2024;",
    "111111111;Erika Mustermann;erika@example.de;11111111;Wasser;m3;5;4250;20.11.2025;",
]
JOHNS_ROW = "333333333;John Smith;john@example.de;11111111;Wasser;m3;5;;;22.11.2026"


@per_hint
def reader(data: bytes, hint: MeterHint, settings: Settings) -> MeterRead:
    """Photos say how they read by their last bytes: sure, unsure (LOW), unreadable (NONE),
    sure with the meter number on the plate (NUM)."""
    if data.endswith(b"NONE"):
        return MeterRead(reading=None, reason="no_counter")
    if data.endswith(b"LOW"):
        return MeterRead(reading="04521", confidence=0.31, accepted=False)
    number = "11111111" if data.endswith(b"NUM") else None
    return MeterRead(reading="04521", confidence=0.99, accepted=True, meter_number=number)


def _import(ctx: AppContext, path: Path, *rows: str) -> None:
    path.write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
    assert import_csv(ctx, path, progress=False).errors == []


def _mail(sender: str, photo: bytes, body: str = "Hallo,\nanbei mein Zählerstand.") -> bytes:
    return customer_mail(sender=sender, body=body, photos=[("zaehler.jpg", photo)])


def _queued_then_moved(
    ctx: AppContext, clock: FrozenClock, tmp_path: Path, *mails: bytes
) -> AppContext:
    """Erika's meter on file; `mails` arrive on 20.11. and wait; on 23.11. the import moves the
    meter to John from 22.11. on; then the worker processes the mails."""
    quiet = ctx.settings.model_copy(update={"smtp_enabled": False})
    work = dataclasses.replace(ctx, settings=quiet)
    _import(work, tmp_path / "erika.csv", *ERIKAS_ROWS)
    path = work.settings.effective_maildir
    path.parent.mkdir(parents=True, exist_ok=True)
    box = mailbox.Maildir(path, create=True)
    for raw in mails:
        box.add(raw)
    fetch_new(work, make_source(work.settings))
    clock.advance(days=3)
    _import(work, tmp_path / "john.csv", JOHNS_ROW)
    run_worker(work, once=True, reader=reader)
    return work


def _replies(ctx: AppContext) -> list[Outbox]:
    with ctx.sessions() as session:
        return list(session.scalars(select(Outbox).order_by(Outbox.id)))


def _photo_readings(ctx: AppContext) -> list[Reading]:
    with ctx.sessions() as session:
        return list(session.scalars(select(Reading).where(Reading.source == "photo")))


@pytest.mark.parametrize(
    ("photo", "kind"),
    [(b"sure", "confirmation"), (b"LOW", "received_review"), (b"NONE", "resend_request")],
)
def test_the_old_tenants_queued_mail_is_answered_to_her_with_her_figures(
    ctx: AppContext, clock: FrozenClock, tmp_path: Path, photo: bytes, kind: str
) -> None:
    work = _queued_then_moved(ctx, clock, tmp_path, _mail(ERIKA, b"\xff\xd8 photo " + photo))
    [reply] = _replies(work)
    assert (reply.kind, reply.recipient) == (kind, ERIKA)
    assert "Erika Mustermann" in reply.body_text and "John" not in reply.body_text
    if kind == "confirmation":  # booked on her day, compared with her own year before
        [reading] = _photo_readings(work)
        assert reading.read_on == dt.date(2026, 11, 20)
        assert "4.521 m³" in reply.body_text and "Vorjahr" in reply.body_text
        return
    with work.sessions() as session:
        task = session.scalars(select(ReviewTask)).one()
    [meter] = [c for c in task.candidates or [] if c["kind"] == "meter"]
    assert meter["account_number"] == "111111111"


def test_the_new_tenants_mail_from_before_his_move_books_nothing_and_shows_him_nothing_of_hers(
    ctx: AppContext, clock: FrozenClock, tmp_path: Path
) -> None:
    work = _queued_then_moved(ctx, clock, tmp_path, _mail(JOHN, b"\xff\xd8 johns photo"))
    assert _photo_readings(work) == []  # the day was Erika's: a clerk decides
    [reply] = _replies(work)
    assert (reply.kind, reply.recipient) == ("received_review", JOHN)
    assert "Erika" not in reply.body_text and "11111111" not in reply.body_text
    with work.sessions() as session:
        task = session.scalars(select(ReviewTask)).one()
    assert reasons.NO_METER in task.reason_codes


@pytest.mark.parametrize(
    ("photo", "body", "recipient"),
    [
        (b"NUM", "Anbei der Zählerstand.", ERIKA),  # the meter number on the plate
        (b"sure", "Vertragskonto 111111111", ERIKA),  # Erika's account on that day
        (b"sure", "Vertragskonto 333333333", NEIGHBOUR),  # John's only from 22.11.
    ],
)
def test_a_strangers_mail_is_answered_to_the_customer_of_the_mails_day(
    ctx: AppContext, clock: FrozenClock, tmp_path: Path, photo: bytes, body: str, recipient: str
) -> None:
    ctx = dataclasses.replace(
        ctx, settings=ctx.settings.model_copy(update={"reply_to_unknown_senders": True})
    )
    mail = _mail(NEIGHBOUR, b"\xff\xd8 photo " + photo, body=body)
    work = _queued_then_moved(ctx, clock, tmp_path, mail)
    [reply] = _replies(work)
    assert reply.recipient == recipient and "John" not in reply.body_text


def test_a_correction_of_the_old_tenants_reading_is_answered_to_her(
    ctx: AppContext, clock: FrozenClock, tmp_path: Path
) -> None:
    work = _queued_then_moved(ctx, clock, tmp_path, _mail(ERIKA, b"\xff\xd8 photo sure"))
    with work.sessions.begin() as session:  # the confirmation went out
        session.execute(update(Outbox).values(status="sent", message_id="<c1@stadtwerke.example>"))
    clock.advance(days=2)
    correction = customer_mail(
        sender=ERIKA, subject="Re: Zählerstand", body="Der Stand ist falsch, richtig ist 4.512",
        extra_headers=[("In-Reply-To", "<c1@stadtwerke.example>")],
    )  # fmt: skip
    work.settings.effective_maildir.parent.mkdir(parents=True, exist_ok=True)
    mailbox.Maildir(work.settings.effective_maildir).add(correction)
    run_worker(work, once=True, reader=reader)
    [_, reply] = _replies(work)
    assert (reply.kind, reply.recipient) == ("correction_received", ERIKA)
    assert "Erika Mustermann" in reply.body_text
