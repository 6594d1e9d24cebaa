"""The database and the SMTP server down and back, behind a TCP proxy that cuts them off: the
worker logs one line when a service goes away and one when it is back (no traceback per pass),
and afterwards finishes every mail: 0 lost, 0 duplicate readings, 0 stuck, each reply sent once."""

from __future__ import annotations

import dataclasses
import errno
import logging
import mailbox
import time
from typing import Any

import pytest
from psycopg.errors import DeadlockDetected
from sqlalchemy import func, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from core.blobstore import BlobStore
from core.context import AppContext
from core.db import make_engine, make_session_factory
from core.models import InboundMessage, Outbox, Reading
from core.settings import Settings
from core.types import MeterHint, MeterRead
from intake import pipeline, worker
from intake.claims import Claim
from intake.ledger import fetch_new
from intake.maildir import MaildirSource
from intake.worker import PassContext, run_pass
from tests.fixtures_smtp import SmtpTestServer
from tests.readers import per_hint
from tests.samples import customer_mail, seed_meter
from tests.tcp_proxy import proxied

OUTAGE_PASSES = 5


@per_hint
def reader(data: bytes, hint: MeterHint, settings: Settings) -> MeterRead:
    return MeterRead(reading="04521", confidence=0.99, accepted=True)


def deliver(ctx: AppContext, n: int) -> None:
    path = ctx.settings.effective_maildir
    path.parent.mkdir(parents=True, exist_ok=True)
    photo = b"\xff\xd8\xff" + bytes([n])
    mailbox.Maildir(path, create=True).add(
        customer_mail(sender=f"kunde{n}@example.de", photos=[("z.jpg", photo)])
    )


def seed(ctx: AppContext, count: int) -> None:
    with ctx.sessions.begin() as session:
        for n in range(count):
            seed_meter(session, email=f"kunde{n}@example.de", account=f"4000{n:05d}",
                       meter=f"9000{n:04d}")  # fmt: skip


def state_lines(caplog: pytest.LogCaptureFixture, service: str) -> list[str]:
    return [
        r.getMessage().split(":")[0].split(" nach ")[0]
        for r in caplog.records
        if r.levelno >= logging.WARNING and r.getMessage().startswith(service)
    ]


def totals(ctx: AppContext) -> tuple[dict[str, int], int, int]:
    with ctx.sessions() as session:
        statuses = dict(
            session.execute(
                select(InboundMessage.status, func.count()).group_by(InboundMessage.status)
            ).all()
        )
        readings = session.scalar(select(func.count()).select_from(Reading)) or 0
        unsent = session.scalar(select(func.count()).where(Outbox.status != "sent")) or 0
    return statuses, readings, unsent


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_database_down_and_back(
    smtp_ctx: AppContext, smtp_server: SmtpTestServer, caplog: pytest.LogCaptureFixture
) -> None:
    seed(smtp_ctx, 2)
    url = make_url(smtp_ctx.settings.effective_database_url)
    with proxied(url.host or "127.0.0.1", url.port or 5432) as proxy:
        through = url.set(host=proxy.host, port=proxy.port).render_as_string(hide_password=False)
        engine = make_engine(through)
        ctx = dataclasses.replace(smtp_ctx, engine=engine, sessions=make_session_factory(engine))
        work = PassContext(ctx, MaildirSource(ctx.settings.effective_maildir), reader=reader)
        deliver(ctx, 0)
        assert run_pass(work).accepted == 1
        proxy.down()
        deliver(ctx, 1)
        caplog.clear()
        for _ in range(OUTAGE_PASSES):
            run_pass(work)
        back = time.monotonic()
        proxy.up()
        assert run_pass(work).accepted == 1
        recovered = time.monotonic() - back
        ctx.engine.dispose()
    assert state_lines(caplog, "Datenbank") == [
        "Datenbank nicht erreichbar", "Datenbank wieder erreichbar"
    ]  # fmt: skip
    assert not [r for r in caplog.records if r.exc_info], "no traceback during an outage"
    assert totals(smtp_ctx) == ({"accepted": 2}, 2, 0) and recovered < 60
    smtp_server.wait_for(2)
    smtp_server.assert_no_more(2)


def test_smtp_down_and_back(
    smtp_ctx: AppContext, smtp_server: SmtpTestServer, caplog: pytest.LogCaptureFixture
) -> None:
    seed(smtp_ctx, 3)
    with proxied(smtp_server.host, smtp_server.port) as proxy:
        settings = smtp_ctx.settings.model_copy(update={"smtp_port": proxy.port})
        ctx = dataclasses.replace(smtp_ctx, settings=settings)
        work = PassContext(ctx, MaildirSource(settings.effective_maildir), reader=reader)
        proxy.down()
        caplog.clear()
        for n in range(3):
            deliver(ctx, n)
        for _ in range(OUTAGE_PASSES):
            run_pass(work)
            smtp_ctx.clock.advance(seconds=ctx.settings.send_retry_base_seconds)  # type: ignore[attr-defined]
        assert totals(ctx) == ({"accepted": 3}, 3, 3)  # decided and queued, nothing sent
        back = time.monotonic()
        proxy.up()
        assert run_pass(work).sent == 3
        recovered = time.monotonic() - back
    assert state_lines(caplog, "SMTP-Server") == [
        "SMTP-Server nicht erreichbar", "SMTP-Server wieder erreichbar"
    ]  # fmt: skip
    assert not [r for r in caplog.records if r.exc_info]
    assert totals(smtp_ctx) == ({"accepted": 3}, 3, 0) and recovered < 60
    smtp_server.wait_for(3)
    smtp_server.assert_no_more(3)
    with smtp_ctx.sessions() as session:
        assert set(session.scalars(select(Outbox.attempts))) == {1}  # the outage cost no try


