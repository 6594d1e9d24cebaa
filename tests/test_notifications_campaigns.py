"""Campaigns: who is due, idempotent start, follow-up timing on a frozen clock, finishing."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.context import AppContext
from core.db import transaction
from core.errors import UsageError
from core.models import (
    CampaignRecipient,
    ContractAccount,
    Customer,
    InboundMessage,
    Meter,
    Outbox,
    Reading,
    ReviewTask,
)
from notifications.campaigns import FOLLOWUP_AFTER, run_campaigns, start_campaign
from notifications.dispatch import send_due
from tests.conftest import FrozenClock
from tests.fixtures_smtp import SmtpTestServer

NOV_1, NOV_30 = dt.date(2026, 11, 1), dt.date(2026, 11, 30)


def _meter(
    session: Session, number: str, email: str | None = "x@example.org", **meter_kw: object
) -> Meter:
    bounced = meter_kw.pop("bounced_at", None)
    customer = Customer(name=f"Kunde {number}", email=email, email_bounced_at=bounced)
    account = ContractAccount(number=f"VK-{number}", customer=customer)
    meter = Meter(number=number, account=account, kind="electricity", unit="kWh",
                  integer_digits=6, decimal_digits=1, **meter_kw)  # fmt: skip
    session.add(meter)
    session.flush()
    return meter


def _reading(session: Session, meter: Meter, day: dt.date, status: str = "accepted") -> None:
    session.add(Reading(meter_id=meter.id, value=Decimal("100"), read_on=day, source="photo",
                        status=status))  # fmt: skip


def _populate(ctx: AppContext, clock: FrozenClock) -> None:
    with transaction(ctx.sessions) as session:
        _meter(session, "DUE-1", "due1@example.org")
        _reading(
            session, _meter(session, "DUE-OLD-READING", "due2@example.org"), dt.date(2026, 10, 1)
        )
        _reading(
            session,
            _meter(session, "DUE-REJECTED", "due3@example.org"),
            dt.date(2026, 11, 5),
            "rejected",
        )
        _reading(session, _meter(session, "HAS-READING", "read@example.org"), dt.date(2026, 11, 10))
        _meter(session, "NO-EMAIL", None)
        _meter(session, "EMPTY-EMAIL", "")
        _meter(session, "BOUNCED", "bounced@example.org", bounced_at=clock.now)
        _meter(session, "REMOVED", "removed@example.org", removed_on=dt.date(2026, 11, 15))
        _meter(session, "NOT-YET", "new@example.org", installed_on=dt.date(2026, 12, 1))
        _meter(session, "BAD-ADDRESS", "kaputt@")


def _reminders(ctx: AppContext) -> dict[str, str]:
    with ctx.sessions() as session:
        rows = session.scalars(select(Outbox).order_by(Outbox.id))
        return {row.idempotency_key: row.recipient for row in rows}


def test_start_queues_one_reminder_per_due_meter(ctx: AppContext, clock: FrozenClock) -> None:
    _populate(ctx, clock)
    result = start_campaign(ctx, "Jahresablesung 2026", due_from=NOV_1, due_to=NOV_30, actor="cli")
    # no address, an empty one, a bounced one and an invalid one: 4 meters the staff must reach
    # another way
    assert (result.created, result.queued, result.already, result.skipped) == (True, 3, 0, 4)
    assert sorted(_reminders(ctx).values()) == [
        "due1@example.org", "due2@example.org", "due3@example.org"]  # fmt: skip
    assert all(key.startswith(f"reminder:{result.campaign_id}:") for key in _reminders(ctx))
    with ctx.sessions() as session:
        recipients = session.scalars(select(CampaignRecipient)).all()
        # paced: the default of 600 mails an hour sends one every 6 seconds
        assert sorted((r.status, r.reminders_sent, r.last_reminded_at) for r in recipients) == [
            ("reminded", 1, clock.now + dt.timedelta(seconds=6 * i)) for i in range(3)]  # fmt: skip
        subject = session.scalars(select(Outbox.subject)).first()
    assert subject is not None and subject.startswith("Bitte teilen Sie uns Ihren Zählerstand mit")
    assert result.summary() == (
        "Kampagne „Jahresablesung 2026“ (01.11.2026 bis 30.11.2026) angelegt: "
        "3 Erinnerungen für 3 Zähler eingeplant, 0 Zähler waren schon dabei, 4 übersprungen "
        "(keine, ungültige oder unzustellbare E-Mail-Adresse), 0 abgemeldet."
    )


def test_starting_again_queues_nothing_twice(ctx: AppContext, clock: FrozenClock) -> None:
    _populate(ctx, clock)
    first = start_campaign(ctx, "Herbst", due_from=NOV_1, due_to=NOV_30, actor="cli")
    with transaction(ctx.sessions) as session:
        _meter(session, "IMPORTED-LATER", "later@example.org")
    again = start_campaign(ctx, " Herbst ", due_from=NOV_1, due_to=NOV_30, actor="cli")
    assert again.campaign_id == first.campaign_id
    assert (again.created, again.queued, again.already) == (False, 1, 3)
    assert len(_reminders(ctx)) == 4
    assert start_campaign(ctx, "Herbst", due_from=NOV_1, due_to=NOV_30, actor="x").queued == 0
    assert len(_reminders(ctx)) == 4


def test_same_name_with_another_window_or_a_reversed_window_is_refused(ctx: AppContext) -> None:
    start_campaign(ctx, "Herbst", due_from=NOV_1, due_to=NOV_30, actor="cli")
    with pytest.raises(UsageError, match="gibt es schon"):
        start_campaign(ctx, "Herbst", due_from=NOV_1, due_to=dt.date(2026, 12, 15), actor="cli")
    with pytest.raises(UsageError, match="Zeitraum verkehrt"):
        start_campaign(ctx, "Winter", due_from=NOV_30, due_to=NOV_1, actor="cli")


def test_follow_up_once_after_a_week_only_for_the_silent(
    ctx: AppContext, clock: FrozenClock
) -> None:
    with transaction(ctx.sessions) as session:
        silent = _meter(session, "SILENT", "silent@example.org").id
        answering = _meter(session, "ANSWERS", "answers@example.org")
    result = start_campaign(ctx, "Herbst", due_from=NOV_1, due_to=dt.date(2026, 12, 15), actor="t")
    clock.advance(days=2)
    with transaction(ctx.sessions) as session:
        _reading(session, answering, ctx.today())
    clock.advance(seconds=(FOLLOWUP_AFTER - dt.timedelta(days=2, seconds=1)).total_seconds())
    assert run_campaigns(ctx) == 0  # one second short of a week
    clock.advance(seconds=1)
    assert run_campaigns(ctx) == 1
    assert run_campaigns(ctx) == 0
    clock.advance(days=7)
    assert run_campaigns(ctx) == 0  # only one follow-up
    followups = {k: v for k, v in _reminders(ctx).items() if k.startswith("reminder_followup:")}
    assert list(followups.values()) == ["silent@example.org"]
    with ctx.sessions() as session:
        customer = session.scalar(
            select(CampaignRecipient.customer_id).where(CampaignRecipient.meter_id == silent)
        )
    assert list(followups) == [f"reminder_followup:{result.campaign_id}:{customer}"]
    assert _recipient_states(ctx) == {"SILENT": ("reminded", 2), "ANSWERS": ("answered", 1)}


def _recipient_states(ctx: AppContext) -> dict[str, tuple[str, int]]:
    with ctx.sessions() as session:
        rows = session.execute(
            select(Meter.number, CampaignRecipient.status, CampaignRecipient.reminders_sent).join(
                Meter, Meter.id == CampaignRecipient.meter_id
            )
        ).all()
    return {number: (status, sent) for number, status, sent in rows}


def test_open_review_task_holds_the_follow_up_back(ctx: AppContext, clock: FrozenClock) -> None:
    with transaction(ctx.sessions) as session:
        meter = _meter(session, "IN-REVIEW", "review@example.org")
    start_campaign(ctx, "Herbst", due_from=NOV_1, due_to=dt.date(2026, 12, 15), actor="t")
    clock.advance(days=1)
    with transaction(ctx.sessions) as session:
        inbound = InboundMessage(mailbox="INBOX", source_key="maildir:1", sha256="0" * 64)
        session.add(inbound)
        session.flush()
        session.add(ReviewTask(inbound_message_id=inbound.id, meter_id=meter.id,
                               created_at=clock.now))  # fmt: skip
    clock.advance(days=7)
    assert run_campaigns(ctx) == 0


def test_no_follow_up_after_the_window_and_the_campaign_finishes(
    ctx: AppContext, clock: FrozenClock
) -> None:
    with transaction(ctx.sessions) as session:
        _meter(session, "LATE", "late@example.org")
    start_campaign(ctx, "Kurz", due_from=NOV_1, due_to=dt.date(2026, 11, 25), actor="t")
    clock.advance(days=7)  # 27.11.: a week is over, but so is the window
    assert run_campaigns(ctx) == 0
    assert not any(key.startswith("reminder_followup:") for key in _reminders(ctx))
    again = start_campaign(ctx, "Kurz", due_from=NOV_1, due_to=dt.date(2026, 11, 25), actor="t")
    assert again.summary().startswith("Kampagne „Kurz“ (01.11.2026 bis 25.11.2026) bestand bereits")
    with transaction(ctx.sessions) as session:
        _meter(session, "AFTER-FINISH", "after@example.org")
    assert (
        start_campaign(ctx, "Kurz", due_from=NOV_1, due_to=dt.date(2026, 11, 25), actor="t").queued
        == 0
    )


def test_reminder_reaches_the_customer(smtp_ctx: AppContext, smtp_server: SmtpTestServer) -> None:
    with transaction(smtp_ctx.sessions) as session:
        _meter(session, "1ESY1160123456", "erika@example.org")
    start_campaign(smtp_ctx, "Herbst", due_from=NOV_1, due_to=NOV_30, actor="t")
    assert send_due(smtp_ctx).sent == 1
    [mail] = smtp_server.wait_for(1)
    assert mail["Subject"] == "Bitte teilen Sie uns Ihren Zählerstand mit – Zähler 1ESY1160123456"
    assert mail["Auto-Submitted"] == "auto-generated"
    body = mail.get_body(preferencelist=("plain",))
    assert body is not None and "01.11.2026 bis 30.11.2026" in body.get_content()


def test_a_customer_with_two_contract_accounts_gets_one_reminder_and_one_follow_up(
    ctx: AppContext, clock: FrozenClock
) -> None:
    with transaction(ctx.sessions) as session:
        _meter(session, "STROM-1", "erika@example.org")
        _meter(session, "WASSER-1", "Erika@Example.org")  # the same person's second account
        _meter(session, "GAS-1", "nachbar@example.org")
    start_campaign(ctx, "Jahresablesung", due_from=NOV_1, due_to=NOV_30, actor="cli")
    clock.advance(seconds=(FOLLOWUP_AFTER + dt.timedelta(minutes=1)).total_seconds())
    assert run_campaigns(ctx) == 2
    with ctx.sessions() as session:
        mails = session.execute(select(Outbox.kind, Outbox.recipient, Outbox.subject)).all()
    assert sorted((kind, recipient.lower()) for kind, recipient, _subject in mails) == [
        ("reminder", "erika@example.org"), ("reminder", "nachbar@example.org"),
        ("reminder_followup", "erika@example.org"), ("reminder_followup", "nachbar@example.org"),
    ]  # fmt: skip
    assert sum("2 Zähler" in subject for _kind, _recipient, subject in mails) == 2
