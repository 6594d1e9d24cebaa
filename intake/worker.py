"""The worker loop: fetch new mails → process claimed ones → apply folder moves → send → campaigns.

Each pass logs one info line. Between passes the worker waits on `stop` (an Event), so a test or
SIGTERM/CTRL-C ends it promptly. A failing stage is logged and the loop goes on; only a missing
tool (Tesseract) stops it, since nothing would work until it is installed.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING

from core import metrics
from core.context import AppContext
from core.errors import MailboxError, ToolMissingError
from core.heartbeat import beat
from core.retention import purge_if_due
from core.settings import Settings
from intake.claims import claim_next
from intake.imap import ImapSource
from intake.ledger import apply_pending_moves, fetch_new, mailbox_lock
from intake.maildir import MaildirSource
from intake.pipeline import Reader, ocr_reader, process_one
from intake.sources import MailSource

if TYPE_CHECKING:
    from notifications.smtp import SmtpSender

log = logging.getLogger(__name__)
MAX_MAILS_PER_PASS = 200


@dataclass
class WorkerReport:
    fetched: int = 0
    duplicates: int = 0
    accepted: int = 0
    review: int = 0
    rejected: int = 0
    ignored: int = 0
    failed: int = 0
    retried: int = 0
    moved: int = 0
    sent: int = 0
    passes: int = 0

    def count(self, status: str) -> None:
        if status in ("accepted", "review", "rejected", "ignored", "failed"):
            setattr(self, status, getattr(self, status) + 1)
        elif status == "new":
            self.retried += 1

    def add(self, other: WorkerReport) -> None:
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))

    def summary(self) -> str:
        return (
            f"{self.fetched} Mails abgeholt ({self.duplicates} Duplikate), "
            f"{self.accepted} angenommen, {self.review} zur Prüfung, {self.rejected} abgelehnt, "
            f"{self.ignored} ignoriert, {self.failed} fehlgeschlagen, {self.retried} später "
            f"erneut, {self.moved} verschoben, {self.sent} Antworten gesendet."
        )


def make_source(settings: Settings) -> MailSource:
    if settings.mailbox == "imap":
        return ImapSource(settings)
    return MaildirSource(settings.effective_maildir)


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"


def run_worker(
    ctx: AppContext,
    *,
    once: bool,
    source: MailSource | None = None,
    sender: SmtpSender | None = None,
    stop: threading.Event | None = None,
    reader: Reader = ocr_reader,
) -> WorkerReport:
    """Run passes until `stop` is set (or one pass with `once`); return the totals."""
    source = source or make_source(ctx.settings)
    total = WorkerReport()
    with _stop_on_signals(stop) as event:
        try:
            while not event.is_set():
                total.add(run_pass(ctx, source, sender=sender, stop=event, reader=reader))
                if once:
                    break
                event.wait(ctx.settings.poll_interval_seconds)
        finally:
            source.close()
    return total


@contextmanager
def _stop_on_signals(stop: threading.Event | None) -> Iterator[threading.Event]:
    """Without a caller's Event (the CLI), SIGTERM and SIGINT set our own one."""
    if stop is not None or threading.current_thread() is not threading.main_thread():
        yield stop or threading.Event()
        return
    event = threading.Event()

    def handler(signum: int, _frame: object) -> None:
        log.info("Signal %s: Worker hält nach dem laufenden Schritt an", signum)
        event.set()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield event
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def run_pass(
    ctx: AppContext,
    source: MailSource,
    *,
    sender: SmtpSender | None = None,
    stop: threading.Event | None = None,
    reader: Reader = ocr_reader,
) -> WorkerReport:
    report = WorkerReport(passes=1)
    holder = worker_id()
    beat(ctx, holder)
    metrics.WORKER_PASSES.inc()
    _stage("Abholen", lambda: _fetch(ctx, source, holder, report))
    _stage("Verarbeiten", lambda: _process(ctx, report, stop, reader))
    _stage("Verschieben", lambda: _move(ctx, source, holder, report))
    _stage("Versand", lambda: _send(ctx, sender, report))
    _stage("Kampagnen", lambda: _campaigns(ctx))
    _stage("Aufbewahrung", lambda: _purge(ctx, holder))
    log.info("Durchlauf: %s", report.summary())
    return report


def _stage(name: str, action: Callable[[], None]) -> None:
    try:
        action()
    except ToolMissingError:
        raise
    except MailboxError as exc:
        log.warning("%s: Postfach nicht erreichbar: %s", name, exc)
    except Exception:
        log.exception("%s fehlgeschlagen; nächster Durchlauf versucht es erneut", name)


def _fetch(ctx: AppContext, source: MailSource, holder: str, report: WorkerReport) -> None:
    with mailbox_lock(ctx, source.name, holder) as got:
        if not got:
            log.debug("Ein anderer Worker holt %s gerade ab", source.name)
            return
        with metrics.stage_timer("fetch"):
            fetched = fetch_new(ctx, source)
    metrics.count_fetched(
        new=fetched.fetched, duplicates=fetched.duplicates, rejected=fetched.rejected
    )
    report.fetched += fetched.fetched
    report.duplicates += fetched.duplicates
    report.rejected += fetched.rejected


def _process(
    ctx: AppContext, report: WorkerReport, stop: threading.Event | None, reader: Reader
) -> None:
    for _ in range(MAX_MAILS_PER_PASS):
        if stop is not None and stop.is_set():
            return
        claim = claim_next(ctx)
        if claim is None:
            return
        status = process_one(ctx, claim, reader=reader)
        report.count(status)
        metrics.count_processed(status)
        beat(ctx, worker_id())


def _move(ctx: AppContext, source: MailSource, holder: str, report: WorkerReport) -> None:
    with mailbox_lock(ctx, source.name, holder) as got:
        if got:
            report.moved += apply_pending_moves(ctx, source)


def _send(ctx: AppContext, sender: SmtpSender | None, report: WorkerReport) -> None:
    from notifications.dispatch import send_due

    with metrics.stage_timer("send"):
        sent = send_due(ctx, sender=sender)
    metrics.count_deliveries(sent=sent.sent, retried=sent.retried, failed=sent.failed)
    report.sent += sent.sent


def _purge(ctx: AppContext, holder: str) -> None:
    purge_if_due(ctx, holder)


def _campaigns(ctx: AppContext) -> None:
    from notifications.campaigns import run_campaigns

    run_campaigns(ctx)
