"""send_due against a real aiosmtpd server: delivery, backoff, failures, no duplicates."""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
from decimal import Decimal
from email.message import EmailMessage

import pytest
from sqlalchemy import select

from core.context import AppContext
from core.db import transaction
from core.models import InboundMessage, Outbox
from notifications.dispatch import claim_lease, send_due
from notifications.headers import make_message_id
from notifications.outbox import ConfirmedReading, enqueue, queue_confirmation
from notifications.smtp import SmtpSender
from tests.conftest import FrozenClock
from tests.fixtures_smtp import SmtpTestServer

WINDOW = {
    "meters": [{"number": "M1", "kind": "water"}],
    "due_from": dt.date(2026, 11, 1),
    "due_to": dt.date(2026, 11, 30),
}


def _queue_reminder(ctx: AppContext, key: str, recipient: str = "erika@example.org") -> None:
    with transaction(ctx.sessions) as session:
        assert enqueue(session, kind="reminder", recipient=recipient, language="de",
                       context=WINDOW, idempotency_key=key, now=ctx.clock())  # fmt: skip


def _row(ctx: AppContext, key: str) -> Outbox:
    with ctx.sessions() as session:
        return session.scalars(select(Outbox).where(Outbox.idempotency_key == key)).one()


def test_confirmation_arrives_with_loop_safe_headers(
    smtp_ctx: AppContext, smtp_server: SmtpTestServer, clock: FrozenClock
) -> None:
    reading = ConfirmedReading("1ESY1", Decimal("12345.6"), "kWh", dt.date(2026, 11, 20), 1)
    with transaction(smtp_ctx.sessions) as session:
        inbound = InboundMessage(mailbox="INBOX", source_key="maildir:1", sha256="0" * 64)
        session.add(inbound)
        session.flush()
        assert queue_confirmation(
            session, recipient="joerg@example.org", language="de", inbound_message_id=inbound.id,
            readings=[reading], now=clock.now, in_reply_to="<photo-1@customer.example>",
            customer_name="Jörg <script>",
        )  # fmt: skip
    report = send_due(smtp_ctx)
    assert (report.sent, report.retried, report.failed) == (1, 0, 0)
    [mail] = smtp_server.wait_for(1)
    key = f"confirmation:{inbound.id}"
    assert mail["To"] == "joerg@example.org"
    assert mail["Subject"] == "Ihr Zählerstand wurde übernommen – Zähler 1ESY1"
    assert mail["Auto-Submitted"] == "auto-replied"
    assert mail["X-Auto-Response-Suppress"] == "All"
    assert mail["In-Reply-To"] == mail["References"] == "<photo-1@customer.example>"
    assert mail["Message-ID"] == make_message_id(key, smtp_ctx.settings.mail_from)
    _assert_parts(mail)
    row = _row(smtp_ctx, key)
    assert (row.status, row.attempts, row.sent_at) == ("sent", 1, clock.now)
    assert row.message_id == mail["Message-ID"]


def _assert_parts(mail: EmailMessage) -> None:
    assert mail.get_content_type() == "multipart/alternative"
    text = mail.get_body(preferencelist=("plain",))
    html = mail.get_body(preferencelist=("html",))
    assert text is not None and html is not None
    assert "Zählerstand:   12.345,6 kWh" in text.get_content()
    assert "Guten Tag Jörg <script>," in text.get_content()
    assert "12.345,6 kWh" in html.get_content()
    assert "Jörg &lt;script&gt;" in html.get_content()


def test_reminder_is_marked_auto_generated(
    smtp_ctx: AppContext, smtp_server: SmtpTestServer
) -> None:
    _queue_reminder(smtp_ctx, "reminder:1:1")
    send_due(smtp_ctx)
    [mail] = smtp_server.wait_for(1)
    assert mail["Auto-Submitted"] == "auto-generated"
    assert mail["In-Reply-To"] is None


def test_nothing_is_sent_twice_across_runs(
    smtp_ctx: AppContext, smtp_server: SmtpTestServer, clock: FrozenClock
) -> None:
    _queue_reminder(smtp_ctx, "reminder:1:1")
    _queue_reminder(smtp_ctx, "reminder:1:2", "jan@example.org")
    assert send_due(smtp_ctx).sent == 2
    clock.advance(days=2)
    assert send_due(smtp_ctx).sent == 0
    smtp_server.wait_for(2)
    smtp_server.assert_no_more(2)
    assert sorted(m["To"] for m in smtp_server.messages) == ["erika@example.org", "jan@example.org"]


def test_temporary_rejection_is_retried_with_backoff(
    smtp_ctx: AppContext, smtp_server: SmtpTestServer, clock: FrozenClock
) -> None:
    start = clock.now
    smtp_server.script("451 4.3.0 Try again later", "451 4.3.0 Try again later")
    _queue_reminder(smtp_ctx, "reminder:1:1")
    assert send_due(smtp_ctx).retried == 1
    row = _row(smtp_ctx, "reminder:1:1")
    assert (row.status, row.attempts) == ("pending", 1)
    assert row.next_attempt_at == start + dt.timedelta(seconds=60)
    assert row.last_error is not None and "451" in row.last_error
    assert send_due(smtp_ctx).sent == 0  # not due yet
    clock.advance(seconds=60)
    assert send_due(smtp_ctx).retried == 1
    assert _row(smtp_ctx, "reminder:1:1").next_attempt_at == clock.now + dt.timedelta(seconds=120)
    clock.advance(seconds=120)
    assert send_due(smtp_ctx).sent == 1
    assert len(smtp_server.wait_for(1)) == 1
    row = _row(smtp_ctx, "reminder:1:1")
    assert (row.status, row.attempts, row.last_error) == ("sent", 3, None)


