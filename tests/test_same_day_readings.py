"""A second, different reading of a meter on a day that already has one (from another mail) is
never booked beside the first: a clerk sees both, and a booking replaces the first (SQLite and
PostgreSQL)."""

from __future__ import annotations

import io
from decimal import Decimal

import pytest
from sqlalchemy import select

from core.context import AppContext
from core.models import AuditLog, Reading, ReviewTask
from core.settings import Settings
from core.types import MeterHint, MeterRead
from matching import reasons
from matching.export import export_readings
from matching.record import resolve_task
from review_ui.task_facts import task_facts
from review_ui.undo import undo
from tests.readers import per_hint
from tests.samples import numbered_photo_mail, seed_meter
from tests.test_intake_pipeline import all_of, good_read, run_one

CUSTOMER = "erika@example.de"


@per_hint
def other_read(data: bytes, hint: MeterHint, settings: Settings) -> MeterRead:
    return MeterRead(reading="04522", confidence=0.99, accepted=True, seconds=0.1)


def mail(n: int) -> bytes:
    return numbered_photo_mail(CUSTOMER, n)


@pytest.fixture
def booked_once(ctx: AppContext) -> tuple[AppContext, Reading]:
    with ctx.sessions.begin() as session:
        seed_meter(session, email=CUSTOMER, account="123456789", meter="12345678")
    assert run_one(ctx, mail(1), good_read).status == "accepted"
    [first] = all_of(ctx, Reading)
    return ctx, first


def exported(ctx: AppContext) -> list[tuple[str, str]]:
    out = io.StringIO()
    export_readings(ctx, out, since=None, mark=False)
    rows = [line.split(";") for line in out.getvalue().splitlines()[1:]]
    return [(row[3], row[9]) for row in rows]  # value, corrects


def test_another_value_the_same_day_goes_to_a_clerk_with_the_first_reading(
    booked_once: tuple[AppContext, Reading],
) -> None:
    ctx, first = booked_once
    second = run_one(ctx, mail(2), other_read)
    assert second.status == "review"
    assert [r.id for r in all_of(ctx, Reading)] == [first.id]  # nothing booked beside it
    [task] = all_of(ctx, ReviewTask)
    assert task.reason_codes == [reasons.OTHER_READING_SAME_DAY]  # nothing else against it
    assert reasons.label(reasons.OTHER_READING_SAME_DAY) == (
        "Für diesen Tag ist schon ein anderer Zählerstand gebucht"
    )
    assert task.proposed_value == Decimal(4522)
    assert task.details["same_day_reading_id"] == first.id
    assert task.details["same_day_ledger_id"] == first.inbound_message_id
    assert task.details["same_day_value"] == "4521"
    with ctx.sessions() as session:
        facts = task_facts(session.get(ReviewTask, task.id))  # type: ignore[arg-type]
    assert ("facts.same_day_mail", f"#{first.inbound_message_id}",
            f"/messages?id={first.inbound_message_id}") in facts  # fmt: skip
    assert ("facts.same_day_value", "4.521 m³", None) in facts
    assert exported(ctx) == [("4521", "")]


def test_the_clerks_booking_replaces_the_first_reading_in_the_export(
    booked_once: tuple[AppContext, Reading],
) -> None:
    ctx, first = booked_once
    run_one(ctx, mail(2), other_read)
    [task] = all_of(ctx, ReviewTask)
    with ctx.sessions.begin() as session:
        resolution = resolve_task(
            session, task.id, action="accept", value=None, meter_id=None, clerk="anna",
            now=ctx.clock(),
        )  # fmt: skip
    assert resolution.warnings == ()  # judged without the reading it replaces
    with ctx.sessions() as session:
        old = session.get(Reading, first.id)
        new = session.get(Reading, resolution.reading_id)
        assert old is not None and new is not None
        assert (old.status, new.status, new.corrects_id) == ("superseded", "accepted", old.id)
        assert new.read_on == old.read_on
        audit = session.scalars(
            select(AuditLog).where(AuditLog.action == "reading_superseded")
        ).one()
        assert audit.entity_id == old.id and audit.actor == "anna"
    assert exported(ctx) == [("4522", str(first.id))]


def test_undoing_the_booking_puts_the_first_reading_back_in_force(
    booked_once: tuple[AppContext, Reading],
) -> None:
    ctx, first = booked_once
    run_one(ctx, mail(2), other_read)
    [task] = all_of(ctx, ReviewTask)
    with ctx.sessions.begin() as session:
        resolve_task(
            session, task.id, action="accept", value=None, meter_id=None, clerk="anna",
            now=ctx.clock(),
        )  # fmt: skip
    with ctx.sessions.begin() as session:
        undo(session, task.id, clerk="anna", now=ctx.clock())
    assert [(r.id, r.status) for r in all_of(ctx, Reading)] == [(first.id, "accepted")]
    assert exported(ctx) == [("4521", "")]


def test_a_clerk_rejecting_it_keeps_the_first_reading(
    booked_once: tuple[AppContext, Reading],
) -> None:
    ctx, first = booked_once
    run_one(ctx, mail(2), other_read)
    [task] = all_of(ctx, ReviewTask)
    with ctx.sessions.begin() as session:
        resolve_task(
            session, task.id, action="reject", value=None, meter_id=None, clerk="anna",
            now=ctx.clock(),
        )  # fmt: skip
    assert [(r.id, r.status) for r in all_of(ctx, Reading)] == [(first.id, "accepted")]
    assert exported(ctx) == [("4521", "")]


def test_the_same_value_again_and_another_value_the_next_day_are_booked(
    booked_once: tuple[AppContext, Reading],
) -> None:
    ctx, first = booked_once
    assert run_one(ctx, mail(2), good_read).status == "accepted"  # booked once
    assert [r.id for r in all_of(ctx, Reading)] == [first.id]
    ctx.clock.advance(days=1)  # type: ignore[attr-defined]
    assert run_one(ctx, mail(3), other_read).status == "accepted"
    assert sorted(r.value for r in all_of(ctx, Reading)) == [Decimal(4521), Decimal(4522)]
    assert not all_of(ctx, ReviewTask)
