"""Server-side rules of a clerk's decision: the prefill keeps decimals, guards (below the last
reading, lost decimal, rollover, implausible jump, the value of another counter's display) block
until confirmed by name, undo and reopen are audited, and a reading billing has taken is
corrected by a new row, never changed."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from core.context import AppContext
from core.db import transaction
from core.models import AuditLog, Outbox, Reading, ReviewTask
from matching import reasons
from review_ui.app import create_app
from review_ui.batch import accept_batch
from tests.conftest import FrozenClock
from tests.ui_seed import (
    ADMIN,
    ADMIN_PASSWORD,
    CLERK,
    Seeded,
    add_admin,
    login,
    post_decision,
)


def _booked(ctx: AppContext) -> list[Reading]:
    with ctx.sessions() as session:
        stmt = select(Reading).where(Reading.source != "import").order_by(Reading.id)
        return list(session.scalars(stmt))


def _audit(ctx: AppContext, action: str) -> list[AuditLog]:
    with ctx.sessions() as session:
        return list(session.scalars(select(AuditLog).where(AuditLog.action == action)))


def _add_reading(ctx: AppContext, meter_id: int, value: str, day: dt.date) -> None:
    with transaction(ctx.sessions) as session:
        session.add(
            Reading(meter_id=meter_id, value=Decimal(value), read_on=day, source="import",
                    accepted_by="import")
        )  # fmt: skip


def test_form_shows_expectation_band_and_implied_consumption(
    client: TestClient, seeded: Seeded
) -> None:
    login(client)
    page = client.get(f"/tasks/{seeded.task_id}").text
    assert "Letzter Stand" in page and "11.456,7 kWh" in page and "04.05.2026" in page
    assert "Erwartet" in page and "Toleranz" in page
    assert 'id="implied">888,9 kWh' in page  # 12.345,6 − 11.456,7


def _set_details(ctx: AppContext, task_id: int, details: dict[str, object] | None) -> None:
    with transaction(ctx.sessions) as session:
        task = session.get(ReviewTask, task_id)
        assert task is not None
        task.details = details


def test_form_and_guards_take_the_decision_cores_expectation(
    ctx: AppContext, client: TestClient, seeded: Seeded
) -> None:
    with ctx.sessions() as session:
        task = session.get(ReviewTask, seeded.task_id)
        assert task is not None and task.details is not None
        stored = dict(task.details["expectation"])
    assert stored["last_value"] == "11456.7" and stored["basis"] == "history"
    narrow = {**stored, "expected_consumption": "300", "low": "11500", "high": "12000"}
    _set_details(ctx, seeded.task_id, {"register": "1.8.0", "expectation": narrow})
    csrf = login(client)
    page = client.get(f"/tasks/{seeded.task_id}").text
    assert 'data-source="decision"' in page and 'data-high="12000"' in page
    assert "11.500,0 – 12.000,0 kWh" in page and "11.756,7 kWh" in page  # band, expected
    fields = {"action": "accept", "value": "12.345,6", "meter_id": str(seeded.meter_id)}
    blocked = post_decision(client, csrf, seeded.task_id, **fields)  # above the core's band
    assert blocked.status_code == 422 and 'value="implausible_jump"' in blocked.text
    assert _booked(ctx) == []


def test_a_reading_booked_since_replaces_the_stored_expectation(
    ctx: AppContext, client: TestClient, seeded: Seeded
) -> None:
    _add_reading(ctx, seeded.meter_id, "12400.0", dt.date(2026, 11, 1))
    csrf = login(client)
    page = client.get(f"/tasks/{seeded.task_id}").text
    assert 'data-source="decision"' in page and 'data-last="12400.0' in page
    fields = {"action": "accept", "value": "12.345,6", "meter_id": str(seeded.meter_id)}
    blocked = post_decision(client, csrf, seeded.task_id, **fields)
    assert blocked.status_code == 422 and 'value="below_last_reading"' in blocked.text


def test_fallback_only_where_the_decision_core_has_no_expectation(
    ctx: AppContext, client: TestClient, seeded: Seeded
) -> None:
    """The meter's only reading came from this task's own mail (a reopened task whose reading
    billing took): the decision core leaves it out and has nothing; the form falls back to the
    last reading and a typical consumption."""
    with transaction(ctx.sessions) as session:
        for reading in session.scalars(select(Reading)):
            reading.inbound_message_id = seeded.message_id if reading.value > 11000 else None
            if reading.value < 11000:
                session.delete(reading)
    _set_details(ctx, seeded.task_id, None)
    csrf = login(client)
    page = client.get(f"/tasks/{seeded.task_id}").text
    assert 'data-source="fallback"' in page and "typisch für die Zählerart" in page
    fields = {"action": "correct", "value": "11.000,0", "meter_id": str(seeded.meter_id)}
    blocked = post_decision(client, csrf, seeded.task_id, **fields)
    assert blocked.status_code == 422 and 'value="below_last_reading"' in blocked.text


def test_prefill_keeps_the_decimals_without_a_matched_meter(
    ctx: AppContext, client: TestClient, seeded: Seeded
) -> None:
    with transaction(ctx.sessions) as session:
        task = session.get(ReviewTask, seeded.task_id)
        assert task is not None
        task.meter_id = None
        task.proposed_value = Decimal("93.004")
        task.candidates = []
    login(client)
    page = client.get(f"/tasks/{seeded.task_id}").text
    assert 'name="value" value="93,004"' in page


@pytest.mark.parametrize(
    ("typed", "codes"),
    [
        ("11.000,0", ["below_last_reading"]),
        ("123456", ["implausible_jump", "lost_decimal"]),
        ("12345", ["lost_decimal"]),
        ("99.000,0", ["implausible_jump"]),
    ],
)
def test_guard_blocks_until_confirmed_by_name(
    ctx: AppContext, client: TestClient, seeded: Seeded, typed: str, codes: list[str]
) -> None:
    csrf = login(client)
    fields = {"action": "correct", "value": typed, "meter_id": str(seeded.meter_id)}
    blocked = post_decision(client, csrf, seeded.task_id, **fields)
    assert blocked.status_code == 422
    assert f'name="confirm" value="{",".join(codes)}"' in blocked.text
    assert _booked(ctx) == []
    partly = post_decision(client, csrf, seeded.task_id, **fields, confirm=codes[0])
    assert (partly.status_code == 422) == (len(codes) > 1)
    if len(codes) > 1:
        assert _booked(ctx) == []
        booked = post_decision(client, csrf, seeded.task_id, **fields, confirm=",".join(codes))
        assert booked.status_code == 303
    [reading] = _booked(ctx)
    assert reading.meter_id == seeded.meter_id
    [row] = _audit(ctx, "task_corrected")
    assert row.details["confirmed"] == sorted(codes)
    assert row.details["proposed_value"] == "12345.6"


def test_rollover_needs_confirmation(ctx: AppContext, client: TestClient, seeded: Seeded) -> None:
    _add_reading(ctx, seeded.meter_id, "999950.0", dt.date(2026, 11, 10))
    csrf = login(client)
    fields = {"action": "correct", "value": "30,0", "meter_id": str(seeded.meter_id)}
    blocked = post_decision(client, csrf, seeded.task_id, **fields)
    assert blocked.status_code == 422 and 'value="meter_rollover"' in blocked.text
    assert (
        post_decision(client, csrf, seeded.task_id, **fields, confirm="meter_rollover").status_code
        == 303
    )
    assert [r.value for r in _booked(ctx)] == [Decimal("30.0")]


def _shows_another_counter(ctx: AppContext, task_id: int) -> None:
    """The task's display showed another unit or register than the meter's (a GJ screen on a
    meter billed in kWh); the proposal 12.345,6 fits the history as it stands."""
    with transaction(ctx.sessions) as session:
        task = session.get(ReviewTask, task_id)
        assert task is not None
        task.reason_codes = [reasons.OTHER_COUNTER_SHOWN]


def test_another_counters_value_is_booked_only_when_confirmed(
    ctx: AppContext, client: TestClient, seeded: Seeded
) -> None:
    _shows_another_counter(ctx, seeded.task_id)
    csrf = login(client)
    page = client.get(f"/tasks/{seeded.task_id}").text
    assert "Achtung – vor dem Buchen zu bestätigen" in page
    accept = {"action": "accept", "value": "12.345,6", "meter_id": str(seeded.meter_id)}
    blocked = post_decision(client, csrf, seeded.task_id, **accept)
    assert blocked.status_code == 422 and 'value="other_counter_shown"' in blocked.text
    assert _booked(ctx) == []
    confirmed = post_decision(client, csrf, seeded.task_id, **accept, confirm="other_counter_shown")
    assert confirmed.status_code == 303
    assert [r.value for r in _booked(ctx)] == [Decimal("12345.6")]
    [row] = _audit(ctx, "task_accepted")
    assert row.details["confirmed"] == ["other_counter_shown"]


def test_a_value_the_clerk_read_off_the_right_screen_needs_no_confirmation(
    ctx: AppContext, client: TestClient, seeded: Seeded
) -> None:
    _shows_another_counter(ctx, seeded.task_id)
    csrf = login(client)
    fields = {"action": "correct", "value": "12.301,2", "meter_id": str(seeded.meter_id)}
    assert post_decision(client, csrf, seeded.task_id, **fields).status_code == 303
    assert [r.value for r in _booked(ctx)] == [Decimal("12301.2")]


def test_batch_accept_leaves_another_counters_value_open(
    ctx: AppContext, client: TestClient, seeded: Seeded
) -> None:
    _shows_another_counter(ctx, seeded.task_id)
    outcome = accept_batch(ctx, [seeded.task_id], clerk=CLERK)
    assert (outcome.accepted, outcome.skipped) == (0, 1)
    assert _booked(ctx) == []


def test_api_enforces_the_guards_too(ctx: AppContext, client: TestClient, seeded: Seeded) -> None:
    csrf = login(client)
    body = {"action": "correct", "value": "11.000,0", "meter_id": seeded.meter_id}
    response = client.post(
        f"/api/tasks/{seeded.task_id}/decision", json=body, headers={"X-CSRF-Token": csrf}
    )
    assert response.status_code == 422
    assert response.json()["confirm"] == ["below_last_reading"]
    assert _booked(ctx) == []


def test_undo_within_minutes_removes_reading_and_unsent_mail(
    ctx: AppContext, client: TestClient, seeded: Seeded, clock: FrozenClock
) -> None:
    csrf = login(client)
    fields = {"action": "accept", "value": "12.345,6", "meter_id": str(seeded.meter_id)}
    assert post_decision(client, csrf, seeded.task_id, **fields).status_code == 303
    with ctx.sessions() as session:
        assert session.scalars(select(Outbox).where(Outbox.kind == "confirmation")).all()
    clock.advance(minutes=4)
    undone = client.post(f"/tasks/{seeded.task_id}/undo", data={"csrf_token": csrf},
                         follow_redirects=False)  # fmt: skip
    assert undone.status_code == 303
    assert _booked(ctx) == []
    with ctx.sessions() as session:
        task = session.get(ReviewTask, seeded.task_id)
        assert task is not None and (task.status, task.decision) == ("open", None)
        assert session.scalars(select(Outbox).where(Outbox.kind == "confirmation")).all() == []
    [row] = _audit(ctx, "task_undone")
    assert row.details["value"] == "12345.6" and row.details["unsent_mail_dropped"] == 1
    assert post_decision(client, csrf, seeded.task_id, **fields).status_code == 303
    clock.advance(minutes=6)
    late = client.post(f"/tasks/{seeded.task_id}/undo", data={"csrf_token": csrf})
    assert late.status_code == 409 and len(_booked(ctx)) == 1


def test_exported_reading_is_corrected_by_a_new_row_after_reopen(
    ctx: AppContext, client: TestClient, seeded: Seeded, clock: FrozenClock
) -> None:
    csrf = login(client)
    fields = {"action": "accept", "value": "12.345,6", "meter_id": str(seeded.meter_id)}
    assert post_decision(client, csrf, seeded.task_id, **fields).status_code == 303
    with transaction(ctx.sessions) as session:
        [original] = session.scalars(select(Reading).where(Reading.source != "import"))
        original.exported_at = clock()
    refused = client.post(f"/tasks/{seeded.task_id}/undo", data={"csrf_token": csrf})
    assert refused.status_code == 409 and "Abrechnung" in refused.text
    clerk_reopen = client.post(f"/tasks/{seeded.task_id}/reopen",
                               data={"csrf_token": csrf, "reason": "Tippfehler"})  # fmt: skip
    assert clerk_reopen.status_code == 403
    add_admin(ctx)
    with TestClient(create_app(ctx)) as admin:
        admin_csrf = login(admin, ADMIN, ADMIN_PASSWORD)
        reopened = admin.post(f"/tasks/{seeded.task_id}/reopen",
                              data={"csrf_token": admin_csrf, "reason": "Tippfehler"},
                              follow_redirects=False)  # fmt: skip
        assert reopened.status_code == 303
        corrected = post_decision(admin, admin_csrf, seeded.task_id, action="correct",
                            value="12.354,6", meter_id=str(seeded.meter_id))  # fmt: skip
        assert corrected.status_code == 303
    first, correction = _booked(ctx)
    assert (first.value, first.status, first.exported_at) == (
        Decimal("12345.6"),
        "superseded",
        clock(),
    )
    assert (correction.value, correction.corrects_id) == (Decimal("12354.6"), first.id)
    assert correction.exported_at is None and correction.status == "accepted"
    [reopen_row] = _audit(ctx, "task_reopened")
    assert reopen_row.actor == ADMIN and reopen_row.details["reason"] == "Tippfehler"
    [row] = _audit(ctx, "reading_corrected")
    assert (row.details["before"], row.details["after"]) == ("12345.6", "12354.6")


def test_rejection_reason_is_audited(ctx: AppContext, client: TestClient, seeded: Seeded) -> None:
    csrf = login(client)
    response = post_decision(client, csrf, seeded.task_id, action="reject", reason="Foto unscharf")
    assert response.status_code == 303
    [row] = _audit(ctx, "task_rejected")
    assert row.details["reason"] == "Foto unscharf"
    assert row.details["proposed_value"] == "12345.6"


def test_undoing_a_rejection_drops_the_unsent_resend_request(
    ctx: AppContext, client: TestClient, seeded: Seeded
) -> None:
    csrf = login(client)
    fields = {"action": "reject", "reason": "Foto unscharf", "ask_resend": "1"}
    assert post_decision(client, csrf, seeded.task_id, **fields).status_code == 303
    with ctx.sessions() as session:
        assert [m.kind for m in session.scalars(select(Outbox))] == ["resend_request"]
    undone = client.post(f"/tasks/{seeded.task_id}/undo", data={"csrf_token": csrf})
    assert undone.status_code == 200  # followed to the reopened task
    with ctx.sessions() as session:
        assert session.scalars(select(Outbox)).all() == []
        task = session.get(ReviewTask, seeded.task_id)
        assert task is not None and task.status == "open" and task.message.status == "review"
        assert task.note is None
