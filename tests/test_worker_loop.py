"""The worker loop on the embedded default (Maildir): passes, stop event, SIGTERM, report."""

from __future__ import annotations

import datetime as dt
import mailbox
import os
import signal
import threading
import time
from dataclasses import replace

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.context import AppContext
from core.errors import MailboxError
from core.heartbeat import live_workers
from core.models import InboundMessage, Outbox, WorkerHeartbeat
from core.settings import Settings
from core.types import MeterHint, MeterRead
from intake.imap import ImapSource
from intake.maildir import MaildirSource
from intake.worker import WorkerReport, make_source, run_worker
from tests.fixtures_smtp import SmtpTestServer
from tests.readers import per_hint
from tests.samples import customer_mail, seed_meter

CUSTOMER = "erika@example.de"


@per_hint
def reader(data: bytes, hint: MeterHint, settings: Settings) -> MeterRead:
    return MeterRead(reading="04521", confidence=0.99, accepted=True)


def deliver(ctx: AppContext, *mails: bytes) -> None:
    path = ctx.settings.effective_maildir
    path.parent.mkdir(parents=True, exist_ok=True)
    box = mailbox.Maildir(path, create=True)
    for raw in mails:
        box.add(raw)


def test_make_source_follows_settings(ctx: AppContext) -> None:
    assert isinstance(make_source(ctx.settings), MaildirSource)
    imap = ctx.settings.model_copy(update={"mailbox": "imap"})
    assert isinstance(make_source(imap), ImapSource)


def test_once_runs_one_full_pass_and_sends(
    smtp_ctx: AppContext, smtp_server: SmtpTestServer
) -> None:
    with smtp_ctx.sessions.begin() as session:
        seed_meter(session, email=CUSTOMER, account="123456789", meter="12345678")
    deliver(
        smtp_ctx,
        customer_mail(sender=CUSTOMER, photos=[("z.jpg", b"\xff\xd8\xff\xe0jpeg")]),
        customer_mail(sender=CUSTOMER, extra_headers=[("Precedence", "bulk")]),
    )
    report = run_worker(smtp_ctx, once=True, reader=reader)
    assert (report.fetched, report.accepted, report.ignored, report.sent) == (2, 1, 1, 1)
    assert report.moved == 2 and report.passes == 1
    [mail] = smtp_server.wait_for(1)
    assert mail["To"] == CUSTOMER and mail["Auto-Submitted"]
    text = report.summary()
    assert "2 Mails abgeholt" in text and "1 angenommen" in text and "1 Antworten gesendet" in text
    again = run_worker(smtp_ctx, once=True, reader=reader)
    assert again == WorkerReport(passes=1)
    smtp_server.assert_no_more(1)
    with smtp_ctx.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Outbox)) == 1


def test_loop_stops_promptly_on_event(ctx: AppContext) -> None:
    ctx.settings = ctx.settings.model_copy(update={"poll_interval_seconds": 60.0})
    stop = threading.Event()
    result: list[WorkerReport] = []
    thread = threading.Thread(target=lambda: result.append(run_worker(ctx, once=False, stop=stop)))
    thread.start()
    time.sleep(0.5)
    deliver(ctx, customer_mail(sender="x@example.de", extra_headers=[("X-Autoreply", "yes")]))
    started = time.monotonic()
    stop.set()
    thread.join(timeout=10)
    assert not thread.is_alive() and time.monotonic() - started < 5
    assert result and result[0].passes >= 1


