"""Campaigns per customer: one reminder listing every due meter, follow-ups for the meters still
missing, dry run and preview, pacing, pause/resume/cancel, and the RFC 8058 one-click unsubscribe
through the real SMTP server and the review UI. SQLite and PostgreSQL (the `ctx` fixture)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.context import AppContext
from core.db import transaction
from core.errors import UsageError
from core.models import AuditLog, Campaign, ContractAccount, Customer, Meter, Outbox, Reading
from notifications.campaign_control import control_campaign
from notifications.campaigns import run_campaigns, start_campaign
from notifications.dispatch import send_due
from notifications.outbox import enqueue
from notifications.unsubscribe import customer_of, make_token, signing_key
from review_ui.app import create_app
from tests.conftest import FrozenClock
from tests.fixtures_smtp import SmtpTestServer

NOV_1, DEC_15 = dt.date(2026, 11, 1), dt.date(2026, 12, 15)
PUBLIC = "https://zaehler.stadtwerke.example"
ONE_CLICK = b"List-Unsubscribe=One-Click"


def _customer(session: Session, email: str, *meters: tuple[str, str, str]) -> int:
    customer = Customer(name="Erika Mustermann", email=email)
    account = ContractAccount(number=f"VK-{email}", customer=customer)
    for number, kind, unit in meters:
        session.add(Meter(number=number, account=account, kind=kind, unit=unit,
                          integer_digits=6, decimal_digits=1))  # fmt: skip
    session.flush()
    return customer.id


THREE = (
    ("1ESY1160123456", "electricity", "kWh"),
    ("GAS-0815", "gas", "m3"),
    ("W-77", "water", "m3"),
)


@pytest.fixture
def public_ctx(ctx: AppContext) -> AppContext:
    settings = ctx.settings.model_copy(update={"public_base_url": PUBLIC})
    return dataclasses.replace(ctx, settings=settings)


def _mails(ctx: AppContext) -> list[Outbox]:
    with ctx.sessions() as session:
        return list(session.scalars(select(Outbox).order_by(Outbox.id)).all())


def test_a_customer_with_three_meters_gets_one_reminder(public_ctx: AppContext) -> None:
    with transaction(public_ctx.sessions) as session:
        _customer(session, "erika@example.org", *THREE)
        _customer(session, "john@example.org", ("J-1", "water", "m3"))
    result = start_campaign(public_ctx, "Herbst", due_from=NOV_1, due_to=DEC_15, actor="t")
    assert (result.queued, result.meters) == (2, 4)
    assert "2 Erinnerungen für 4 Zähler eingeplant" in result.summary()
    erika, john = _mails(public_ctx)
    assert erika.subject == "Bitte teilen Sie uns Ihre Zählerstände mit – 3 Zähler"
    for line in ("Stromzähler 1ESY1160123456", "Gaszähler GAS-0815", "Wasserzähler W-77"):
        assert line in erika.body_text
    assert "Ablesezeitraum: 01.11.2026 bis 15.12.2026" in erika.body_text
    assert john.subject == "Bitte teilen Sie uns Ihren Zählerstand mit – Zähler J-1"
    assert erika.unsubscribe_url and erika.unsubscribe_url.startswith(PUBLIC + "/abmelden/")


def test_follow_up_names_only_the_meters_still_missing(
    public_ctx: AppContext, clock: FrozenClock
) -> None:
    with transaction(public_ctx.sessions) as session:
        _customer(session, "erika@example.org", *THREE)
    start_campaign(public_ctx, "Herbst", due_from=NOV_1, due_to=DEC_15, actor="t")
    clock.advance(days=2)
    with transaction(public_ctx.sessions) as session:
        gas = session.scalars(select(Meter.id).where(Meter.number == "GAS-0815")).one()
        session.add(Reading(meter_id=gas, value=Decimal("1234.5"), read_on=public_ctx.today(),
                            source="photo", status="accepted"))  # fmt: skip
    clock.advance(days=5)
    assert run_campaigns(public_ctx) == 1
    assert run_campaigns(public_ctx) == 0  # one follow-up, never two
    followup = _mails(public_ctx)[-1]
    assert followup.kind == "reminder_followup"
    assert followup.subject == "Erinnerung: 2 Zählerstände fehlen uns noch"
    assert "1ESY1160123456" in followup.body_text and "W-77" in followup.body_text
    assert "GAS-0815" not in followup.body_text


def test_dry_run_counts_and_renders_but_stores_nothing(public_ctx: AppContext) -> None:
    with transaction(public_ctx.sessions) as session:
        _customer(session, "erika@example.org", *THREE)
    result = start_campaign(public_ctx, "Herbst", due_from=NOV_1, due_to=DEC_15, actor="t",
                            dry_run=True, preview=5)  # fmt: skip
    assert (result.queued, result.meters, result.dry_run) == (1, 3, True)
    assert result.summary().startswith("Kampagne „Herbst“ (01.11.2026 bis 15.12.2026) Probelauf")
    [preview] = result.previews
    assert preview.recipient == "erika@example.org" and "W-77" in preview.text
    with public_ctx.sessions() as session:
        for model in (Campaign, Outbox, AuditLog):
            assert session.scalar(select(func.count()).select_from(model)) == 0


def test_mails_are_paced_from_the_scheduled_start(public_ctx: AppContext) -> None:
    settings = public_ctx.settings.model_copy(update={"campaign_max_per_hour": 120})
    paced = dataclasses.replace(public_ctx, settings=settings)
    with transaction(paced.sessions) as session:
        for n in range(3):
            _customer(session, f"k{n}@example.org", (f"M-{n}", "water", "m3"))
    start = dt.datetime(2026, 11, 23, 8, 0)  # local time, Europe/Berlin
    start_campaign(paced, "Herbst", due_from=NOV_1, due_to=DEC_15, actor="t", send_from=start)
    due = [mail.next_attempt_at for mail in _mails(paced)]
    first = dt.datetime(2026, 11, 23, 7, 0, tzinfo=dt.UTC)
    assert due == [first, first + dt.timedelta(seconds=30), first + dt.timedelta(seconds=60)]


def test_pause_holds_resume_releases_cancel_withdraws(
    smtp_ctx: AppContext, smtp_server: SmtpTestServer, clock: FrozenClock
) -> None:
    with transaction(smtp_ctx.sessions) as session:
        _customer(session, "erika@example.org", *THREE)
        _customer(session, "john@example.org", ("J-1", "water", "m3"))
    start_campaign(smtp_ctx, "Herbst", due_from=NOV_1, due_to=DEC_15, actor="t")
    paused = control_campaign(smtp_ctx, "Herbst", "pause", actor="admin")
    assert paused.summary() == "Kampagne „Herbst“ pausiert: 2 Mails angehalten."
    clock.advance(hours=1)
    assert send_due(smtp_ctx).sent == 0
    with pytest.raises(UsageError, match="pausiert"):
        control_campaign(smtp_ctx, "Herbst", "pause", actor="admin")
    clock.advance(days=8)
    assert run_campaigns(smtp_ctx) == 0  # no follow-ups while paused
    control_campaign(smtp_ctx, "Herbst", "resume", actor="admin")
    assert send_due(smtp_ctx, limit=1).sent == 1
    assert len(smtp_server.wait_for(1)) == 1
    cancelled = control_campaign(smtp_ctx, "Herbst", "cancel", actor="admin")
    assert cancelled.mails == 1
    clock.advance(hours=1)
    assert send_due(smtp_ctx).sent == 0
    assert sorted(mail.status for mail in _mails(smtp_ctx)) == ["cancelled", "sent"]
    with smtp_ctx.sessions() as session:
        actions = session.scalars(select(AuditLog.action).order_by(AuditLog.id)).all()
    assert actions == [
        "campaign_started",
        "campaign_paused",
        "campaign_resumed",
        "campaign_cancelled",
    ]


def test_campaign_mail_carries_one_click_unsubscribe_and_a_confirmation_does_not(
    smtp_ctx: AppContext, smtp_server: SmtpTestServer
) -> None:
    settings = smtp_ctx.settings.model_copy(update={"public_base_url": PUBLIC})
    ctx = dataclasses.replace(smtp_ctx, settings=settings)
    with transaction(ctx.sessions) as session:
        customer_id = _customer(session, "erika@example.org", *THREE)
    start_campaign(ctx, "Herbst", due_from=NOV_1, due_to=DEC_15, actor="t")
    assert send_due(ctx).sent == 1
    [mail] = smtp_server.wait_for(1)
    header = mail["List-Unsubscribe"]
    match = re.fullmatch(rf"<{re.escape(PUBLIC)}/abmelden/([\w.-]+)>", header)
    assert match is not None, header
    assert customer_of(match.group(1), signing_key(ctx.settings)) == customer_id
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    with transaction(ctx.sessions) as session:
        _queue_confirmation(session, ctx)
    assert send_due(ctx).sent == 1
    confirmation = smtp_server.wait_for(2)[1]
    assert confirmation["List-Unsubscribe"] is None


def _queue_confirmation(session: Session, ctx: AppContext) -> None:
    reading = {"meter_number": "W-77", "value": Decimal("123.4"), "unit": "m3",
               "decimal_digits": 1, "read_on": dt.date(2026, 11, 20)}  # fmt: skip
    assert enqueue(session, kind="confirmation", recipient="erika@example.org", language="de",
                   context={"readings": [reading]}, idempotency_key="confirmation:test",
                   now=ctx.clock())  # fmt: skip


def test_one_click_post_opts_out_and_the_next_campaign_skips_the_customer(
    public_ctx: AppContext,
) -> None:
    with transaction(public_ctx.sessions) as session:
        customer_id = _customer(session, "erika@example.org", *THREE)
    token = make_token(customer_id, signing_key(public_ctx.settings))
    forged = make_token(customer_id, b"another site's key")
    with TestClient(create_app(public_ctx), base_url=PUBLIC) as client:
        page = client.get(f"/abmelden/{token}")
        assert page.status_code == 200 and "Erinnerungen abbestellen" in page.text
        assert page.headers["Cache-Control"] == "no-store"
        assert client.post(f"/abmelden/{forged}", content=ONE_CLICK).status_code == 404
        assert _opted_out(public_ctx, customer_id) is None  # neither a GET nor a forgery
        response = client.post(
            f"/abmelden/{token}",
            content=ONE_CLICK,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert response.status_code == 200 and "Abgemeldet" in response.text
    assert _opted_out(public_ctx, customer_id) == public_ctx.clock()
    result = start_campaign(public_ctx, "Winter", due_from=NOV_1, due_to=DEC_15, actor="t")
    assert (result.queued, result.opted_out) == (0, 3)
    assert _mails(public_ctx) == []


def _opted_out(ctx: AppContext, customer_id: int) -> dt.datetime | None:
    with ctx.sessions() as session:
        customer = session.get(Customer, customer_id)
        assert customer is not None
        return customer.campaign_opt_out_at


def test_no_unsubscribe_link_without_an_https_address(ctx: AppContext) -> None:
    with transaction(ctx.sessions) as session:
        _customer(session, "erika@example.org", *THREE)
    start_campaign(ctx, "Herbst", due_from=NOV_1, due_to=DEC_15, actor="t")
    [mail] = _mails(ctx)
    assert mail.unsubscribe_url is None and "abmelden" not in mail.body_text.lower()


def test_admin_previews_pauses_and_cancels_from_the_ui(public_ctx: AppContext) -> None:
    from tests.ui_seed import ADMIN, ADMIN_PASSWORD, add_admin, login

    add_admin(public_ctx)
    with transaction(public_ctx.sessions) as session:
        _customer(session, "erika@example.org", *THREE)
    form = {"name": "Herbst", "due_from": "01.11.2026", "due_to": "15.12.2026"}
    with TestClient(create_app(public_ctx), base_url=PUBLIC) as client:
        csrf = login(client, ADMIN, ADMIN_PASSWORD)
        preview = client.post("/campaigns", data={**form, "mode": "preview", "csrf_token": csrf})
        assert preview.status_code == 200
        assert "Probelauf für „Herbst“" in preview.text and "Wasserzähler W-77" in preview.text
        assert _mails(public_ctx) == []
        started = client.post("/campaigns", data={**form, "csrf_token": csrf})
        assert "1 Erinnerung für 3 Zähler eingeplant" in started.text
        with public_ctx.sessions() as session:
            campaign_id = session.scalars(select(Campaign.id)).one()
        paused = client.post(f"/campaigns/{campaign_id}/pause", data={"csrf_token": csrf})
        assert paused.status_code == 200 and "1 Mail angehalten" in paused.text
        assert "Fortsetzen" in paused.text
        refused = client.post(f"/campaigns/{campaign_id}/pause", data={"csrf_token": csrf})
        assert refused.status_code == 409
        cancelled = client.post(f"/campaigns/{campaign_id}/cancel", data={"csrf_token": csrf})
        assert "abgebrochen: 1 Mail zurückgezogen" in cancelled.text
    assert [mail.status for mail in _mails(public_ctx)] == ["cancelled"]
