"""Replies only where they are safe: unknown senders, the address on file, no quoted attacker text,
one answer per mail also after re-delivery. Pure policy with plain strings; the pipeline on both
databases."""

from __future__ import annotations

import mailbox

import pytest
from sqlalchemy import select

from core.context import AppContext
from core.models import InboundMessage, Outbox, ReviewTask
from intake.claims import claim_next
from intake.ledger import fetch_new
from intake.maildir import MaildirSource
from intake.pipeline import Reader, process_one
from intake.reply_policy import ReplyTarget, reply_target
from tests.samples import customer_mail, meter_photo, seed_meter
from tests.test_intake_pipeline import all_of, good_read, run_one, unsure_read

ERIKA = "erika@example.de"
JANA = "jana@example.de"
STRANGER = "fremd@example.org"
JPEG = meter_photo("04521", seed=1)
HOSTILE = "<img src=x onerror=alert(1)>"


@pytest.mark.parametrize(
    ("facts", "expected"),
    [
        # unknown sender, nothing allowed: no reply at all, not even to the customer on file
        ((STRANGER, None, False, JANA, "Jana", False), ReplyTarget(None)),
        ((STRANGER, None, False, None, None, False), ReplyTarget(None)),
        # allowed: about a meter only to its customer's address, saying so; else to the sender
        ((STRANGER, None, False, JANA, "Jana", True), ReplyTarget(JANA, "Jana", True)),
        ((STRANGER, None, False, None, None, True), ReplyTarget(STRANGER)),
        # a known customer about their own meter, and about someone else's
        ((ERIKA, "Erika", True, "Erika@Example.de", "Erika", False),
         ReplyTarget("Erika@Example.de", "Erika", False)),
        ((ERIKA, "Erika", True, JANA, "Jana", False), ReplyTarget(JANA, "Jana", True)),
        ((ERIKA, "Erika", True, None, None, False), ReplyTarget(ERIKA, "Erika")),
        # the meter's customer has no address on file: nobody else is told about it
        ((ERIKA, "Erika", True, None, "Jana", False), ReplyTarget(None)),
    ],
)  # fmt: skip
def test_reply_target(facts: tuple[object, ...], expected: ReplyTarget) -> None:
    sender, name_on_file, on_file, email, name, allow = facts
    assert (
        reply_target(
            sender=sender, sender_name_on_file=name_on_file, sender_on_file=on_file,  # type: ignore[arg-type]
            customer_email=email, customer_name=name, allow_unknown=allow,  # type: ignore[arg-type]
        )
        == expected
    )  # fmt: skip


@pytest.fixture
def customers(ctx: AppContext) -> AppContext:
    with ctx.sessions.begin() as session:
        seed_meter(session, email=ERIKA, account="123456789", meter="12345678")
        seed_meter(session, email=JANA, account="987654321", meter="87654321", name="Jana Beispiel")
    return ctx


def _queued_text(ctx: AppContext) -> str:
    return "\n".join(
        f"{m.recipient}\n{m.subject}\n{m.body_text}\n{m.body_html}" for m in all_of(ctx, Outbox)
    )


def test_a_stranger_mailing_janas_meter_makes_us_mail_nobody(customers: AppContext) -> None:
    raw = customer_mail(
        sender=f"{HOSTILE} <{STRANGER}>", subject=f"{HOSTILE} Zählerstand",
        body="Zählernummer 87654321", photos=[("z.jpg", JPEG)],
    )  # fmt: skip
    row = run_one(customers, raw, good_read)
    assert row.status == "review"
    [task] = all_of(customers, ReviewTask)
    assert "unknown_sender" in task.reason_codes and task.meter_id is not None
    assert all_of(customers, Outbox) == []


def test_where_allowed_the_reply_about_janas_meter_goes_to_jana_and_says_so(
    customers: AppContext,
) -> None:
    customers.settings.reply_to_unknown_senders = True
    raw = customer_mail(
        sender=f"{HOSTILE} <{STRANGER}>", subject=f"{HOSTILE} Zählerstand",
        body="Zählernummer 87654321", photos=[("z.jpg", JPEG)], message_id="<evil@x>",
    )  # fmt: skip
    run_one(customers, raw, good_read)
    [mail] = all_of(customers, Outbox)
    assert (mail.kind, mail.recipient, mail.in_reply_to) == ("received_review", JANA, None)
    assert mail.body_text.startswith("Guten Tag Jana Beispiel,")
    assert "von einer anderen Adresse" in mail.body_text
    assert "von einer anderen Adresse" in (mail.body_html or "")
    assert STRANGER not in _queued_text(customers)
    assert "onerror" not in _queued_text(customers) and "img src" not in _queued_text(customers)


@pytest.mark.parametrize("reader", [good_read, unsure_read], ids=["confirmed", "review"])
def test_a_hostile_display_name_and_subject_never_appear_in_a_reply(
    customers: AppContext, reader: Reader
) -> None:
    raw = customer_mail(
        sender=f'"{HOSTILE} Bob" <{ERIKA}>', subject=f"<script>alert(1)</script> {HOSTILE}",
        photos=[("z.jpg", JPEG)],
    )  # fmt: skip
    run_one(customers, raw, reader)
    [mail] = all_of(customers, Outbox)
    assert mail.recipient == ERIKA
    assert mail.body_text.startswith("Guten Tag Erika Mustermann,")  # the name on file
    queued = _queued_text(customers)
    for fragment in ("onerror", "img src", "<script>", "&lt;script", "alert(1)", "Bob"):
        assert fragment not in queued
    assert "anderen Adresse" not in queued  # the sender is the address on file


def _deliver(ctx: AppContext, raw: bytes) -> None:
    path = ctx.settings.effective_maildir
    path.parent.mkdir(parents=True, exist_ok=True)
    mailbox.Maildir(path, create=True).add(raw)


def _work(ctx: AppContext) -> int:
    fetch_new(ctx, MaildirSource(ctx.settings.effective_maildir))
    done = 0
    while (claim := claim_next(ctx)) is not None:
        process_one(ctx, claim, reader=good_read)
        done += 1
    return done


def test_a_redelivered_mail_is_answered_once(customers: AppContext) -> None:
    raw = customer_mail(sender=ERIKA, photos=[("z.jpg", JPEG)], message_id="<once@kunde>")
    _deliver(customers, raw)
    _deliver(customers, b"Received: from relay2.example by mx.example\r\n" + raw)
    assert _work(customers) == 1
    _deliver(customers, b"Received: from relay3.example by mx.example\r\n" + raw)  # days later
    assert _work(customers) == 0
    [mail] = all_of(customers, Outbox)
    assert (mail.kind, mail.in_reply_to) == ("confirmation", "<once@kunde>")
    with customers.sessions() as session:
        statuses = sorted(session.scalars(select(InboundMessage.status)))
    assert statuses == ["accepted", "duplicate", "duplicate"]
