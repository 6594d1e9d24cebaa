"""An unreadable photo: a clerk's task, and the customer asked for a new photo. The task says so
("Neues Foto angefordert") and is closed, linked to the new mail, once the new photo's reading is
booked (automatically or by a clerk); the old mail then books nothing and sends nothing more
(SQLite and PostgreSQL)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from fastapi.testclient import TestClient

from core.context import AppContext
from core.models import AuditLog, InboundMessage, Outbox, Reading, ReviewTask
from core.settings import Settings
from core.types import MeterHint, MeterRead
from review_ui.decisions import AlreadyDecided, DecisionInput, decide
from review_ui.i18n import translator
from review_ui.task_facts import task_facts
from tests.readers import per_hint
from tests.samples import numbered_photo_mail, seed_meter
from tests.test_intake_pipeline import all_of, good_read, run_one, unsure_read
from tests.ui_seed import login

CUSTOMER = "erika@example.de"


@per_hint
def unreadable(data: bytes, hint: MeterHint, settings: Settings) -> MeterRead:
    return MeterRead(reading=None, reason="no_counter")


def mail(n: int) -> bytes:
    return numbered_photo_mail(CUSTOMER, n)


@pytest.fixture
def asked(ctx: AppContext) -> tuple[AppContext, ReviewTask]:
    """The first mail's photo could not be read: a task, and a request for a new photo."""
    with ctx.sessions.begin() as session:
        seed_meter(session, email=CUSTOMER, account="123456789", meter="12345678")
    assert run_one(ctx, mail(1), unreadable).status == "review"
    [task] = all_of(ctx, ReviewTask)
    assert [m.kind for m in all_of(ctx, Outbox)] == ["resend_request"]
    return ctx, task


def _task(ctx: AppContext, task_id: int) -> ReviewTask:
    with ctx.sessions() as session:
        task = session.get(ReviewTask, task_id)
        assert task is not None
        return task


def test_the_task_says_a_new_photo_was_requested(asked: tuple[AppContext, ReviewTask]) -> None:
    ctx, task = asked
    assert task.details is not None
    assert task.details["new_photo_requested"] == ctx.clock().isoformat()
    [fact] = task_facts(task)
    assert (fact.key, fact.text) == ("facts.new_photo", "20.11.2026 10:30")  # Berlin time
    assert translator("de")("facts.new_photo") == "Neues Foto angefordert"
    assert translator("en")("facts.new_photo") == "New photo requested"


def test_the_new_photos_booking_closes_the_task_with_a_link_and_nothing_more_is_sent(
    asked: tuple[AppContext, ReviewTask],
) -> None:
    ctx, old = asked
    new = run_one(ctx, mail(2), good_read)
    assert new.status == "accepted"
    [reading] = all_of(ctx, Reading)
    assert reading.inbound_message_id == new.id
    task = _task(ctx, old.id)
    assert (task.status, task.decision, task.decided_by) == ("done", "superseded", "auto")
    assert task.details is not None and task.details["replaced_by_ledger_id"] == new.id
    assert task.details["replaced_by_reading_id"] == reading.id
    assert task.note == f"Neues Foto gebucht (Eingang #{new.id})"
    facts = {f.key: f for f in task_facts(task)}
    assert facts["facts.replaced_by_mail"].href == f"/messages?id={new.id}"
    [first_mail] = [m for m in all_of(ctx, InboundMessage) if m.id == old.inbound_message_id]
    assert first_mail.status == "rejected"  # settled: it booked nothing
    audits = [a for a in all_of(ctx, AuditLog) if a.action == "task_closed_new_photo"]
    assert [a.entity_id for a in audits] == [old.id]
    # the old mail cannot book a reading after the new one, nor send a second reply
    late = DecisionInput("correct", Decimal(4519), task.meter_id,
                         confirmed=frozenset({"below_last_reading"}))  # fmt: skip
    with pytest.raises(AlreadyDecided):
        decide(ctx, old.id, late, clerk="petra")
    assert [r.id for r in all_of(ctx, Reading)] == [reading.id]
    assert sorted(m.kind for m in all_of(ctx, Outbox)) == ["confirmation", "resend_request"]


def test_a_new_photo_a_clerk_must_check_closes_the_task_when_the_clerk_books_it(
    asked: tuple[AppContext, ReviewTask],
) -> None:
    ctx, old = asked
    assert run_one(ctx, mail(2), unsure_read).status == "review"
    assert _task(ctx, old.id).status == "open"  # nothing booked yet: the old task stays
    [new_task] = [t for t in all_of(ctx, ReviewTask) if t.id != old.id]
    decide(ctx, new_task.id, DecisionInput("accept", new_task.proposed_value, new_task.meter_id),
           clerk="petra")  # fmt: skip
    task = _task(ctx, old.id)
    assert (task.status, task.decision) == ("done", "superseded")
    assert task.details is not None
    assert task.details["replaced_by_ledger_id"] == new_task.inbound_message_id


def test_a_clerk_who_decides_first_leaves_the_new_photo_to_book_as_usual(
    asked: tuple[AppContext, ReviewTask],
) -> None:
    ctx, old = asked
    decide(ctx, old.id, DecisionInput("correct", Decimal(4519), old.meter_id), clerk="petra")
    assert run_one(ctx, mail(2), good_read).status == "review"  # another value the same day
    task = _task(ctx, old.id)
    assert (task.decision, task.decided_by) == ("corrected", "petra")  # left as decided


def test_the_task_page_shows_the_request_and_the_closing_mail(
    asked: tuple[AppContext, ReviewTask], client: TestClient
) -> None:
    ctx, old = asked
    login(client)
    page = client.get(f"/tasks/{old.id}").text
    assert "Neues Foto angefordert" in page and "20.11.2026 10:30" in page
    new = run_one(ctx, mail(2), good_read)
    page = client.get(f"/tasks/{old.id}").text
    assert "Ersetzt" in page and f"Neues Foto gebucht (Eingang #{new.id})" in page
    assert f'href="/messages?id={new.id}"' in page
    english = client.get(f"/tasks/{old.id}?lang=en").text
    assert "New photo requested" in english and "Replaced" in english


@per_hint
def cold_water_plate(data: bytes, hint: MeterHint, settings: Settings) -> MeterRead:
    return MeterRead(reading="04521", confidence=0.99, accepted=True, meter_number="12345678")


def test_a_task_with_several_candidate_meters_closes_when_the_new_photo_books_one_of_them(
    ctx: AppContext,
) -> None:
    with ctx.sessions.begin() as session:
        seed_meter(session, email=CUSTOMER, account="123456789", meter="12345678")
        seed_meter(session, email=CUSTOMER, account="123456780", meter="87654321")
    assert run_one(ctx, mail(1), unreadable).status == "review"
    [old] = all_of(ctx, ReviewTask)
    meters = {c["meter_id"] for c in old.candidates or [] if c["kind"] == "meter"}
    assert old.meter_id is None and len(meters) == 2  # none chosen
    new = run_one(ctx, mail(2), cold_water_plate)
    assert new.status == "accepted"
    [reading] = all_of(ctx, Reading)
    assert reading.meter_id in meters
    task = _task(ctx, old.id)
    assert (task.status, task.decision, task.decided_by) == ("done", "superseded", "auto")
    assert task.details is not None and task.details["replaced_by_ledger_id"] == new.id
    audits = [a for a in all_of(ctx, AuditLog) if a.action == "task_closed_new_photo"]
    assert [a.entity_id for a in audits] == [old.id]
