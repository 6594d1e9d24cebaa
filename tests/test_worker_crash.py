"""kill -9 of a real worker process at the worst moments, on SQLite and PostgreSQL: the next
worker takes the dead one's leases over at once (same host, process gone) and finishes its work.
Each test counts mails lost (0), readings duplicated (0), mails sent twice, mails stuck (0) and
the time from the kill to the mail being decided and answered (< 60 s)."""

from __future__ import annotations

import dataclasses
import mailbox
import threading
import time
from collections import Counter

import pytest
from sqlalchemy import func, select

from bench.fault_worker import marked_photo, marked_reader
from core.context import AppContext, system_clock
from core.models import InboundMessage, Outbox, Reading
from intake.worker import run_worker
from tests.crash import kill_hard, start_worker, wait_for_line
from tests.fixtures_smtp import SmtpTestServer
from tests.samples import customer_mail, seed_meter

CUSTOMER = "erika@example.de"
RECOVERY_LIMIT = 60.0


@pytest.fixture
def live(smtp_ctx: AppContext) -> AppContext:
    """The SMTP test context on the wall clock (the child process has no frozen clock)."""
    return dataclasses.replace(smtp_ctx, clock=system_clock)


def deliver_one(ctx: AppContext) -> None:
    with ctx.sessions.begin() as session:
        seed_meter(session, email=CUSTOMER, account="123456789", meter="12345678")
    path = ctx.settings.effective_maildir
    path.parent.mkdir(parents=True, exist_ok=True)
    mailbox.Maildir(path, create=True).add(
        customer_mail(sender=CUSTOMER, photos=[("z.jpg", marked_photo("04521"))])
    )


def recover(ctx: AppContext) -> float:
    """Run a worker until the mail is decided; seconds it took."""
    decided = threading.Event()
    stop = threading.Event()
    start = time.monotonic()

    def on_decided(_ledger_id: int, _status: str) -> None:
        decided.set()
        stop.set()

    thread = threading.Thread(
        target=run_worker,
        kwargs={"ctx": ctx, "once": False, "stop": stop, "reader": marked_reader,
                "on_decided": on_decided},
    )  # fmt: skip
    thread.start()
    try:
        assert decided.wait(RECOVERY_LIMIT), "the mail was not decided after the kill"
    finally:
        stop.set()
        thread.join(timeout=30)
    return time.monotonic() - start


def counts(ctx: AppContext) -> dict[str, int]:
    with ctx.sessions() as session:
        statuses = Counter(session.scalars(select(InboundMessage.status)))
        readings = session.scalar(select(func.count()).select_from(Reading)) or 0
        unsent = session.scalar(select(func.count()).where(Outbox.status != "sent")) or 0
        unmoved = session.scalar(select(func.count()).where(InboundMessage.moved_at.is_(None)))
    return {"accepted": statuses["accepted"], "stuck": sum(statuses.values())
            - statuses["accepted"], "readings": readings, "unsent": unsent,
            "unmoved": unmoved or 0}  # fmt: skip


@pytest.mark.parametrize("point", ["fetch", "read", "data", "sent"])
def test_kill_9_is_ridden_out(live: AppContext, smtp_server: SmtpTestServer, point: str) -> None:
    deliver_one(live)
    child = start_worker(live.settings, "--pause-at", point, METER_INTAKE_IMAP_IDLE="false")
    wait_for_line(child, f"PAUSED {point}")
    kill_hard(child)

    seconds = recover(live) if point in ("fetch", "read") else _send_leftovers(live)
    assert seconds < RECOVERY_LIMIT
    assert counts(live) == {"accepted": 1, "stuck": 0, "readings": 1, "unsent": 0, "unmoved": 0}
    smtp_server.wait_for(1)
    smtp_server.assert_no_more(1, wait=0.5)  # sent once: the kill before DATA left no copy
    with live.sessions() as session:
        row = session.scalars(select(Outbox)).one()
    assert row.message_id == smtp_server.messages[0]["Message-ID"]


def _send_leftovers(ctx: AppContext) -> float:
    """The mail was decided before the kill; a worker pass sends what the dead one left."""
    start = time.monotonic()
    report = run_worker(ctx, once=True, reader=marked_reader)
    assert report.sent <= 1
    return time.monotonic() - start