def test_gives_up_after_max_attempts(
    smtp_ctx: AppContext, smtp_server: SmtpTestServer, clock: FrozenClock
) -> None:
    settings = smtp_ctx.settings.model_copy(update={"send_max_attempts": 2})
    ctx = dataclasses.replace(smtp_ctx, settings=settings)
    smtp_server.script(*["421 4.4.2 Service not available"] * 3)
    _queue_reminder(ctx, "reminder:1:1")
    assert send_due(ctx).retried == 1
    clock.advance(hours=1)
    assert send_due(ctx).failed == 1
    clock.advance(days=1)
    assert send_due(ctx).sent == 0
    row = _row(ctx, "reminder:1:1")
    assert (row.status, row.attempts) == ("failed", 2)


def test_permanent_rejection_fails_at_once_and_the_others_still_go(
    smtp_ctx: AppContext, smtp_server: SmtpTestServer
) -> None:
    smtp_server.refuse_recipient("gone@example.org")
    _queue_reminder(smtp_ctx, "reminder:1:1", "gone@example.org")
    _queue_reminder(smtp_ctx, "reminder:1:2", "jan@example.org")
    report = send_due(smtp_ctx)
    assert (report.sent, report.retried, report.failed) == (1, 0, 1)
    [mail] = smtp_server.wait_for(1)
    assert mail["To"] == "jan@example.org"
    failed = _row(smtp_ctx, "reminder:1:1")
    assert (failed.status, failed.attempts) == ("failed", 1)
    assert failed.last_error is not None and "550" in failed.last_error


def test_data_rejected_with_550_is_failed(
    smtp_ctx: AppContext, smtp_server: SmtpTestServer
) -> None:
    smtp_server.script("550 5.7.1 Message content rejected")
    _queue_reminder(smtp_ctx, "reminder:1:1")
    assert send_due(smtp_ctx).failed == 1
    assert _row(smtp_ctx, "reminder:1:1").status == "failed"
    smtp_server.assert_no_more(0)


def test_disabled_sending_keeps_mails_queued(
    smtp_ctx: AppContext, smtp_server: SmtpTestServer
) -> None:
    ctx = dataclasses.replace(
        smtp_ctx, settings=smtp_ctx.settings.model_copy(update={"smtp_enabled": False})
    )
    _queue_reminder(ctx, "reminder:1:1")
    assert send_due(ctx).disabled
    assert _row(ctx, "reminder:1:1").status == "pending"
    smtp_server.assert_no_more(0)


class _Crash(BaseException):
    """Stands for the process dying (SIGKILL, power loss)."""


class _CrashAfterSmtp(SmtpSender):
    def send(self, message: EmailMessage) -> None:
        super().send(message)
        raise _Crash


def test_crash_after_smtp_acceptance_resends_once_with_the_same_message_id(
    smtp_ctx: AppContext, smtp_server: SmtpTestServer, clock: FrozenClock
) -> None:
    _queue_reminder(smtp_ctx, "reminder:1:1")
    with pytest.raises(_Crash):
        send_due(smtp_ctx, sender=_CrashAfterSmtp(smtp_ctx.settings))
    row = _row(smtp_ctx, "reminder:1:1")
    assert (row.status, row.attempts) == ("sending", 1)  # DATA went out: it may have arrived
    assert row.message_id == smtp_server.wait_for(1)[0]["Message-ID"]
    assert send_due(smtp_ctx).sent == 0  # still leased (the holder is this live process)
    clock.advance(seconds=claim_lease(smtp_ctx).total_seconds())
    assert send_due(smtp_ctx).sent == 1
    first, second = smtp_server.wait_for(2)
    assert first["Message-ID"] == second["Message-ID"]  # a duplicate, recognisably
    assert _row(smtp_ctx, "reminder:1:1").status == "sent"


def test_two_workers_sending_at_once_send_every_mail_exactly_once(
    smtp_ctx: AppContext, smtp_server: SmtpTestServer
) -> None:
    for number in range(12):
        _queue_reminder(smtp_ctx, f"reminder:1:{number}", f"kunde{number}@example.org")
    reports: list[int] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            reports.append(send_due(smtp_ctx).sent)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert sum(reports) == 12
    mails = smtp_server.wait_for(12)
    smtp_server.assert_no_more(12)
    assert len({mail["Message-ID"] for mail in mails}) == 12


def test_the_sent_mark_leaves_no_connection_without_waiting_for_the_disk(
    smtp_ctx: AppContext, smtp_server: SmtpTestServer
) -> None:
    """The sent mark commits without waiting for the disk; the connection goes back to the pool
    with the durable setting every other write relies on."""
    _queue_reminder(smtp_ctx, "reminder:1:1")
    assert send_due(smtp_ctx).sent == 1
    assert _row(smtp_ctx, "reminder:1:1").status == "sent"
    pooled = [smtp_ctx.engine.connect() for _ in range(5)]  # every connection a pool keeps
    try:
        for conn in pooled:
            if conn.dialect.name == "postgresql":
                assert conn.exec_driver_sql("SHOW synchronous_commit").scalar() == "on"
            else:
                assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
    finally:
        for conn in pooled:
            conn.close()
