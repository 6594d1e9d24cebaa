"""Transactional outbox: idempotency (also under a race), recipient checks, bounces."""

from __future__ import annotations

import datetime as dt
import threading
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.context import AppContext
from core.db import transaction
from core.models import Customer, InboundMessage, Outbox
from notifications.bounces import BOUNCE_ERROR, record_bounce
from notifications.errors import InvalidRecipientError
from notifications.outbox import (
    MAX_REPLIES_PER_DAY,
    ConfirmedReading,
    enqueue,
    queue_confirmation,
    queue_resend_request,
    queue_review_notice,
)
from tests.conftest import FrozenClock

WINDOW = {
    "meters": [{"number": "M1", "kind": "water"}],
    "due_from": dt.date(2026, 11, 1),
    "due_to": dt.date(2026, 11, 30),
}


def _enqueue(ctx: AppContext, key: str = "reminder:1:1", **overrides: Any) -> bool:
    args: dict[str, Any] = {"kind": "reminder", "recipient": "erika@example.org",
                            "language": "de", "context": WINDOW, "idempotency_key": key,
                            "now": ctx.clock()}  # fmt: skip
    args.update(overrides)
    with transaction(ctx.sessions) as session:
        return enqueue(session, **args)


def _rows(ctx: AppContext) -> list[Outbox]:
    with ctx.sessions() as session:
        return list(session.scalars(select(Outbox).order_by(Outbox.id)))


def test_enqueue_renders_and_stores_a_pending_row(ctx: AppContext, clock: FrozenClock) -> None:
    assert _enqueue(ctx, in_reply_to=" <orig@customer.example>\r\n", language="de-AT")
    [row] = _rows(ctx)
    assert (row.kind, row.recipient, row.language, row.status) == (
        "reminder", "erika@example.org", "de", "pending")  # fmt: skip
    assert row.subject == "Bitte teilen Sie uns Ihren Zählerstand mit – Zähler M1"
    assert "01.11.2026 bis 30.11.2026" in row.body_text
    assert row.body_html is not None and "<!DOCTYPE html>" in row.body_html
    assert row.in_reply_to == "<orig@customer.example>"
    assert row.next_attempt_at == clock.now and row.attempts == 0


def test_same_key_twice_gives_one_row(ctx: AppContext) -> None:
    assert _enqueue(ctx) is True
    assert _enqueue(ctx, recipient="other@example.org") is False
    assert [row.recipient for row in _rows(ctx)] == ["erika@example.org"]


def test_enqueue_joins_the_callers_transaction(ctx: AppContext) -> None:
    with pytest.raises(RuntimeError), transaction(ctx.sessions) as session:
        enqueue(session, kind="reminder", recipient="erika@example.org", language="de",
                context=WINDOW, idempotency_key="k", now=ctx.clock())  # fmt: skip
        raise RuntimeError("the state change failed")
    assert _rows(ctx) == []


def test_two_racing_transactions_queue_one_mail(ctx: AppContext) -> None:
    """B inserts the same key while A's insert is uncommitted: B waits, then inserts nothing."""
    results: dict[str, bool] = {}
    errors: list[BaseException] = []
    a_inserted, release_a, b_returned = threading.Event(), threading.Event(), threading.Event()

    def first() -> None:
        try:
            with transaction(ctx.sessions) as session:
                results["a"] = enqueue(session, kind="reminder", recipient="erika@example.org",
                                       language="de", context=WINDOW,
                                       idempotency_key="race", now=ctx.clock())  # fmt: skip
                a_inserted.set()
                release_a.wait(10)
        except BaseException as exc:
            errors.append(exc)
            a_inserted.set()

    def second() -> None:
        try:
            results["b"] = _enqueue(ctx, key="race", recipient="twice@example.org")
        except BaseException as exc:
            errors.append(exc)
        b_returned.set()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    threads[0].start()
    assert a_inserted.wait(10)
    threads[1].start()
    assert not b_returned.wait(0.3), "B must wait for A's uncommitted row"
    release_a.set()
    for thread in threads:
        thread.join(20)
    assert errors == []
    assert results == {"a": True, "b": False}
    assert [row.recipient for row in _rows(ctx)] == ["erika@example.org"]


@pytest.mark.parametrize(
    "recipient",
    [
        "erika@example.org\r\nBcc: victim@example.org",
        "erika@example.org\nX-Evil: 1",
        "Erika <erika@example.org>",
        "erika@localhost",
        "no-address",
        "",
    ],
)
def test_bad_or_injecting_recipient_is_refused(ctx: AppContext, recipient: str) -> None:
    with pytest.raises(InvalidRecipientError):
        _enqueue(ctx, recipient=recipient)
    assert _rows(ctx) == []


