"""Bounces are attributed by the envelope sender (VERP) even when they quote nothing: the real SMTP
server sees `local+bounce-<id>@domain`, and a plain-text notice sent back to that address marks
the right customer through the real pipeline. A delayed (soft) bounce marks nobody. SQLite and
PostgreSQL (the `ctx` fixture)."""

from __future__ import annotations

import dataclasses

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.context import AppContext
from core.db import transaction
from core.models import Customer, Outbox
from notifications.dispatch import send_due
from notifications.headers import message_ids_from_verp, verp_address
from notifications.outbox import enqueue
from tests.fixtures_smtp import SmtpTestServer
from tests.samples import seed_meter
from tests.test_intake_mime import DSN
from tests.test_intake_pipeline import run_one

CUSTOMER, OTHER = "erika@example.de", "john@example.de"


def test_verp_address_round_trip() -> None:
    mail_from = "Zählerstand <zaehlerstand@stadtwerke.example>"
    message_id = "<mi.0123456789abcdef0123456789abcdef@stadtwerke.example>"
    address = verp_address(mail_from, message_id)
    assert address == "zaehlerstand+bounce-0123456789abcdef0123456789abcdef@stadtwerke.example"
    assert message_ids_from_verp(f"Erika <{address}>") == (message_id,)
    assert verp_address(mail_from, "<foreign@example.org>") is None
    assert message_ids_from_verp("zaehlerstand@stadtwerke.example") == ()


def _remind(session: Session, ctx: AppContext, address: str, meter: str) -> None:
    context = {"meters": [{"number": meter, "kind": "water"}],
               "due_from": ctx.today(), "due_to": ctx.today()}  # fmt: skip
    assert enqueue(session, kind="reminder", recipient=address, language="de", context=context,
                   idempotency_key=f"reminder:test:{address}", now=ctx.clock())  # fmt: skip


def _plain_notice(to: str) -> bytes:
    return (
        f"From: MAILER-DAEMON@mx.example.de\nTo: {to}\nSubject: Mail delivery failed\n"
        "Content-Type: text/plain; charset=utf-8\n\n"
        "This message was created automatically by mail delivery software.\n"
        "A message that you sent could not be delivered to one or more of its recipients.\n"
    ).encode()


def test_a_bounce_quoting_nothing_marks_the_address_it_was_sent_to(
    smtp_ctx: AppContext, smtp_server: SmtpTestServer
) -> None:
    with transaction(smtp_ctx.sessions) as session:
        seed_meter(session, email=CUSTOMER, account="111", meter="M-1")
        seed_meter(session, email=OTHER, account="222", meter="M-2")
        _remind(session, smtp_ctx, CUSTOMER, "M-1")
        _remind(session, smtp_ctx, OTHER, "M-2")
    assert send_due(smtp_ctx).sent == 2
    smtp_server.wait_for(2)
    sent = {mail.rcpt_tos[0]: mail for mail in smtp_server.received}
    envelope = sent[CUSTOMER].mail_from
    assert envelope.startswith("zaehlerstand+bounce-") and envelope.endswith("@stadtwerke.example")
    assert message_ids_from_verp(envelope) == (str(sent[CUSTOMER].message["Message-ID"]),)

    row = run_one(smtp_ctx, _plain_notice(envelope))
    assert row.status == "ignored"
    with smtp_ctx.sessions() as session:
        marked = {
            c.email: c.email_bounced_at is not None for c in session.scalars(select(Customer))
        }
    assert marked == {CUSTOMER: True, OTHER: False}


def test_a_delayed_notice_to_the_verp_address_marks_nobody(
    smtp_ctx: AppContext, smtp_server: SmtpTestServer
) -> None:
    with transaction(smtp_ctx.sessions) as session:
        seed_meter(session, email=CUSTOMER, account="111", meter="M-1")
        _remind(session, smtp_ctx, CUSTOMER, "M-1")
    assert send_due(smtp_ctx).sent == 1
    smtp_server.wait_for(1)
    envelope = smtp_server.received[0].mail_from
    delayed = DSN.replace(b"To: zaehlerstand@stadtwerke.example", f"To: {envelope}".encode())
    delayed = delayed.replace(b"kunde@example.de", b"someone@example.de")
    delayed = delayed.replace(b"later@example.de", CUSTOMER.encode())  # Action: delayed
    assert run_one(smtp_ctx, delayed).status == "ignored"
    with smtp_ctx.sessions() as session:
        customer = session.scalars(select(Customer)).one()
        assert customer.email_bounced_at is None
        assert session.scalars(select(Outbox.status)).all() == ["sent"]


def test_without_verp_the_envelope_sender_is_the_from_address(
    smtp_ctx: AppContext, smtp_server: SmtpTestServer
) -> None:
    settings = smtp_ctx.settings.model_copy(update={"verp_bounces": False})
    ctx = dataclasses.replace(smtp_ctx, settings=settings)
    with transaction(ctx.sessions) as session:
        _remind(session, ctx, CUSTOMER, "M-1")
    assert send_due(ctx).sent == 1
    smtp_server.wait_for(1)
    assert smtp_server.received[0].mail_from == "zaehlerstand@stadtwerke.example"
