"""record_decision, resolve_task, history and meter search on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Literal

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.context import AppContext
from core.db import transaction
from core.errors import ConflictError, InvalidInputError, NotFoundError
from core.models import AuditLog, InboundMessage, Reading, ReviewTask
from core.types import DigitRead, MeterRead
from matching import reasons
from matching.decide import decide
from matching.history import find_meters, meter_history
from matching.record import RecordOutcome, record_decision, resolve_task
from matching.resolve import match_submission
from tests.test_matching_resolve import TODAY, Seed, photo, seed, submission

NOW = dt.datetime(2026, 11, 20, 10, 0, tzinfo=dt.UTC)


def ledger(session: Session, sender: str, number: int = 1) -> int:
    message = InboundMessage(
        mailbox="INBOX",
        source_key=f"maildir:{number}",
        message_id=f"<m{number}@example.org>",
        sha256="0" * 64,
        sender=sender,
        received_at=dt.datetime(2026, 11, 19, 23, 30, tzinfo=dt.UTC),  # 20.11. in Berlin
        status="processing",
    )
    session.add(message)
    session.flush()
    return message.id


def process(
    session: Session, sender: str, read: MeterRead | None, ledger_id: int, **hints: tuple[str, ...]
) -> RecordOutcome:
    match = match_submission(session, submission(sender, **hints), read, today=TODAY)
    decision = decide(match, read, min_confidence=0.9)
    return record_decision(
        session,
        ledger_id=ledger_id,
        photo_id=None,
        read_on=TODAY,
        match=match,
        decision=decision,
        read=read,
    )


def count(session: Session, model: type) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


def test_accept_writes_reading_and_audit_once(ctx: AppContext) -> None:
    with transaction(ctx.sessions) as session:
        ids = seed(session)
        lid = ledger(session, "john.smith@example.org")
        first = process(session, "john.smith@example.org", photo("00123", "456"), lid)
    with transaction(ctx.sessions) as session:
        second = process(session, "john.smith@example.org", photo("00123", "456"), lid)
        reading = session.get(Reading, first.reading_id)
        assert reading is not None
        assert (reading.meter_id, reading.value, reading.read_on) == (
            ids.w_meter,
            Decimal("123.456"),
            TODAY,
        )
        assert (reading.source, reading.accepted_by, reading.inbound_message_id) == (
            "photo",
            "auto",
            lid,
        )
        assert count(session, Reading) == 4  # 3 seeded + 1
        audits = session.scalars(select(AuditLog).where(AuditLog.action == "reading_accepted"))
        assert [a.entity_id for a in audits] == [first.reading_id]
    assert first.outcome == "accept" and first.created and not second.created
    assert second.reading_id == first.reading_id
    assert (first.meter_number, first.unit, first.decimal_digits) == ("W-123", "m3", 3)
    assert (first.customer_email, first.customer_language) == ("John.Smith@Example.org", "en")


def test_review_writes_task_with_candidates_once(ctx: AppContext) -> None:
    unsure = DigitRead(value=5, confidence=0.5, alternatives=((5, 0.5), (6, 0.45)))
    sure = tuple(DigitRead(value=int(c), confidence=0.99) for c in "01250")
    read = MeterRead(reading="01250", fraction="5", confidence=0.7, digits=(*sure, unsure))
    with transaction(ctx.sessions) as session:
        ids = seed(session)
        lid = ledger(session, "erika@example.org")
        first = process(session, "erika@example.org", read, lid)
        again = process(session, "erika@example.org", read, lid)
        task = session.get(ReviewTask, first.task_id)
        assert task is not None and count(session, ReviewTask) == 1
        assert task.reason_codes == [reasons.AMBIGUOUS_METER, reasons.LOW_CONFIDENCE]
        assert task.proposed_value == Decimal("1250.5") and task.meter_id is None
        meters = [c["meter_id"] for c in task.candidates if c["kind"] == "meter"]
        assert set(meters) == {ids.e_meter, ids.g_meter}
        values = [(c["value"], c["source"]) for c in task.candidates if c["kind"] == "value"]
        assert values == [("1250.5", "photo"), ("1250.6", "ocr_alternative")]
        assert count(session, AuditLog) == 1
    assert first.outcome == again.outcome == "review"
    assert again.task_id == first.task_id and not again.created
    assert first.customer_email == "erika@example.org"


def test_reject_books_nothing_but_audits_once(ctx: AppContext) -> None:
    with transaction(ctx.sessions) as session:
        seed(session)
        lid = ledger(session, "erika@example.org")
        first = process(session, "erika@example.org", None, lid)
        process(session, "erika@example.org", None, lid)
        assert first.outcome == "reject" and first.reading_id is None and first.task_id is None
        assert first.customer_name == "Erika Mustermann"
        assert count(session, ReviewTask) == 0 and count(session, Reading) == 3
        assert count(session, AuditLog) == 1


def _task(
    ctx: AppContext, sender: str, read: MeterRead | None, **hints: tuple[str, ...]
) -> tuple[Seed, int]:
    with transaction(ctx.sessions) as session:
        ids = seed(session)
        outcome = process(session, sender, read, ledger(session, sender), **hints)
        assert outcome.task_id is not None
        return ids, outcome.task_id


def test_clerk_accepts_proposal(ctx: AppContext) -> None:
    ids, task_id = _task(ctx, "stranger@example.net", photo("00123", "456"), meters=("W-123",))
    with transaction(ctx.sessions) as session:
        result = resolve_task(
            session, task_id, action="accept", value=None, meter_id=None, clerk="petra", now=NOW
        )
    with ctx.sessions() as session:
        reading = session.get(Reading, result.reading_id)
        task = session.get(ReviewTask, task_id)
        assert reading is not None and task is not None
        assert (reading.value, reading.source, reading.accepted_by) == (
            Decimal("123.456"),
            "photo",
            "petra",
        )
        assert reading.read_on == dt.date(2026, 11, 20)  # mail's date in Berlin
        assert (task.status, task.decision, task.decided_by) == ("done", "accepted", "petra")
        assert (
            session.scalar(select(AuditLog.actor).where(AuditLog.action == "task_accepted"))
            == "petra"
        )
    assert result.meter_id == ids.w_meter and result.warnings == ()
    assert (result.customer_email, result.customer_language, result.unit) == (
        "John.Smith@Example.org",
        "en",
        "m3",
    )
    assert (result.message_id, result.sender) == ("<m1@example.org>", "stranger@example.net")


def test_clerk_correction_books_with_warnings_and_refuses_impossible_values(
    ctx: AppContext,
) -> None:
    ids, task_id = _task(ctx, "erika@example.org", photo())
    with transaction(ctx.sessions) as session, pytest.raises(InvalidInputError):
        resolve_task(
            session,
            task_id,
            action="correct",
            value=Decimal("1000000"),
            meter_id=ids.e_meter,
            clerk="petra",
            now=NOW,
        )
    with transaction(ctx.sessions) as session:
        result = resolve_task(
            session,
            task_id,
            action="correct",
            value=Decimal("11000.5"),
            meter_id=ids.e_meter,
            clerk="petra",
            now=NOW,
        )
    assert result.decision == "corrected" and result.warnings == (reasons.BELOW_LAST_READING,)
    with ctx.sessions() as session:
        reading = session.get(Reading, result.reading_id)
        assert reading is not None
        assert (reading.meter_id, reading.value, reading.source) == (
            ids.e_meter,
            Decimal("11000.5"),
            "clerk",
        )
        assert session.get(ReviewTask, task_id).meter_id == ids.e_meter  # type: ignore[union-attr]


def test_decided_task_cannot_be_decided_again(ctx: AppContext) -> None:
    _, task_id = _task(ctx, "erika@example.org", photo())
    with transaction(ctx.sessions) as session:
        result = resolve_task(
            session, task_id, action="reject", value=None, meter_id=None, clerk="petra", now=NOW
        )
        assert result.decision == "rejected" and result.reading_id is None
    with transaction(ctx.sessions) as session, pytest.raises(ConflictError, match="petra"):
        resolve_task(
            session, task_id, action="accept", value=None, meter_id=None, clerk="olaf", now=NOW
        )
    with ctx.sessions() as session:
        assert count(session, Reading) == 3
    with transaction(ctx.sessions) as session, pytest.raises(NotFoundError):
        resolve_task(session, 999, action="reject", value=None, meter_id=None, clerk="x", now=NOW)


def test_accept_needs_a_meter(ctx: AppContext) -> None:
    _, task_id = _task(ctx, "erika@example.org", photo())
    with transaction(ctx.sessions) as session, pytest.raises(InvalidInputError):
        resolve_task(
            session, task_id, action="accept", value=None, meter_id=None, clerk="p", now=NOW
        )


def test_history_and_search(ctx: AppContext) -> None:
    with transaction(ctx.sessions) as session:
        ids = seed(session)
        session.add(
            Reading(
                meter_id=ids.e_meter,
                value=Decimal("12310.0"),
                read_on=dt.date(2026, 11, 1),
                source="photo",
            )
        )
    with ctx.sessions() as session:
        points = meter_history(session, ids.e_meter)
        assert [(p.value, p.consumption, p.per_day) for p in points] == [
            (Decimal("12000.0"), None, None),
            (Decimal("12310.0"), Decimal("310.0"), Decimal("10.000")),
        ]
        assert [h.meter_number for h in find_meters(session, "1esy 1160")] == ["1ESY1160123456"]
        assert {h.meter_number for h in find_meters(session, "100200300")} == {
            "1ESY1160123456",
            "GAS-0815",
        }
        assert {h.meter_number for h in find_meters(session, "smith")} == {"W-123", "W-OLD"}
        assert find_meters(session, "x") == []


@pytest.mark.parametrize(("action", "status"), [("accept", "accepted"), ("reject", "rejected")])
def test_mail_status_follows_the_clerks_decision(
    ctx: AppContext, action: Literal["accept", "reject"], status: str
) -> None:
    _, task_id = _task(ctx, "stranger@example.net", photo("00123", "456"), meters=("W-123",))
    with transaction(ctx.sessions) as session:
        task = session.get(ReviewTask, task_id)
        assert task is not None
        task.message.status = "review"
    with transaction(ctx.sessions) as session:
        resolve_task(
            session, task_id, action=action, value=None, meter_id=None, clerk="petra", now=NOW
        )
    with ctx.sessions() as session:
        task = session.get(ReviewTask, task_id)
        assert task is not None and task.message.status == status
