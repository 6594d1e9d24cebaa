"""Faults on a real Dovecot: the service folder recreated mid-pass with new mails under the same
UIDs, IMAP IDLE delivering a new mail to a decision, the IMAP server down and back. Each counts
mails lost (0), readings duplicated (0) and mails stuck (0)."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import pytest
from sqlalchemy import func, select

from core.context import AppContext
from core.models import InboundMessage, Reading
from core.settings import Settings
from core.types import MeterHint, MeterRead
from intake.imap import ImapSource
from intake.worker import PassContext, run_pass, run_worker
from tests.fixtures_dovecot import DovecotServer
from tests.readers import per_hint
from tests.samples import customer_mail, seed_meter
from tests.tcp_proxy import proxied
from tests.test_intake_imap import client, folder_count, imap_settings

pytestmark = pytest.mark.imap
FOLDER = "Zaehlerstaende"
MAILS = range(1, 6)


def customer(n: int) -> str:
    return f"kunde{n}@example.de"


IDLE_LIMIT = 5.0


@per_hint
def reader(data: bytes, hint: MeterHint, settings: Settings) -> MeterRead:
    """Mail n's photo (its last byte n) reads 4520 + n: each mail its own reading, on its own
    meter (a second value of one meter the same day would go to a clerk)."""
    return MeterRead(reading=f"{4520 + data[-1]:05d}", confidence=0.99, accepted=True)


@pytest.fixture
def service(ctx: AppContext, dovecot: DovecotServer) -> AppContext:
    ctx.settings = imap_settings(ctx.settings, dovecot).model_copy(update={"imap_folder": FOLDER})
    with ctx.sessions.begin() as session:
        for n in MAILS:
            seed_meter(session, email=customer(n), account=f"12345678{n}", meter=f"1234567{n}")
    with client(dovecot) as imap:
        imap.create_folder(FOLDER)
    return ctx


def mail(n: int) -> bytes:
    return customer_mail(sender=customer(n), photos=[(f"{n}.jpg", b"\xff\xd8\xff" + bytes([n]))],
                         message_id=f"<{n}@kunde.example>")  # fmt: skip


def append(server: DovecotServer, *numbers: int) -> None:
    with client(server) as imap:
        for n in numbers:
            imap.append(FOLDER, mail(n))


def ledger(ctx: AppContext) -> dict[str, str]:
    with ctx.sessions() as session:
        rows = session.execute(select(InboundMessage.message_id, InboundMessage.status)).all()
    return {str(mid): status for mid, status in rows}


def readings(ctx: AppContext) -> int:
    with ctx.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(Reading)) or 0)


def test_folder_recreated_mid_pass_loses_nothing(
    service: AppContext, dovecot: DovecotServer
) -> None:
    append(dovecot, 1, 2, 3)
    recreated = {"done": False}

    @per_hint
    def recreating_reader(data: bytes, hint: MeterHint, settings: Settings) -> MeterRead:
        if not recreated["done"]:  # an operator rebuilds the folder while the pass runs
            recreated["done"] = True
            with client(dovecot) as imap:
                imap.select_folder(FOLDER)
                imap.copy([1, 2, 3], "Archiv") if imap.folder_exists("Archiv") else None
                imap.unselect_folder()
                imap.delete_folder(FOLDER)
                imap.create_folder(FOLDER)
            append(dovecot, 4, 5)  # new mails, UIDs 1 and 2 again
        return reader(data, [hint], settings)[0]

    source = ImapSource(service.settings)
    work = PassContext(service, source, reader=recreating_reader)
    first = run_pass(work)
    assert recreated["done"] and first.accepted == 3
    with client(dovecot) as imap:  # the new mails were not moved under the old UIDs
        assert imap.select_folder(FOLDER, readonly=True)[b"EXISTS"] == 2
    for _ in range(3):
        if not run_pass(work).busy:
            break
    expected = {f"<{n}@kunde.example>": "accepted" for n in MAILS}
    assert ledger(service) == expected  # 0 lost, 0 stuck
    assert readings(service) == 5  # 0 duplicated
    assert folder_count(dovecot, FOLDER) == 0 and folder_count(dovecot, "Processed") == 2
    with service.sessions() as session:
        notes = session.scalars(select(InboundMessage.error).where(InboundMessage.id <= 3)).all()
    assert all(note and "UIDVALIDITY" in note for note in notes)
    source.close()


def test_idle_delivers_a_new_mail_to_a_decision_within_seconds(
    service: AppContext, dovecot: DovecotServer
) -> None:
    service.settings = service.settings.model_copy(
        update={"imap_idle": True, "poll_interval_seconds": 300.0}  # only a push can be quick
    )
    decided: dict[int, threading.Event] = {1: threading.Event(), 2: threading.Event()}
    seen: list[int] = []

    def on_decided(ledger_id: int, status: str) -> None:
        seen.append(ledger_id)
        decided[len(seen)].set()

    stop = threading.Event()
    thread = threading.Thread(
        target=run_worker,
        kwargs={
            "ctx": service,
            "once": False,
            "stop": stop,
            "reader": reader,
            "on_decided": on_decided,
        },
    )
    append(dovecot, 1)
    thread.start()
    try:
        assert decided[1].wait(30)  # the first pass
        start = time.monotonic()
        append(dovecot, 2)
        assert decided[2].wait(IDLE_LIMIT), "IDLE did not bring the new mail in time"
        assert time.monotonic() - start < IDLE_LIMIT
    finally:
        stop.set()
        thread.join(timeout=30)
    assert ledger(service) == {"<1@kunde.example>": "accepted", "<2@kunde.example>": "accepted"}


def test_imap_outage_logs_one_line_each_way(
    service: AppContext, dovecot: DovecotServer, caplog: pytest.LogCaptureFixture
) -> None:
    with proxied(dovecot.host, dovecot.port) as proxy:
        service.settings = service.settings.model_copy(update={"imap_port": proxy.port})
        work = PassContext(service, ImapSource(service.settings), reader=reader)
        append(dovecot, 1)
        assert run_pass(work).accepted == 1
        proxy.down()
        append(dovecot, 2)
        caplog.set_level(logging.DEBUG)
        caplog.clear()
        for _ in range(5):
            run_pass(work)
        down_at = time.monotonic()
        proxy.up()
        assert run_pass(work).accepted == 1
        recovered = time.monotonic() - down_at
    warnings = _warnings(caplog.records)
    assert warnings == ["Postfach nicht erreichbar", "Postfach wieder erreichbar"], warnings
    assert not any(r.exc_info for r in caplog.records)
    assert ledger(service) == {"<1@kunde.example>": "accepted", "<2@kunde.example>": "accepted"}
    assert readings(service) == 2 and recovered < 60


def _warnings(records: list[Any]) -> list[str]:
    return [
        " ".join(r.getMessage().split()[:3]).rstrip(":")
        for r in records
        if r.levelno >= logging.WARNING and "erreichbar" in r.getMessage()
    ]