def test_sigterm_ends_the_cli_loop(ctx: AppContext) -> None:
    ctx.settings = ctx.settings.model_copy(update={"poll_interval_seconds": 0.05})
    autoreply = [("X-Autoreply", "yes")]
    deliver(ctx, customer_mail(sender="x@example.de", extra_headers=autoreply))
    decided: list[int] = []

    def second_mail_then_sigterm(ledger_id: int, _status: str) -> None:
        decided.append(ledger_id)
        if len(decided) == 1:
            deliver(ctx, customer_mail(sender="x@example.de", extra_headers=autoreply, subject="2"))
        else:
            os.kill(os.getpid(), signal.SIGTERM)

    before = signal.getsignal(signal.SIGTERM)
    report = run_worker(ctx, once=False, reader=reader, on_decided=second_mail_then_sigterm)
    assert report.passes > 1 and report.ignored == 2
    assert signal.getsignal(signal.SIGTERM) == before
    with ctx.sessions() as session:
        rows = session.scalars(select(InboundMessage)).all()
    assert [row.status for row in rows] == ["ignored", "ignored"]
    assert all(row.moved_at is not None for row in rows)


def test_maildir_watch_wakes_the_worker(ctx: AppContext) -> None:
    ctx.settings = ctx.settings.model_copy(update={"poll_interval_seconds": 300.0})
    with ctx.sessions.begin() as session:
        seed_meter(session, email=CUSTOMER, account="123456789", meter="12345678")
    deliver(ctx)  # the Maildir exists before the worker watches it
    decided = threading.Event()
    stop = threading.Event()
    thread = threading.Thread(target=run_worker, kwargs={
        "ctx": ctx, "once": False, "stop": stop, "reader": reader,
        "on_decided": lambda _id, _status: decided.set()})  # fmt: skip
    thread.start()
    try:
        time.sleep(1.0)  # let the first (empty) pass end and the watcher start
        deliver(ctx, customer_mail(sender=CUSTOMER, photos=[("z.jpg", b"\xff\xd8\xff\xe0x")]))
        assert decided.wait(5.0), "inotify did not wake the worker"
    finally:
        stop.set()
        thread.join(timeout=30)


def test_a_worker_that_stops_is_no_longer_counted_live(ctx: AppContext) -> None:
    deliver(ctx, customer_mail(sender="x@example.de", extra_headers=[("X-Autoreply", "yes")]))
    stop = threading.Event()
    beating: list[int] = []

    def count_then_stop(_ledger_id: int, _status: str) -> None:
        with ctx.sessions() as session:
            beating.append(_live(session, ctx))
        stop.set()

    run_worker(ctx, once=False, stop=stop, reader=reader, on_decided=count_then_stop)
    with ctx.sessions() as session:
        assert (beating, _live(session, ctx)) == ([1], 0)


def _live(session: Session, ctx: AppContext) -> int:
    return live_workers(session, now=ctx.clock(), max_age=dt.timedelta(minutes=5))


def test_a_configured_maildir_that_does_not_exist_stops_the_worker_before_its_first_beat(
    ctx: AppContext,
) -> None:
    typo = ctx.settings.var_dir.parent / "mial"
    misconfigured = replace(ctx, settings=ctx.settings.model_copy(update={"maildir_path": typo}))
    stopped_already = threading.Event()
    stopped_already.set()  # a worker that started would return at once
    with pytest.raises(MailboxError, match="gibt es nicht"):
        run_worker(misconfigured, once=False, stop=stopped_already, reader=reader)
    assert not typo.exists()
    with ctx.sessions() as session:
        assert session.scalar(select(func.count()).select_from(WorkerHeartbeat)) == 0


def test_the_outcome_line_counts_the_ledger_statuses_and_names_the_rare_ones_only_when_seen() -> (
    None
):
    assert (
        WorkerReport().outcome() == "0 Mails verarbeitet: 0 angenommen, 0 zur Prüfung, 0 abgelehnt"
    )
    busy = WorkerReport(accepted=1200, review=1, duplicates=1, failed=2, fetched=99, sent=7)
    assert busy.outcome() == (
        "1.204 Mails verarbeitet: 1.200 angenommen, 1 zur Prüfung, 0 abgelehnt, 1 Duplikat, "
        "2 fehlgeschlagen"
    )
