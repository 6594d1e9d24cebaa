"""The worker loop: fetch new mails → process claimed ones, each moved and answered as soon as it
is decided → leftover folder moves → leftover sends → campaigns.

Between passes the worker waits for a push (IMAP IDLE or a Maildir event, `intake.push`) or at
most `poll_interval_seconds`; after a busy pass it goes on at once. `stop` (an Event) ends it
promptly, as do SIGTERM/CTRL-C. A failing stage is logged and the loop goes on: an outage of the
database, the mailbox or the SMTP server gives one line when it starts and one when it ends
(`intake.outages`), an unexpected error a traceback. Only a missing tool (Tesseract) stops it.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING

from core import metrics
from core.context import AppContext
from core.errors import MailboxError, ToolMissingError
from core.formatting import format_number
from core.heartbeat import Heartbeat, beat, stopped
from core.holders import thread_holder
from core.retention import purge_if_due
from core.settings import Settings
from core.threads import limit_threads
from intake.claims import Claim, claim_next, keep_alive, reclaim_from_gone, release
from intake.imap import ImapSource
from intake.ledger import apply_pending_moves, fetch_new, lease_renewer, mailbox_lock
from intake.maildir import MaildirSource
from intake.outages import (
    DATABASE,
    MAILBOX,
    SMTP,
    STORAGE,
    Outages,
    is_database_outage,
    is_infrastructure_fault,
    is_lock_conflict,
    is_storage_outage,
    one_line,
)
from intake.pipeline import Reader, ocr_reader, process_one
from intake.push import start_watcher
from intake.sources import MailSource

if TYPE_CHECKING:
    from notifications.smtp import SmtpSender

log = logging.getLogger(__name__)
MAX_MAILS_PER_PASS = 200
WAIT_SLICE_SECONDS = 0.5
RECLAIM_SECONDS = 5.0  # how often a busy worker looks for work held by dead workers
Decided = Callable[[int, str], None]


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
    # why the mailbox could not be fetched in the last pass (None: fetched, or nothing to do)
    fetch_failure: BaseException | None = field(default=None, compare=False)

    def count(self, status: str) -> None:
        if status in ("accepted", "review", "rejected", "ignored", "failed"):
            setattr(self, status, getattr(self, status) + 1)
        elif status == "new":
            self.retried += 1

    def add(self, other: WorkerReport) -> None:
        for f in fields(self):
            if f.name != "fetch_failure":
                setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))
        self.fetch_failure = other.fetch_failure

    @property
    def busy(self) -> bool:
        """Something happened: more work may be waiting right behind it."""
        return bool(self.fetched or self.accepted or self.review or self.rejected or self.ignored
                    or self.failed or self.retried)  # fmt: skip

    def outcome(self) -> str:
        """One line for the person who ran a pass: the mails it settled, by ledger status."""
        shown = [(self.accepted, "angenommen"), (self.review, "zur Prüfung"),
                 (self.rejected, "abgelehnt")]  # fmt: skip
        duplicates = "Duplikat" if self.duplicates == 1 else "Duplikate"
        shown += [(count, label) for count, label in ((self.ignored, "ignoriert"),
                  (self.duplicates, duplicates), (self.failed, "fehlgeschlagen"),
                  (self.retried, "später erneut")) if count]  # fmt: skip
        total = sum(count for count, _ in shown)
        parts = ", ".join(f"{format_number(count)} {label}" for count, label in shown)
        return f"{format_number(total)} {'Mail' if total == 1 else 'Mails'} verarbeitet: {parts}"

    def summary(self) -> str:
        return (
            f"{self.fetched} Mails abgeholt ({self.duplicates} Duplikate), "
            f"{self.accepted} angenommen, {self.review} zur Prüfung, {self.rejected} abgelehnt, "
            f"{self.ignored} ignoriert, {self.failed} fehlgeschlagen, {self.retried} später "
            f"erneut, {self.moved} verschoben, {self.sent} Antworten gesendet."
        )


@dataclass
class PassContext:
    """What one worker keeps across passes."""

    ctx: AppContext
    source: MailSource
    sender: SmtpSender | None = None
    reader: Reader = ocr_reader
    stop: threading.Event = field(default_factory=threading.Event)
    outages: Outages = field(default_factory=Outages)
    on_decided: Decided | None = None
    holder: str = field(default_factory=thread_holder)
    # claims an outage interrupted and that could not be handed back yet (database away)
    interrupted: list[Claim] = field(default_factory=list)


def make_source(settings: Settings) -> MailSource:
    """The configured mailbox; raises `MailboxError` for a Maildir named that does not exist."""
    if settings.mailbox == "imap":
        return ImapSource(settings)
    return MaildirSource(settings.effective_maildir, create=settings.maildir_may_be_made)


def run_worker(
    ctx: AppContext,
    *,
    once: bool,
    source: MailSource | None = None,
    sender: SmtpSender | None = None,
    stop: threading.Event | None = None,
    reader: Reader = ocr_reader,
    on_decided: Decided | None = None,
) -> WorkerReport:
    """Run passes until `stop` is set (or one pass with `once`); return the totals.
    `on_decided(ledger_id, status)` is called after each mail's decision is committed.
    The OCR's threads are limited to `ocr_threads` first (`core.threads`)."""
    limit_threads(ctx.settings.ocr_threads)
    source = source or make_source(ctx.settings)
    total = WorkerReport()
    wake = threading.Event()
    with _stop_on_signals(stop) as event:
        work = PassContext(ctx, source, sender, reader, event, on_decided=on_decided)
        watcher = None if once else start_watcher(ctx.settings, wake, work.outages)
        pulse = Heartbeat(ctx, work.holder, stall_after=ctx.settings.worker_stall_seconds)
        try:
            with pulse.running():  # beats also while a slow photo is read
                while not event.is_set():
                    report = run_pass(work)
                    total.add(report)
                    if once:
                        break
                    if not report.busy:
                        _wait(event, wake, ctx.settings.poll_interval_seconds, pulse.moved)
        finally:
            if watcher is not None:
                watcher.stop()
            source.close()
            if not once:  # a single pass (cron, tests) leaves its beat for the maximum age
                stopped(ctx, work.holder)
    return total