def test_bounced_customer_gets_nothing(ctx: AppContext, clock: FrozenClock) -> None:
    with transaction(ctx.sessions) as session:
        session.add(Customer(name="Erika", email="Erika@Example.org", email_bounced_at=clock.now))
    assert _enqueue(ctx, recipient="erika@example.ORG") is False
    assert _rows(ctx) == []


def test_record_bounce_marks_customers_and_cancels_pending_mail(
    ctx: AppContext, clock: FrozenClock
) -> None:
    with transaction(ctx.sessions) as session:
        session.add_all([Customer(name="A", email="a@example.org"),
                         Customer(name="B", email="b@example.org")])  # fmt: skip
    _enqueue(ctx, key="k1", recipient="a@example.org")
    _enqueue(ctx, key="k2", recipient="b@example.org")
    with transaction(ctx.sessions) as session:
        sent = Outbox(kind="reminder", recipient="a@example.org", subject="s", body_text="b",
                      idempotency_key="k0", status="sent", message_id="<k0@ours>")  # fmt: skip
        session.add(sent)
    refs = ["<k0@ours>"]
    with transaction(ctx.sessions) as session:
        forged = record_bounce(session, ["b@example.org"], references=refs, now=clock.now)
        marked = record_bounce(
            session, [" A@EXAMPLE.ORG ", "unknown@example.org"], references=refs, now=clock.now
        )
    with transaction(ctx.sessions) as session:
        again = record_bounce(
            session, ["a@example.org"], references=refs, now=clock.now + dt.timedelta(days=1)
        )
    assert (forged, marked, again) == (0, 1, 0)
    with ctx.sessions() as session:
        bounced = dict(session.execute(select(Customer.email, Customer.email_bounced_at)).all())
    assert bounced == {"a@example.org": clock.now, "b@example.org": None}
    statuses = {row.recipient: (row.status, row.last_error) for row in _rows(ctx)[:2]}
    assert statuses == {
        "a@example.org": ("failed", BOUNCE_ERROR),
        "b@example.org": ("pending", None),
    }
    assert _enqueue(ctx, key="k3", recipient="a@example.org") is False


def _inbound(session: Session, number: int) -> int:
    message = InboundMessage(mailbox="INBOX", source_key=f"maildir:{number}", sha256="0" * 64)
    session.add(message)
    session.flush()
    return message.id


def test_convenience_helpers_use_documented_keys(ctx: AppContext, clock: FrozenClock) -> None:
    reading = ConfirmedReading("1ESY1", Decimal("12345.6"), "kWh", dt.date(2026, 11, 20), 1)
    to: dict[str, Any] = {"recipient": "erika@example.org", "language": "de", "now": clock.now}
    with transaction(ctx.sessions) as session:
        m1, m2, m3 = (_inbound(session, number) for number in range(3))
        assert queue_confirmation(session, inbound_message_id=m1, readings=[reading], **to)
        assert not queue_confirmation(session, inbound_message_id=m1, readings=[reading], **to)
        assert queue_confirmation(
            session, inbound_message_id=m1, readings=[reading], review_task_id=3, **to
        )
        assert queue_review_notice(session, inbound_message_id=m2, **to)
        assert queue_resend_request(session, inbound_message_id=m3, reason="no_photo", **to)
    rows = {row.idempotency_key: row for row in _rows(ctx)}
    assert set(rows) == {
        f"confirmation:{m1}",
        f"confirmation:{m1}:review:3",
        f"received_review:{m2}",
        f"resend_request:{m3}",
    }
    assert "12.345,6 kWh" in rows[f"confirmation:{m1}"].body_text
    assert rows[f"received_review:{m2}"].inbound_message_id == m2
    assert rows[f"resend_request:{m3}"].subject == "Bitte senden Sie uns ein Foto Ihres Zählers"


def test_reply_brake_stops_a_mail_loop(ctx: AppContext) -> None:
    for number in range(MAX_REPLIES_PER_DAY):
        assert _enqueue(ctx, key=f"resend_request:{number}", kind="resend_request",
                        context={"reason": "no_photo"})  # fmt: skip
    assert not _enqueue(ctx, key="resend_request:x", kind="resend_request",
                        context={"reason": "no_photo"})  # fmt: skip
    assert _enqueue(ctx, key="reminder:9:9")  # reminders are not replies
    with ctx.sessions() as session:
        assert session.scalar(select(func.count(Outbox.id))) == MAX_REPLIES_PER_DAY + 1
