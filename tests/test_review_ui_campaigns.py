"""The campaign pages ("Kampagnen"): list, detail with progress, and the admin-only start form
that calls `start_campaign` (idempotent per name). SQLite and PostgreSQL (the `ctx` fixture)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from core.context import AppContext
from core.db import transaction
from core.models import (
    AuditLog,
    Campaign,
    CampaignRecipient,
    Customer,
    Meter,
    Outbox,
    Reading,
)
from review_ui.app import create_app
from tests.ui_seed import ADMIN, ADMIN_PASSWORD, Seeded, add_admin, add_clerk, login, seed_task

SCRIPT = "<script>alert('x')</script>"
ESCAPED = "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"
NAME = "Jahresablesung 2026"
NOVEMBER = {"name": NAME, "due_from": "01.11.2026", "due_to": "30.11.2026"}


@pytest.fixture
def client(ctx: AppContext) -> Iterator[TestClient]:
    add_clerk(ctx)
    add_admin(ctx)
    with TestClient(create_app(ctx)) as test_client:
        yield test_client


@pytest.fixture
def meters(ctx: AppContext) -> list[Seeded]:
    """Two customers with two meters each, none read in November 2026."""
    return [seed_task(ctx, key="1"), seed_task(ctx, key="2")]


def _start(client: TestClient, csrf: str, form: dict[str, str]) -> tuple[int, str]:
    response = client.post("/campaigns", data={**form, "csrf_token": csrf})
    return response.status_code, response.text


def _counts(ctx: AppContext) -> tuple[int, int, int]:
    with ctx.sessions() as session:
        return (
            len(session.scalars(select(Campaign)).all()),
            len(session.scalars(select(CampaignRecipient)).all()),
            len(session.scalars(select(Outbox)).all()),
        )


def test_campaign_pages_need_a_session(ctx: AppContext, client: TestClient) -> None:
    for path in ("/campaigns", "/campaigns/1"):
        response = client.get(path, follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"].startswith("/login")
    response = client.post("/campaigns", data=NOVEMBER, follow_redirects=False)
    assert response.status_code == 303 and _counts(ctx) == (0, 0, 0)


def test_admin_starts_a_campaign_and_reminders_are_queued(
    ctx: AppContext, client: TestClient, meters: list[Seeded]
) -> None:
    csrf = login(client, ADMIN, ADMIN_PASSWORD)
    assert 'action="/campaigns"' in client.get("/campaigns").text
    status, page = _start(client, csrf, NOVEMBER)
    assert status == 200
    # two customers with two meters each: one reminder per customer
    assert (
        f"Kampagne „{NAME}“ (01.11.2026 bis 30.11.2026) angelegt: 2 Erinnerungen für 4 Zähler"
        in page
    )
    assert "01.11.2026 – 30.11.2026" in page and "Läuft" in page
    with ctx.sessions() as session:
        campaign = session.scalars(select(Campaign)).one()
        assert (campaign.name, campaign.created_by) == (NAME, ADMIN)
        assert (campaign.due_from, campaign.due_to) == (dt.date(2026, 11, 1), dt.date(2026, 11, 30))
        recipients = session.scalars(select(CampaignRecipient)).all()
        assert {r.status for r in recipients} == {"reminded"} and len(recipients) == 4
        mails = session.scalars(select(Outbox)).all()
        assert {m.kind for m in mails} == {"reminder"} and {m.campaign_id for m in mails} == {
            campaign.id
        }
        assert len(mails) == 2 and {m.recipient for m in mails} == {
            "max1@example.org", "max2@example.org"}  # fmt: skip
        for seeded in meters:  # each customer's one mail names both of their meters
            first, second = (
                session.get(Meter, meter_id).number  # type: ignore[union-attr]
                for meter_id in (seeded.meter_id, seeded.other_meter_id)
            )
            [mail] = [m for m in mails if first in m.body_text]
            assert second in mail.body_text
        started = session.scalars(select(AuditLog).where(AuditLog.action == "campaign_started"))
        [row] = started.all()
        assert (row.actor, row.entity_id) == (ADMIN, campaign.id)
        assert (row.details["name"], row.details["mails"], row.details["meters"]) == (NAME, 2, 4)


def test_starting_the_same_name_again_queues_nothing_twice(
    ctx: AppContext, client: TestClient, meters: list[Seeded]
) -> None:
    csrf = login(client, ADMIN, ADMIN_PASSWORD)
    assert _start(client, csrf, NOVEMBER)[0] == 200
    iso = {**NOVEMBER, "due_from": "2026-11-01", "due_to": "2026-11-30"}  # a browser date input
    status, page = _start(client, csrf, iso)
    assert status == 200
    assert "gab es schon – nichts doppelt eingeplant: 0 Erinnerungen für 0 Zähler" in page
    assert "4 waren schon dabei" in page
    assert _counts(ctx) == (1, 4, 2)
    status, page = _start(client, csrf, {**NOVEMBER, "due_to": "15.12.2026"})
    assert status == 422 and "gibt es schon mit dem Zeitraum 01.11.2026 bis 30.11.2026" in page
    assert _counts(ctx) == (1, 4, 2)


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({**NOVEMBER, "name": "   "}, "Bitte einen Namen"),
        ({**NOVEMBER, "due_from": "31.02.2026"}, "Bitte gültige Daten"),
        ({**NOVEMBER, "due_to": "morgen"}, "Bitte gültige Daten"),
        ({**NOVEMBER, "due_from": "01.12.2026"}, "Zeitraum verkehrt"),
    ],
)
def test_invalid_start_form_is_refused(
    ctx: AppContext, client: TestClient, meters: list[Seeded], form: dict[str, str], message: str
) -> None:
    csrf = login(client, ADMIN, ADMIN_PASSWORD)
    status, page = _start(client, csrf, form)
    assert status == 422 and message in page
    assert f'value="{form["due_to"]}"' in page  # the form keeps what was typed
    assert _counts(ctx) == (0, 0, 0)


def test_clerks_see_campaigns_read_only(
    ctx: AppContext, client: TestClient, meters: list[Seeded]
) -> None:
    csrf = login(client)
    page = client.get("/campaigns").text
    assert "Kampagnen" in page and 'action="/campaigns"' not in page
    assert "nur die Administration" in page
    status, page = _start(client, csrf, NOVEMBER)
    assert status == 403 and "Berechtigung" in page
    assert _counts(ctx) == (0, 0, 0)


def test_campaign_start_needs_the_csrf_token(
    ctx: AppContext, client: TestClient, meters: list[Seeded]
) -> None:
    login(client, ADMIN, ADMIN_PASSWORD)
    for data in (NOVEMBER, {**NOVEMBER, "csrf_token": "wrong"}):
        response = client.post("/campaigns", data=data, follow_redirects=False)
        assert response.status_code == 403
    assert _counts(ctx) == (0, 0, 0)


def _answer_and_send_one(ctx: AppContext, seeded: Seeded) -> None:
    """A reading arrives for one meter (before the worker marks it), one reminder went out."""
    with transaction(ctx.sessions) as session:
        session.add(Reading(meter_id=seeded.meter_id, value=Decimal("12000"),
                            read_on=dt.date(2026, 11, 21), source="photo"))  # fmt: skip
        first = session.scalars(select(Outbox.id).order_by(Outbox.id)).first()
        session.execute(update(Outbox).where(Outbox.id == first).values(status="sent"))


def test_campaign_page_shows_meters_progress_and_german_dates(
    ctx: AppContext, client: TestClient, meters: list[Seeded]
) -> None:
    csrf = login(client, ADMIN, ADMIN_PASSWORD)
    _start(client, csrf, NOVEMBER)
    _answer_and_send_one(ctx, meters[0])
    with ctx.sessions() as session:
        campaign_id = session.scalars(select(Campaign.id)).one()
    page = client.get(f"/campaigns/{campaign_id}").text
    assert f"Kampagne „{NAME}“" in page and "01.11.2026 – 30.11.2026" in page
    assert "1 von 4 Zählern beantwortet (25 %)" in page
    assert "1 gesendet, 1 ausstehend, 0 fehlgeschlagen" in page  # one mail per customer
    assert 'class="seg seg-answered" x="0.0" y="0" width="25.0"' in page
    assert "Gestartet von bert am 20.11.2026 10:30" in page
    assert "1ESY1160123451" in page and "9GAS000772" in page and "Max Mustermann" in page
    assert "Beantwortet" in page and "Erinnert, offen" in page
    answered = client.get(f"/campaigns/{campaign_id}?status=answered").text
    assert "1ESY1160123451" in answered and "9GAS000772" not in answered
    listing = client.get("/campaigns").text
    assert f'href="/campaigns/{campaign_id}"' in listing and "25 %" in listing
    english = client.get(f"/campaigns/{campaign_id}?lang=en").text
    assert "1 of 4 meters answered (25 %)" in english and "01.11.2026 – 30.11.2026" in english
    assert client.get("/campaigns/9999").status_code == 404


def test_campaign_name_is_escaped(
    ctx: AppContext, client: TestClient, meters: list[Seeded]
) -> None:
    csrf = login(client, ADMIN, ADMIN_PASSWORD)
    status, page = _start(client, csrf, {**NOVEMBER, "name": SCRIPT})
    assert status == 200 and SCRIPT not in page and ESCAPED in page
    with ctx.sessions() as session:
        campaign_id = session.scalars(select(Campaign.id)).one()
    detail = client.get(f"/campaigns/{campaign_id}").text
    assert SCRIPT not in detail and ESCAPED in detail
    assert SCRIPT not in client.get("/outbox").text  # reminders link to the campaign


def test_campaign_page_lists_the_due_meters_no_reminder_can_reach(
    ctx: AppContext, client: TestClient, meters: list[Seeded]
) -> None:
    with transaction(ctx.sessions) as session:  # one customer's mails bounce
        session.execute(
            update(Customer).where(Customer.email == "max2@example.org")
            .values(email_bounced_at=ctx.clock())
        )  # fmt: skip
    csrf = login(client, ADMIN, ADMIN_PASSWORD)
    _start(client, csrf, NOVEMBER)
    with ctx.sessions() as session:
        campaign_id = session.scalars(select(Campaign.id)).one()
    page = client.get(f"/campaigns/{campaign_id}").text
    assert "Nicht per E-Mail erreichbar: 2 Zähler" in page
    assert page.count("keine, ungültige oder unzustellbare E-Mail-Adresse") == 2
    assert "max2@example.org" in page and "max1@example.org" not in page.split('id="unreached"')[1]