def _wait(
    stop: threading.Event,
    wake: threading.Event,
    seconds: float,
    idle: Callable[[], None] = lambda: None,
) -> None:
    """Until a push arrives, `stop` is set or `seconds` have passed (`idle`: waiting is no hang)."""
    deadline = time.monotonic() + seconds
    while not stop.is_set():
        idle()
        left = deadline - time.monotonic()
        if left <= 0:
            return
        if wake.wait(min(left, WAIT_SLICE_SECONDS)):
            wake.clear()
            return


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
    work: PassContext | AppContext,
    source: MailSource | None = None,
    *,
    sender: SmtpSender | None = None,
    stop: threading.Event | None = None,
    reader: Reader = ocr_reader,
) -> WorkerReport:
    """One pass. Takes a `PassContext`, or (ctx, source, …) for a one-off pass."""
    if isinstance(work, AppContext):
        assert source is not None
        work = PassContext(work, source, sender, reader, stop or threading.Event())
    report = WorkerReport(passes=1)
    beat(work.ctx, work.holder)
    metrics.WORKER_PASSES.inc()
    report.fetch_failure = _stage(work, "Abholen", (DATABASE,), lambda: _fetch(work, report))
    _stage(work, "Verarbeiten", (DATABASE,), lambda: _process(work, report))
    _stage(work, "Verschieben", (DATABASE,), lambda: _move(work, report))
    _stage(work, "Versand", (DATABASE,), lambda: _send(work, report))
    _stage(work, "Kampagnen", (DATABASE,), lambda: _campaigns(work.ctx))
    _stage(work, "Aufbewahrung", (), lambda: _purge(work))  # mostly not due: proves nothing
    log.log(logging.INFO if report.busy else logging.DEBUG, "Durchlauf: %s", report.summary())
    return report


def _stage(
    work: PassContext, name: str, services: tuple[str, ...], action: Callable[[], None]
) -> Exception | None:
    """Run one stage; a failure is logged (an outage once) and returned, never raised."""
    try:
        action()
    except ToolMissingError:
        raise
    except MailboxError as exc:
        work.outages.failed(MAILBOX, exc)
        return exc
    except Exception as exc:
        if is_database_outage(exc):
            work.outages.failed(DATABASE, exc)
        elif is_lock_conflict(exc):
            log.warning("%s: Sperrkonflikt mit einer anderen Transaktion, nächster Durchlauf "
                        "versucht es erneut (%s)", name, one_line(exc))  # fmt: skip
        elif is_storage_outage(exc):
            work.outages.failed(STORAGE, exc)
        else:
            log.exception("%s fehlgeschlagen; nächster Durchlauf versucht es erneut", name)
        return exc
    for service in services:
        work.outages.ok(service)
    return None