class FullDisk(BlobStore):
    """The blob directory's file system is full until `freed`."""

    full = True

    def put(self, data: bytes) -> str:
        if self.full:
            raise OSError(errno.ENOSPC, "No space left on device")
        return super().put(data)


def test_a_full_disk_is_one_line_each_way_and_the_mail_waits_in_the_mailbox(
    ctx: AppContext, caplog: pytest.LogCaptureFixture
) -> None:
    seed(ctx, 1)
    store = FullDisk(ctx.settings.effective_blob_dir)
    ctx.blobs = store
    work = PassContext(ctx, MaildirSource(ctx.settings.effective_maildir), reader=reader)
    deliver(ctx, 0)
    caplog.set_level(logging.INFO)
    for _ in range(OUTAGE_PASSES):
        assert run_pass(work).fetched == 0
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    [down] = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert down == (
        "Ablage (Mails und Fotos) nicht beschreibbar: OSError: [Errno 28] No space left on device"
    )
    store.full = False
    assert run_pass(work).accepted == 1
    assert state_lines(caplog, "Ablage") == [
        "Ablage (Mails und Fotos) nicht beschreibbar",
        "Ablage (Mails und Fotos) wieder beschreibbar",
    ]


def ledger(ctx: AppContext) -> list[tuple[str, int]]:
    with ctx.sessions() as session:
        return [tuple(r) for r in session.execute(  # type: ignore[misc]
            select(InboundMessage.status, InboundMessage.attempts).order_by(InboundMessage.id)
        )]  # fmt: skip


def test_a_disk_full_while_processing_costs_the_mail_no_attempt(
    ctx: AppContext, caplog: pytest.LogCaptureFixture
) -> None:
    seed(ctx, 1)
    store = FullDisk(ctx.settings.effective_blob_dir)
    store.full = False
    ctx.blobs = store
    source = MaildirSource(ctx.settings.effective_maildir)
    work = PassContext(ctx, source, reader=reader)
    deliver(ctx, 0)
    fetch_new(ctx, source)  # the raw mail is stored; its photo will not be
    store.full = True
    caplog.set_level(logging.INFO)
    for _ in range(2 * ctx.settings.max_attempts):
        report = run_pass(work)
        assert (report.failed, report.retried) == (0, 0)
        ctx.clock.advance(minutes=10)  # type: ignore[attr-defined]
    assert ledger(ctx) == [("new", 0)]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert state_lines(caplog, "Ablage") == ["Ablage (Mails und Fotos) nicht beschreibbar"]
    store.full = False
    assert run_pass(work).accepted == 1
    assert ledger(ctx) == [("accepted", 1)]


def test_a_mail_the_outage_interrupted_is_handed_back_once_the_database_answers(
    ctx: AppContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed(ctx, 1)
    store = FullDisk(ctx.settings.effective_blob_dir)
    store.full = False
    ctx.blobs = store
    source = MaildirSource(ctx.settings.effective_maildir)
    work = PassContext(ctx, source, reader=reader)
    deliver(ctx, 0)
    fetch_new(ctx, source)
    store.full = True
    release = worker.release
    calls: list[int] = []

    def database_away_once(ctx: AppContext, claim: Claim) -> None:
        calls.append(claim.ledger_id)
        if len(calls) == 1:
            raise OperationalError("UPDATE", {}, Exception("connection refused"))
        release(ctx, claim)

    monkeypatch.setattr(worker, "release", database_away_once)
    run_pass(work)
    assert ledger(ctx) == [("processing", 1)] and len(work.interrupted) == 1
    store.full = False
    assert run_pass(work).accepted == 1  # handed back first, then claimed and booked
    assert ledger(ctx) == [("accepted", 1)] and not work.interrupted


def test_a_mails_own_fault_still_counts_its_attempts(ctx: AppContext) -> None:
    seed(ctx, 1)
    source = MaildirSource(ctx.settings.effective_maildir)
    deliver(ctx, 0)
    fetch_new(ctx, source)

    def bug(*args: object, **kwargs: object) -> str:
        raise ValueError("kaputt")

    work = PassContext(ctx, source, reader=reader)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(pipeline, "record_and_reply", bug)
        for _ in range(ctx.settings.max_attempts):
            run_pass(work)
            ctx.clock.advance(minutes=10)  # type: ignore[attr-defined]
    assert ledger(ctx) == [("failed", ctx.settings.max_attempts)]


def test_a_lock_conflict_costs_the_mail_no_attempt_and_is_no_outage(
    ctx: AppContext, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL aborted the mail's transaction as one side of a deadlock: the mail goes back to
    the queue as it was, the log says what happened (not 'Datenbank nicht erreichbar'), and the
    next pass books it."""
    seed(ctx, 1)
    source = MaildirSource(ctx.settings.effective_maildir)
    work = PassContext(ctx, source, reader=reader)
    deliver(ctx, 0)
    fetch_new(ctx, source)
    decide_locked = pipeline.decide_locked

    def deadlocked(*args: Any, **kwargs: Any) -> Any:
        raise OperationalError("SELECT … FOR UPDATE", {}, DeadlockDetected("deadlock detected"))

    monkeypatch.setattr(pipeline, "decide_locked", deadlocked)
    caplog.set_level(logging.INFO)
    report = run_pass(work)
    assert (report.failed, report.retried) == (0, 0)
    assert ledger(ctx) == [("new", 0)] and not work.interrupted
    assert state_lines(caplog, "Datenbank") == []
    assert any("Sperrkonflikt" in r.getMessage() for r in caplog.records)
    monkeypatch.setattr(pipeline, "decide_locked", decide_locked)
    assert run_pass(work).accepted == 1
    assert ledger(ctx) == [("accepted", 1)]
