"""Working the queue with several clerks: claims, "next", release, filters, batch accept; the
dashboard, meters and audit pages; and the security defaults around them."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from core.context import AppContext
from core.db import transaction
from core.models import AuditLog, Reading, ReviewTask
from review_ui.app import create_app
from review_ui.auth import FREE_FAILURES_PER_ADDRESS, add_user
from review_ui.server import warn_if_plain_http
from tests.conftest import FrozenClock
from tests.ui_seed import (
    ADMIN,
    ADMIN_PASSWORD,
    CLERK,
    Seeded,
    add_admin,
    add_clerk,
    csrf_from,
    login,
    seed_task,
)

OTTO, OTTO_PASSWORD = "otto", "Zweiter-Pruefer-2026"


@pytest.fixture
def clerks(ctx: AppContext) -> Iterator[tuple[TestClient, TestClient]]:
    add_clerk(ctx)
    add_user(ctx, OTTO, OTTO_PASSWORD, display_name="Otto Normal")
    app = create_app(ctx)
    with TestClient(app) as first, TestClient(app) as second:
        yield first, second


@pytest.fixture
def two_tasks(ctx: AppContext, clock: FrozenClock) -> tuple[Seeded, Seeded]:
    older = seed_task(ctx, key="1", received_at=clock() - dt.timedelta(days=2))
    newer = seed_task(ctx, key="2", subject="Gas", received_at=clock() - dt.timedelta(hours=1))
    return older, newer


def _decide(client: TestClient, csrf: str, seeded: Seeded) -> int:
    data = {"csrf_token": csrf, "action": "accept", "value": "12.345,6",
            "meter_id": str(seeded.meter_id)}  # fmt: skip
    return client.post(
        f"/tasks/{seeded.task_id}/decision", data=data, follow_redirects=False
    ).status_code


def test_two_clerks_never_work_on_the_same_task(
    ctx: AppContext, clerks: tuple[TestClient, TestClient], two_tasks: tuple[Seeded, Seeded]
) -> None:
    erika, otto = clerks
    older, newer = two_tasks
    erika_csrf, otto_csrf = login(erika), login(otto, OTTO, OTTO_PASSWORD)
    first = erika.get("/next", follow_redirects=False).headers["location"]
    assert first == f"/tasks/{older.task_id}"
    erika.get(first)
    seen_by_otto = otto.get(first).text
    assert f"In Bearbeitung von {CLERK}" in seen_by_otto
    assert _decide(otto, otto_csrf, older) == 409
    assert (
        otto.get("/next", follow_redirects=False).headers["location"] == f"/tasks/{newer.task_id}"
    )
    queue = otto.get("/queue").text
    assert f"bei {CLERK}" in queue
    assert _decide(erika, erika_csrf, older) == 303
    assert _decide(otto, otto_csrf, newer) == 303
    with ctx.sessions() as session:
        decided = dict(session.execute(select(ReviewTask.id, ReviewTask.decided_by)).all())
    assert decided == {older.task_id: CLERK, newer.task_id: OTTO}


def test_admin_releases_a_claim(
    ctx: AppContext, clerks: tuple[TestClient, TestClient], two_tasks: tuple[Seeded, Seeded]
) -> None:
    erika, otto = clerks
    older, _ = two_tasks
    login(erika)
    otto_csrf = login(otto, OTTO, OTTO_PASSWORD)
    erika.get(f"/tasks/{older.task_id}")
    refused = otto.post(f"/tasks/{older.task_id}/release", data={"csrf_token": otto_csrf})
    assert refused.status_code == 403
    add_admin(ctx)
    with TestClient(create_app(ctx)) as admin:
        admin_csrf = login(admin, ADMIN, ADMIN_PASSWORD)
        page = admin.get(f"/tasks/{older.task_id}").text
        assert "Freigeben" in page
        released = admin.post(f"/tasks/{older.task_id}/release", data={"csrf_token": admin_csrf},
                              follow_redirects=False)  # fmt: skip
        assert released.status_code == 303
    assert _decide(otto, otto_csrf, older) == 303
    with ctx.sessions() as session:
        row = session.scalars(select(AuditLog).where(AuditLog.action == "task_released")).one()
    assert (row.actor, row.details["holder"]) == (ADMIN, CLERK)


def test_claim_runs_out(
    ctx: AppContext,
    clerks: tuple[TestClient, TestClient],
    two_tasks: tuple[Seeded, Seeded],
    clock: FrozenClock,
) -> None:
    erika, otto = clerks
    older, _ = two_tasks
    login(erika)
    otto_csrf = login(otto, OTTO, OTTO_PASSWORD)
    erika.get(f"/tasks/{older.task_id}")
    clock.advance(minutes=11)
    assert _decide(otto, otto_csrf, older) == 303


def test_queue_filters_search_and_sort(
    ctx: AppContext, clerks: tuple[TestClient, TestClient], two_tasks: tuple[Seeded, Seeded]
) -> None:
    erika, _ = clerks
    older, newer = two_tasks
    login(erika)

    def ids(query: str) -> list[int]:
        page = erika.get(f"/queue?{query}").text
        return [int(part.split('"')[0]) for part in page.split('href="/tasks/')[1:]
                if part.split('"')[0].isdigit()]  # fmt: skip

    assert ids("") == [older.task_id, newer.task_id]
    assert ids("sort=newest") == [newer.task_id, older.task_id]
    assert ids("age=1") == [older.task_id]
    assert ids("q=1esy1160123452") == [newer.task_id]
    assert ids("q=400100201") == [older.task_id]
    assert ids("reason=low_confidence&kind=electricity") == [older.task_id, newer.task_id]
    assert ids("reason=no_meter") == []
    assert ids("kind=water") == []
    page = erika.get("/queue").text
    assert "Max Mustermann" in page and f"/photos/{older.photo_id}?thumb=1" in page
    thumb = erika.get(f"/photos/{older.photo_id}?thumb=1")
    assert thumb.headers["content-type"] == "image/jpeg"
    assert thumb.headers["cache-control"] == "no-store"


def test_one_day_is_one_tag(
    ctx: AppContext, clerks: tuple[TestClient, TestClient], two_tasks: tuple[Seeded, Seeded]
) -> None:
    erika, _ = clerks
    login(erika)
    page = erika.get("/queue").text
    assert ">1 Tag</option>" in page and ">3 Tage</option>" in page and "1 Tage" not in page


def test_the_queue_keeps_the_decimals_of_a_proposal_without_a_meter(
    ctx: AppContext, clerks: tuple[TestClient, TestClient], two_tasks: tuple[Seeded, Seeded]
) -> None:
    erika, _ = clerks
    older, _ = two_tasks
    with transaction(ctx.sessions) as session:
        task = session.get(ReviewTask, older.task_id)
        assert task is not None
        task.meter_id, task.proposed_value = None, Decimal("262.612")
    login(erika)
    page = erika.get("/queue").text
    assert 'nowrap">262,612' in page and 'nowrap">263' not in page


def test_batch_accept_books_plain_cases_and_leaves_guarded_ones(
    ctx: AppContext, clerks: tuple[TestClient, TestClient], two_tasks: tuple[Seeded, Seeded]
) -> None:
    erika, _ = clerks
    older, newer = two_tasks
    with transaction(ctx.sessions) as session:
        task = session.get(ReviewTask, newer.task_id)
        assert task is not None
        task.proposed_value = Decimal("11000.0")  # below the last reading: needs a look
    csrf = login(erika)
    response = erika.post(
        "/tasks/batch-accept",
        data={"csrf_token": csrf, "task": [str(older.task_id), str(newer.task_id)]},
    )
    assert "1 übernommen, 1 offen gelassen" in response.text
    with ctx.sessions() as session:
        status = dict(session.execute(select(ReviewTask.id, ReviewTask.status)).all())
        booked = session.scalars(select(Reading.value).where(Reading.source != "import")).all()
    assert status == {older.task_id: "done", newer.task_id: "open"}
    assert booked == [Decimal("12345.6")]


def test_dashboard_meters_and_audit_pages(
    ctx: AppContext, clerks: tuple[TestClient, TestClient], two_tasks: tuple[Seeded, Seeded]
) -> None:
    erika, _ = clerks
    older, _ = two_tasks
    csrf = login(erika)
    assert _decide(erika, csrf, older) == 303
    dashboard = erika.get("/dashboard").text
    assert "Offene Aufgaben nach Grund" in dashboard and 'id="open-total">1<' in dashboard
    meters = erika.get("/meters?q=Mustermann").text
    assert "1ESY1160123451" in meters and "9GAS000771" in meters
    history = erika.get(f"/meters/{older.meter_id}").text
    assert (
        f'href="/tasks/{older.task_id}"' in history
        and f'href="/photos/{older.photo_id}"' in history
    )
    assert erika.get("/audit").status_code == 403
    add_admin(ctx)
    with TestClient(create_app(ctx)) as admin:
        login(admin, ADMIN, ADMIN_PASSWORD)
        assert "Offene Aufgaben nach Alter" in admin.get("/").text  # admins land on the dashboard
        audit = admin.get(f"/audit?actor={CLERK}&action=task_accepted").text
        assert f"review_task #{older.task_id}" in audit and "Vorschlag</small> 12.345,6" in audit
        assert "Anmeldung" not in audit.split("<tbody>")[1]
        logins = admin.get(f"/audit?actor={CLERK}&action=login").text
        rows = logins.split("<tbody>")[1]
        assert "Anmeldung" in rows and "Übernommen" not in rows


def _try_login(client: TestClient, username: str, password: str) -> int:
    page = client.get("/login")
    data = {"username": username, "password": password, "csrf_token": csrf_from(page.text)}
    return client.post("/login", data=data, follow_redirects=False).status_code


def test_one_address_spraying_user_names_is_slowed(ctx: AppContext, clock: FrozenClock) -> None:
    add_clerk(ctx)
    with TestClient(create_app(ctx)) as client:
        for index in range(FREE_FAILURES_PER_ADDRESS):
            assert _try_login(client, f"name{index}", "falsch-falsch-1") == 401
        assert _try_login(client, "someone-else", "falsch-falsch-1") == 429
        with ctx.sessions() as session:
            locked = session.scalars(select(AuditLog).where(AuditLog.action == "login_locked"))
            assert [row.actor for row in locked] == ["someone-else"]
        clock.advance(seconds=31)
        assert _try_login(client, "another", "falsch-falsch-1") == 401


def test_cookie_is_secure_when_the_public_address_is_https(ctx: AppContext) -> None:
    ctx.settings.public_base_url = "https://zaehler.stadtwerk.example"
    add_clerk(ctx)
    with TestClient(create_app(ctx), base_url="https://testserver") as client:
        page = client.get("/login")
        assert "Secure" in page.headers["set-cookie"]
        data = {"username": CLERK, "password": "Zaehler-Pruefung-2026",
                "csrf_token": csrf_from(page.text)}  # fmt: skip
        response = client.post("/login", data=data, follow_redirects=False)
    assert "Secure" in response.headers["set-cookie"]


def test_start_up_warns_about_plain_http_beyond_loopback(
    ctx: AppContext, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="review_ui.server"):
        assert not warn_if_plain_http(ctx, "127.0.0.1")
        assert warn_if_plain_http(ctx, "0.0.0.0")
        ctx.settings.public_base_url = "https://zaehler.stadtwerk.example"
        assert not warn_if_plain_http(ctx, "0.0.0.0")
    assert [r.levelname for r in caplog.records] == ["WARNING"]
    assert "https" in caplog.records[0].getMessage()


def test_task_shows_sender_name_mail_text_escaped_and_flags(
    ctx: AppContext, clerks: tuple[TestClient, TestClient], two_tasks: tuple[Seeded, Seeded]
) -> None:
    erika, _ = clerks
    older, newer = two_tasks
    raw = (
        "From: Max Mustermann <max1@example.org>\r\nTo: zaehler@stadtwerk.example\r\n"
        "Subject: Stand\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        "Hallo, anbei mein Zählerstand <script>x</script>\r\n"
    ).encode()
    with transaction(ctx.sessions) as session:
        task = session.get(ReviewTask, older.task_id)
        other = session.get(ReviewTask, newer.task_id)
        assert task is not None and other is not None
        task.message.sha256 = ctx.blobs.put(raw)
        other.meter_id = task.meter_id  # a second open task on the same meter
        other.message.photos[0].sha256 = task.message.photos[0].sha256  # the same photo again
        other.message.photos[0].filename = None  # attached without a file name
    login(erika)
    assert "Foto 1 (ohne Dateinamen)" in erika.get(f"/tasks/{newer.task_id}").text
    page = erika.get(f"/tasks/{older.task_id}").text
    assert "Max Mustermann &lt;max1@example.org&gt;" in page
    assert "anbei mein Zählerstand &lt;script&gt;x&lt;/script&gt;" in page
    assert "zaehler.png" in page
    assert f'href="/tasks/{newer.task_id}"' in page
    later = f'Dasselbe Foto kam auch mit Mail <a href="/messages?id={newer.message_id}">'
    assert later in page