def _fetch(work: PassContext, report: WorkerReport) -> None:
    ctx, source = work.ctx, work.source
    with mailbox_lock(ctx, source.name, work.holder) as got:
        if not got:
            log.debug("Ein anderer Worker holt %s gerade ab", source.name)
            return
        with metrics.stage_timer("fetch"):
            fetched = fetch_new(ctx, source, renew=lease_renewer(ctx, source.name, work.holder))
    work.outages.ok(MAILBOX)  # the mailbox answered
    if fetched.fetched:  # and stored what it fetched
        work.outages.ok(STORAGE)
    metrics.count_fetched(
        new=fetched.fetched, duplicates=fetched.duplicates, rejected=fetched.rejected
    )
    report.fetched += fetched.fetched
    report.duplicates += fetched.duplicates
    report.rejected += fetched.rejected


def _process(work: PassContext, report: WorkerReport) -> None:
    _hand_back_interrupted(work)
    reclaimed_at = -RECLAIM_SECONDS
    for _ in range(MAX_MAILS_PER_PASS):
        if work.stop.is_set():
            return
        if time.monotonic() - reclaimed_at >= RECLAIM_SECONDS:  # a dead worker's work first
            reclaim_from_gone(work.ctx)
            if not work.outages.is_down(SMTP):
                _send(work, report)  # replies left by a dead worker (or due again) go out too
            reclaimed_at = time.monotonic()
        claim = claim_next(work.ctx, holder=work.holder)
        if claim is None:
            return
        try:
            with keep_alive(work.ctx, claim):
                status = process_one(work.ctx, claim, reader=work.reader)
        except Exception as exc:
            if is_infrastructure_fault(exc):  # not the mail's fault: the attempt does not count
                work.interrupted.append(claim)
                _hand_back_interrupted(work)
            raise  # the stage notes the outage; the next pass tries again
        if status != "lost":  # its photos were stored, its decision committed
            work.outages.ok(STORAGE)
        report.count(status)
        metrics.count_processed(status)
        beat(work.ctx, work.holder)
        _answer_and_move(work, claim.ledger_id, report)
        if work.on_decided is not None:
            work.on_decided(claim.ledger_id, status)


def _hand_back_interrupted(work: PassContext) -> None:
    """Hand mails an outage interrupted back to the queue, their attempt not counted (raises
    while the database is still away; the mails wait for the next pass)."""
    while work.interrupted:
        release(work.ctx, work.interrupted[0])
        work.interrupted.pop(0)


def _answer_and_move(work: PassContext, ledger_id: int, report: WorkerReport) -> None:
    """Move the decided mail and send its replies now; what fails here waits for the pass's
    leftover stages (an outage is noted there, once)."""
    try:
        report.moved += apply_pending_moves(work.ctx, work.source, ledger_id=ledger_id)
    except MailboxError as exc:
        work.outages.failed(MAILBOX, exc)
    if not work.outages.is_down(SMTP):
        _send(work, report, inbound_message_id=ledger_id)


def _move(work: PassContext, report: WorkerReport) -> None:
    with mailbox_lock(work.ctx, work.source.name, work.holder) as got:
        if got and (moved := apply_pending_moves(work.ctx, work.source)):
            report.moved += moved
            work.outages.ok(MAILBOX)


def _send(
    work: PassContext, report: WorkerReport, *, inbound_message_id: int | None = None
) -> None:
    from notifications.dispatch import send_due

    with metrics.stage_timer("send"):
        sent = send_due(work.ctx, sender=work.sender, inbound_message_id=inbound_message_id)
    metrics.count_deliveries(sent=sent.sent, retried=sent.retried, failed=sent.failed)
    report.sent += sent.sent
    if sent.unreachable:
        work.outages.failed(SMTP, sent.unreachable)
    elif sent.sent or sent.failed:
        work.outages.ok(SMTP)


def _purge(work: PassContext) -> None:
    purge_if_due(work.ctx, work.holder)


def _campaigns(ctx: AppContext) -> None:
    from notifications.campaigns import run_campaigns

    run_campaigns(ctx)
