"""A clerk decides review tasks: effects in the database, the outbox, and what the pages show."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from core.context import AppContext
from core.db import transaction
from core.models import AuditLog, Meter, OcrResult, Outbox, Reading, ReviewTask, User
from review_ui.app import create_app
from tests.conftest import FrozenClock
from tests.ui_seed import CLERK, Seeded, add_clerk, csrf_from, login, post_decision, seed_task


def _clerk_readings(ctx: AppContext) -> list[Reading]:
    with ctx.sessions() as session:
        return list(session.scalars(select(Reading).where(Reading.source != "import")))


def _task(ctx: AppContext, task_id: int) -> ReviewTask:
    with ctx.sessions() as session:
        task = session.get(ReviewTask, task_id)
        assert task is not None
        return task


def _outbox(ctx: AppContext) -> list[Outbox]:
    with ctx.sessions() as session:
        return list(session.scalars(select(Outbox)))


def test_accept_books_the_proposal_closes_the_task_and_queues_a_confirmation(
    ctx: AppContext, client: TestClient, seeded: Seeded
) -> None:
    csrf = login(client)
    response = post_decision(
        client, csrf, seeded.task_id, action="accept", value="12.345,6",
        meter_id=str(seeded.meter_id),
    )  # fmt: skip
    assert response.status_code == 303
    assert response.headers["location"] == f"/queue?decided={seeded.task_id}"
    [reading] = _clerk_readings(ctx)
    assert (reading.value, reading.meter_id, reading.accepted_by) == (
        Decimal("12345.6"), seeded.meter_id, "erika",
    )  # fmt: skip
    assert reading.source == "photo" and reading.inbound_message_id == seeded.message_id
    task = _task(ctx, seeded.task_id)
    assert (task.status, task.decision, task.decided_by) == ("done", "accepted", "erika")
    [mail] = _outbox(ctx)
    assert mail.kind == "confirmation" and mail.recipient == "max1@example.org"
    assert mail.idempotency_key == f"confirmation:{seeded.message_id}:review:{seeded.task_id}"
    assert mail.in_reply_to == "<reading-1@example.org>"
    with ctx.sessions() as session:
        actions = set(session.scalars(select(AuditLog.action)))
    assert "task_accepted" in actions
    page = client.get(response.headers["location"]).text
    assert f"Aufgabe #{seeded.task_id} erledigt: Angenommen." in page
    assert "12.345,6 kWh" in page


def test_correct_books_the_clerks_value_on_the_chosen_meter(
    ctx: AppContext, client: TestClient, seeded: Seeded
) -> None:
    csrf = login(client)
    response = post_decision(
        client, csrf, seeded.task_id, action="accept", value="12.400,2",
        meter_id=str(seeded.meter_id),
    )  # fmt: skip
    assert response.status_code == 303
    [reading] = _clerk_readings(ctx)
    assert reading.value == Decimal("12400.2") and reading.source == "clerk"
    assert _task(ctx, seeded.task_id).decision == "corrected"
    assert [m.kind for m in _outbox(ctx)] == ["confirmation"]


def test_correct_to_a_meter_found_by_its_number(
    ctx: AppContext, client: TestClient, seeded: Seeded
) -> None:
    csrf = login(client)
    search = client.get(f"/tasks/{seeded.task_id}?q=9GAS")
    assert "9GAS000771" in search.text and f'value="{seeded.other_meter_id}"' in search.text
    response = post_decision(
        client, csrf, seeded.task_id, action="correct", value="1.234,567",
        meter_number="9 GAS 000771",
    )  # fmt: skip
    assert response.status_code == 303
    [reading] = _clerk_readings(ctx)
    assert reading.meter_id == seeded.other_meter_id and reading.value == Decimal("1234.567")


def test_reject_books_nothing_and_asks_for_a_new_photo(
    ctx: AppContext, client: TestClient, seeded: Seeded
) -> None:
    csrf = login(client)
    response = post_decision(
        client, csrf, seeded.task_id, action="reject", reason="Foto zeigt keinen Zähler",
        ask_resend="1",
    )  # fmt: skip
    assert response.status_code == 303
    assert _clerk_readings(ctx) == []
    task = _task(ctx, seeded.task_id)
    assert (task.decision, task.note) == ("rejected", "Foto zeigt keinen Zähler")
    [mail] = _outbox(ctx)
    assert mail.kind == "resend_request"
    assert mail.subject == "Bitte senden Sie uns ein neues Foto Ihres Zählers"
    assert "Unser Kundenservice schreibt dazu:\n\n  „Foto zeigt keinen Zähler“" in mail.body_text


def test_the_clerks_words_reach_the_customer_escaped_and_only_once(
    ctx: AppContext, client: TestClient, seeded: Seeded
) -> None:
    csrf = login(client)
    note = "Bitte den <b>Stromzähler</b> fotografieren, nicht den Gaszähler"
    post_decision(client, csrf, seeded.task_id, action="reject", reason=note, ask_resend="1")
    [mail] = _outbox(ctx)
    assert f"„{note}“" in mail.body_text  # plain text is not markup
    assert mail.body_html is not None and "&lt;b&gt;Stromzähler&lt;/b&gt;" in mail.body_html
    assert "<b>Stromzähler</b>" not in mail.body_html
    with transaction(ctx.sessions) as session:  # an admin reopens, a clerk rejects again
        task = session.get(ReviewTask, seeded.task_id)
        assert task is not None
        task.status, task.decision, task.decided_by = "open", None, None
    post_decision(
        client, csrf, seeded.task_id, action="reject", reason="Noch einmal", ask_resend="1"
    )
    assert len(_outbox(ctx)) == 1  # one request for a new photo per mail


def test_reject_without_reason_changes_nothing(
    ctx: AppContext, client: TestClient, seeded: Seeded
) -> None:
    csrf = login(client)
    response = post_decision(client, csrf, seeded.task_id, action="reject", reason="  ")
    assert response.status_code == 422
    assert "Bitte einen Ablehnungsgrund angeben." in response.text
    assert _task(ctx, seeded.task_id).status == "open"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("zwölf", "Bitte einen gültigen Zählerstand eingeben"),
        ("1.234.567,0", "passt nicht zu Zähler"),
        ("12.345,67", "passt nicht zu Zähler"),
    ],
)
def test_invalid_values_are_refused_with_a_german_message(
    ctx: AppContext, client: TestClient, seeded: Seeded, value: str, message: str
) -> None:
    csrf = login(client)
    response = post_decision(
        client, csrf, seeded.task_id, action="correct", value=value, meter_id=str(seeded.meter_id)
    )
    assert response.status_code == 422
    assert message in response.text
    assert f'value="{value}"' in response.text
    assert _task(ctx, seeded.task_id).status == "open" and _clerk_readings(ctx) == []
    assert _outbox(ctx) == []


def test_second_clerk_gets_already_decided(
    ctx: AppContext, client: TestClient, seeded: Seeded
) -> None:
    from review_ui.auth import add_user

    add_user(ctx, "bert", "Sein-Kennwort-2026", display_name="Bert")
    csrf_erika = login(client)
    with TestClient(create_app(ctx)) as other:
        csrf_bert = login(other, "bert", "Sein-Kennwort-2026")
        other.get(f"/tasks/{seeded.task_id}")  # both have the task open
        client.get(f"/tasks/{seeded.task_id}")
        fields = {"action": "correct", "value": "12.350,0", "meter_id": str(seeded.meter_id)}
        first = post_decision(other, csrf_bert, seeded.task_id, **fields)
        second = post_decision(client, csrf_erika, seeded.task_id, **fields)
    assert first.status_code == 303
    assert second.status_code == 409
    assert "bereits entschieden" in second.text
    assert len(_clerk_readings(ctx)) == 1 and len(_outbox(ctx)) == 1
    assert _task(ctx, seeded.task_id).decided_by == "bert"


def test_after_a_decision_the_next_open_task_opens(
    ctx: AppContext, client: TestClient, clock: FrozenClock
) -> None:
    older = seed_task(ctx, key="1", received_at=clock() - dt.timedelta(days=2))
    newer = seed_task(ctx, key="2", received_at=clock() - dt.timedelta(hours=1))
    csrf = login(client)
    queue = client.get("/").text
    assert queue.index(f"/tasks/{older.task_id}") < queue.index(f"/tasks/{newer.task_id}")
    assert "2 Tage" in queue and "Texterkennung unsicher" in queue
    response = post_decision(
        client, csrf, older.task_id, action="accept", value="12.345,6",
        meter_id=str(older.meter_id),
    )  # fmt: skip
    assert response.headers["location"] == (f"/tasks/{newer.task_id}?decided={older.task_id}")


def test_task_page_shows_german_formats_photo_ocr_and_history(
    client: TestClient, seeded: Seeded
) -> None:
    login(client)
    html = client.get(f"/tasks/{seeded.task_id}").text
    assert 'value="12.345,6"' in html and "autofocus" in html
    assert f'src="/photos/{seeded.photo_id}"' in html
    assert "11.456,7 kWh" in html and "04.05.2026" in html and "1.333,3 kWh" in html
    assert "20.11.2026 07:30" in html  # received 06:30 UTC = 07:30 in Berlin
    assert 'class="digit low"' in html and "52 %" in html
    assert "Andere mögliche Lesart: " in html
    assert 'data-fill="12.346,6"><strong>12.346,6</strong></button>' in html
    assert "<svg" in html and '<rect class="bar"' in html
    assert html.index('value="accept"') < html.index('value="correct"')  # Enter = accept
    assert "Strom · Digitalanzeige · kWh" in html
    meter = client.get(f"/meters/{seeded.meter_id}").text
    assert "Zähler 1ESY1160123451" in meter and "10.123,4 kWh" in meter
    assert "Strom · Digitalanzeige" in meter
    gas = client.get(f"/meters/{seeded.other_meter_id}").text
    assert "Gas · Rollenzählwerk" in gas  # not in master data: a gas meter's usual counter


def test_a_meter_billed_in_mwh_shows_its_daily_use_in_significant_digits(
    ctx: AppContext, client: TestClient, seeded: Seeded
) -> None:
    with transaction(ctx.sessions) as session:
        meter = session.get(Meter, seeded.meter_id)
        assert meter is not None
        meter.kind, meter.unit, meter.decimal_digits = "heat", "MWh", 3
        for reading in session.scalars(select(Reading)):
            reading.value = (reading.value / 1000).quantize(Decimal("0.001"))  # 10,123 / 11,457
        task = session.get(ReviewTask, seeded.task_id)
        assert task is not None
        task.proposed_value, task.details = Decimal("12.346"), None
    login(client)
    html = client.get(f"/tasks/{seeded.task_id}").text
    assert "11,457 MWh" in html
    assert ">0,0073</td>" in html  # the history's 1,334 MWh in 182 days, not 0,01
    assert "0,0073 MWh/Tag" in html  # the chart's bar
    assert "<dd>0,005 MWh " in html  # the expectation's rate


@pytest.mark.parametrize(("registers", "named"), [("1.8.0", False), ("1.8.0,1.8.2", True)])
def test_the_confirmation_names_the_register_only_of_a_meter_with_several(
    ctx: AppContext, client: TestClient, seeded: Seeded, registers: str, named: bool
) -> None:
    with transaction(ctx.sessions) as session:
        meter = session.get(Meter, seeded.meter_id)
        assert meter is not None
        meter.registers = registers
    csrf = login(client)
    fields = {"action": "accept", "value": "12.345,6", "meter_id": str(seeded.meter_id)}
    assert post_decision(client, csrf, seeded.task_id, **fields).status_code == 303
    with ctx.sessions() as session:
        text = session.scalars(select(Outbox.body_text).where(Outbox.kind == "confirmation")).one()
    assert "Zählerstand:   12.345,6 kWh" in text
    assert ("Zählwerk:      1.8.0" in text) == named


def _ht_nt(ctx: AppContext, seeded: Seeded) -> None:
    """The seeded meter counts HT (1.8.1, the seeded readings) and NT (1.8.2, about 6.000)."""
    with transaction(ctx.sessions) as session:
        meter = session.get(Meter, seeded.meter_id)
        assert meter is not None
        meter.registers = "1.8.1,1.8.2"
        for reading in session.scalars(select(Reading).where(Reading.meter_id == meter.id)):
            reading.register = "1.8.1"
        for day, value in ((dt.date(2025, 11, 3), "5000.0"), (dt.date(2026, 5, 4), "5600.0")):
            session.add(Reading(meter_id=meter.id, register="1.8.2", value=Decimal(value),
                                read_on=day, source="import", accepted_by="import"))  # fmt: skip


def test_the_clerk_chooses_the_register_of_an_ht_nt_meter(
    ctx: AppContext, client: TestClient, seeded: Seeded
) -> None:
    _ht_nt(ctx, seeded)
    csrf = login(client)
    page = client.get(f"/tasks/{seeded.task_id}").text
    assert "Zählwerk (HT/NT)" in page
    assert 'name="register" value="1.8.1" checked>' in page  # the meter's first: no proposal
    assert 'name="register" value="1.8.2">' in page
    fields = {"action": "accept", "value": "6.100,0", "meter_id": str(seeded.meter_id)}
    refused = post_decision(client, csrf, seeded.task_id, **fields)
    assert refused.status_code == 422  # on HT, 6.100,0 lies far below the last 11.456,7
    assert "Stand liegt unter dem letzten Stand" in refused.text
    booked = post_decision(client, csrf, seeded.task_id, **fields, register="1.8.2")
    assert booked.status_code == 303, booked.text  # fits the NT history: nothing to confirm
    [reading] = _clerk_readings(ctx)
    assert (reading.register, reading.value) == ("1.8.2", Decimal("6100.0"))
    with ctx.sessions() as session:
        text = session.scalars(select(Outbox.body_text).where(Outbox.kind == "confirmation")).one()
    assert "Zählwerk:      1.8.2" in text


def test_a_register_the_meter_does_not_have_is_refused(
    ctx: AppContext, client: TestClient, seeded: Seeded
) -> None:
    _ht_nt(ctx, seeded)
    csrf = login(client)
    fields = {"action": "accept", "value": "6.100,0", "meter_id": str(seeded.meter_id)}
    refused = post_decision(client, csrf, seeded.task_id, **fields, register="2.8.0")
    assert (
        refused.status_code == 422
        and "Dieses Zählwerk hat der gewählte Zähler nicht" in refused.text
    )
    assert _clerk_readings(ctx) == []
    other = {"action": "accept", "value": "1.234,567", "meter_id": str(seeded.other_meter_id)}
    moved = post_decision(client, csrf, seeded.task_id, **other, register="1.8.1")
    assert moved.status_code == 303  # the gas meter has one register: the HT choice is moot
    [reading] = _clerk_readings(ctx)
    assert (reading.meter_id, reading.register) == (seeded.other_meter_id, "1.8.0")


def test_the_task_shows_the_unit_the_display_showed_beside_the_meters(
    ctx: AppContext, client: TestClient, seeded: Seeded
) -> None:
    with transaction(ctx.sessions) as session:
        [ocr] = session.scalars(select(OcrResult)).all()
        ocr.details = {**ocr.details, "unit": "GJ", "obis": None}
    login(client)
    html = client.get(f"/tasks/{seeded.task_id}").text
    assert "Auf der Anzeige: <strong>GJ</strong>" in html
    assert '<span class="tag">Zähler rechnet in kWh</span>' in html


def test_decided_reading_shows_in_the_meter_history(
    ctx: AppContext, client: TestClient, seeded: Seeded
) -> None:
    csrf = login(client)
    post_decision(
        client, csrf, seeded.task_id, action="correct", value="12.399,9",
        meter_id=str(seeded.meter_id),
    )  # fmt: skip
    html = client.get(f"/meters/{seeded.meter_id}").text
    assert "12.399,9 kWh" in html and "Sachbearbeitung" in html and "20.11.2026" in html


def test_english_ui_keeps_german_numbers(client: TestClient, seeded: Seeded) -> None:
    login(client)
    html = client.get(f"/tasks/{seeded.task_id}?lang=en").text
    assert "Review task" in html and "12.345,6" in html and "Recognition uncertain" in html
    assert "Electricity · Digital display" in html
    assert "Review task" in client.get(f"/tasks/{seeded.task_id}").text  # remembered
    assert "Prüfaufgabe" in client.get(f"/tasks/{seeded.task_id}?lang=de").text


def test_the_language_follows_the_clerk_to_another_browser(
    ctx: AppContext, client: TestClient, seeded: Seeded
) -> None:
    login(client)
    assert "Review task" in client.get(f"/tasks/{seeded.task_id}?lang=en").text
    with ctx.sessions() as session:
        assert session.scalars(select(User.language).where(User.username == CLERK)).one() == "en"
    add_clerk(ctx, "kollege", "Zweite-Schicht-77")
    with TestClient(create_app(ctx)) as other_browser:
        login(other_browser)  # a fresh browser: German, were it not for the account's choice
        assert "Review task" in other_browser.get(f"/tasks/{seeded.task_id}").text
        other_browser.post("/logout", data={"csrf_token": csrf_from(other_browser.get("/").text)})
        login(other_browser, "kollege", "Zweite-Schicht-77")  # chose nothing: cookie stays
        assert "Review task" in other_browser.get(f"/tasks/{seeded.task_id}").text
    with TestClient(create_app(ctx)) as third_browser:
        login(third_browser, "kollege", "Zweite-Schicht-77")
        assert "Prüfaufgabe" in third_browser.get(f"/tasks/{seeded.task_id}").text


def test_accept_language_chooses_english(client: TestClient) -> None:
    html = client.get("/login", headers={"Accept-Language": "en-GB,en;q=0.9,de;q=0.5"}).text
    assert "User name" in html
    html = client.get("/login", headers={"Accept-Language": "fr,de;q=0.8,en;q=0.5"}).text
    assert "Benutzername" in html


def test_api_lists_shows_and_decides_tasks(
    ctx: AppContext, client: TestClient, seeded: Seeded
) -> None:
    csrf = login(client)
    [listed] = client.get("/api/tasks").json()["tasks"]
    assert listed["id"] == seeded.task_id and listed["proposed_value"] == "12345.6000"
    detail = client.get(f"/api/tasks/{seeded.task_id}").json()
    assert detail["candidates"][0]["meter_id"] == seeded.meter_id
    assert detail["photos"] == [f"/photos/{seeded.photo_id}"]
    body = {"action": "correct", "value": "12.345,7", "meter_id": seeded.meter_id}
    ok = client.post(
        f"/api/tasks/{seeded.task_id}/decision", json=body, headers={"X-CSRF-Token": csrf}
    )
    assert ok.status_code == 200 and ok.json()["decision"] == "corrected"
    again = client.post(
        f"/api/tasks/{seeded.task_id}/decision", json=body, headers={"X-CSRF-Token": csrf}
    )
    assert again.status_code == 409
    assert [r.value for r in _clerk_readings(ctx)] == [Decimal("12345.7")]
    assert client.get("/api/tasks/999").status_code == 404


def test_api_books_on_the_register_the_clerk_chooses(
    ctx: AppContext, client: TestClient, seeded: Seeded
) -> None:
    _ht_nt(ctx, seeded)
    csrf = login(client)
    detail = client.get(f"/api/tasks/{seeded.task_id}").json()
    registers = {c["meter_id"]: c["registers"] for c in detail["candidates"]}
    assert registers[seeded.meter_id] == ["1.8.1", "1.8.2"]
    url, headers = f"/api/tasks/{seeded.task_id}/decision", {"X-CSRF-Token": csrf}
    body = {"action": "accept", "value": "6.100,0", "meter_id": seeded.meter_id}
    unnamed = client.post(url, json=body, headers=headers)
    assert unnamed.status_code == 422  # absent: the task's register (HT), far below 11.456,7
    assert unnamed.json()["detail"] == "confirmation required"
    lacking = client.post(url, json={**body, "register": "2.8.0"}, headers=headers)
    assert lacking.status_code == 422 and lacking.json() == {
        "detail": "task.error_register",
        "message": "Dieses Zählwerk hat der gewählte Zähler nicht.",
    }
    english = client.post(f"{url}?lang=en", json={**body, "register": "2.8.0"}, headers=headers)
    assert english.json()["message"] == "The chosen meter has no such register."
    assert _clerk_readings(ctx) == []
    booked = client.post(url, json={**body, "register": "1.8.2"}, headers=headers)
    assert booked.status_code == 200, booked.text  # fits the NT history: nothing to confirm
    assert booked.json()["register"] == "1.8.2"
    [reading] = _clerk_readings(ctx)
    assert (reading.register, reading.value) == ("1.8.2", Decimal("6100.0"))


def test_api_ignores_a_register_on_a_meter_with_one(
    ctx: AppContext, client: TestClient, seeded: Seeded
) -> None:
    _ht_nt(ctx, seeded)
    csrf = login(client)
    body = {"action": "accept", "value": "1.234,567", "meter_id": seeded.other_meter_id}
    moved = client.post(
        f"/api/tasks/{seeded.task_id}/decision",
        json={**body, "register": "1.8.1"},
        headers={"X-CSRF-Token": csrf},
    )
    assert moved.status_code == 200, moved.text  # the gas meter has one register: moot
    [reading] = _clerk_readings(ctx)
    assert (reading.meter_id, reading.register) == (seeded.other_meter_id, "1.8.0")
