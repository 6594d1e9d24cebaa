"""IMAP source against a real Dovecot: fetch, ledger, move; failures injected via the factory."""

from __future__ import annotations

import socket
from typing import Any

import pytest
from imapclient import IMAPClient
from sqlalchemy import func, select

from core.context import AppContext
from core.errors import MailboxError
from core.models import InboundMessage, Outbox, Reading, ReviewTask
from core.settings import Settings
from core.types import MeterHint, MeterRead
from intake.imap import ImapSource, connect
from intake.worker import run_pass
from tests.fixtures_dovecot import DovecotServer
from tests.readers import per_hint
from tests.samples import customer_mail, meter_photo, seed_meter

pytestmark = pytest.mark.imap
CUSTOMER = "erika@example.de"
CLEAR = meter_photo("04521", seed=1)
BLURRY = meter_photo("04521", seed=2)


@per_hint
def reader(data: bytes, hint: MeterHint, settings: Settings) -> MeterRead:
    if data == CLEAR:
        return MeterRead(reading="04521", confidence=0.99, accepted=True)
    return MeterRead(reading="04521", confidence=0.2, accepted=False, reason="low_confidence")


def imap_settings(settings: Settings, server: DovecotServer) -> Settings:
    return settings.model_copy(
        update={
            "mailbox": "imap", "imap_host": server.host, "imap_port": server.port,
            "imap_security": "none", "imap_user": server.user, "imap_password": server.password,
            "imap_timeout_seconds": 10.0, "smtp_enabled": False,
        }
    )  # fmt: skip


def client(server: DovecotServer) -> IMAPClient:
    imap = IMAPClient(server.host, port=server.port, ssl=False, timeout=10)
    imap.login(server.user, server.password)
    return imap


def append(server: DovecotServer, *mails: bytes) -> None:
    with client(server) as imap:
        for raw in mails:
            imap.append("INBOX", raw)


def folder_count(server: DovecotServer, folder: str) -> int:
    with client(server) as imap:
        if not imap.folder_exists(folder):
            return 0
        return int(imap.select_folder(folder, readonly=True)[b"EXISTS"])


def count(ctx: AppContext, model: type, *where: Any) -> int:
    with ctx.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


class Wrapped:
    """A real client with some calls replaced: the factory seam for failures."""

    def __init__(self, inner: IMAPClient, **overrides: Any) -> None:
        self._inner = inner
        self._overrides = overrides

    def __getattr__(self, name: str) -> Any:
        if name in self._overrides:
            return self._overrides[name]
        return getattr(self._inner, name)


@pytest.fixture
def imap_ctx(ctx: AppContext, dovecot: DovecotServer) -> AppContext:
    ctx.settings = imap_settings(ctx.settings, dovecot)
    with ctx.sessions.begin() as session:
        seed_meter(session, email=CUSTOMER, account="123456789", meter="12345678")
    return ctx


def test_mails_are_fetched_ledgered_and_moved(imap_ctx: AppContext, dovecot: DovecotServer) -> None:
    append(
        dovecot,
        customer_mail(sender=CUSTOMER, photos=[("a.jpg", CLEAR)], message_id="<1@k>"),
        customer_mail(sender=CUSTOMER, photos=[("b.jpg", BLURRY)], message_id="<2@k>"),
        customer_mail(sender=CUSTOMER, body="nur Text", message_id="<3@k>"),
    )
    source = ImapSource(imap_ctx.settings)
    report = run_pass(imap_ctx, source, reader=reader)
    assert (report.fetched, report.accepted, report.review, report.rejected) == (3, 1, 1, 1)
    assert report.moved == 3
    assert folder_count(dovecot, "INBOX") == 0
    assert [folder_count(dovecot, f) for f in ("Processed", "Needs-Review", "Rejected")] == [
        1,
        1,
        1,
    ]
    with imap_ctx.sessions() as session:
        rows = session.scalars(select(InboundMessage).order_by(InboundMessage.id)).all()
        assert [r.message_id for r in rows] == ["<1@k>", "<2@k>", "<3@k>"]
        assert all(r.uidvalidity == source.uidvalidity and r.moved_at for r in rows)
        assert [r.source_key for r in rows] == [f"imap:{source.uidvalidity}:{u}" for u in (1, 2, 3)]
    with client(dovecot) as imap:  # fetched with BODY.PEEK: still unseen in the folder
        imap.select_folder("Processed")
        assert imap.search(["UNSEEN"]) != []
    source.close()


def test_crash_before_move_is_repaired_without_reprocessing(
    imap_ctx: AppContext, dovecot: DovecotServer
) -> None:
    append(dovecot, customer_mail(sender=CUSTOMER, photos=[("a.jpg", CLEAR)]))
    failing = {"on": True}

    def factory(settings: Settings) -> Any:
        real = connect(settings)

        def move(uids: Any, folder: str) -> Any:
            if failing["on"]:
                raise OSError("connection reset by peer")
            return real.move(uids, folder)

        return Wrapped(real, move=move)

    source = ImapSource(imap_ctx.settings, client_factory=factory)
    first = run_pass(imap_ctx, source, reader=reader)
    assert (first.accepted, first.moved) == (1, 0)
    assert folder_count(dovecot, "INBOX") == 1  # committed, not moved
    failing["on"] = False
    second = run_pass(imap_ctx, source, reader=reader)
    assert (second.fetched, second.accepted, second.moved) == (0, 0, 1)
    assert folder_count(dovecot, "INBOX") == 0 and folder_count(dovecot, "Processed") == 1
    assert count(imap_ctx, Reading) == 1 and count(imap_ctx, Outbox) == 1
    assert count(imap_ctx, InboundMessage, InboundMessage.attempts == 1) == 1


def test_two_passes_create_nothing_twice(imap_ctx: AppContext, dovecot: DovecotServer) -> None:
    append(
        dovecot,
        customer_mail(sender=CUSTOMER, photos=[("a.jpg", CLEAR)]),
        customer_mail(sender=CUSTOMER, photos=[("b.jpg", BLURRY)]),
    )
    source = ImapSource(imap_ctx.settings)
    run_pass(imap_ctx, source, reader=reader)
    again = run_pass(imap_ctx, source, reader=reader)
    assert (again.fetched, again.accepted, again.review, again.moved) == (0, 0, 0, 0)
    assert count(imap_ctx, InboundMessage) == 2
    assert (count(imap_ctx, Reading), count(imap_ctx, ReviewTask), count(imap_ctx, Outbox)) == (
        1, 1, 2
    )  # fmt: skip


def test_uidvalidity_change_recognises_known_mails(
    imap_ctx: AppContext, dovecot: DovecotServer
) -> None:
    append(dovecot, customer_mail(sender=CUSTOMER, photos=[("a.jpg", CLEAR)], message_id="<u@k>"))
    state = {"shift": 0, "fail_move": True}

    def factory(settings: Settings) -> Any:
        real = connect(settings)

        def select_folder(folder: str, readonly: bool = False) -> Any:
            info = dict(real.select_folder(folder, readonly=readonly))
            info[b"UIDVALIDITY"] = int(info[b"UIDVALIDITY"]) + state["shift"]
            return info

        def move(uids: Any, folder: str) -> Any:
            if state["fail_move"]:
                raise OSError("dropped")
            return real.move(uids, folder)

        return Wrapped(real, select_folder=select_folder, move=move)

    source = ImapSource(imap_ctx.settings, client_factory=factory)
    assert run_pass(imap_ctx, source, reader=reader).accepted == 1  # processed, move failed
    state["shift"], state["fail_move"] = 1000, False  # the server renumbered its mailbox
    report = run_pass(imap_ctx, source, reader=reader)
    assert (report.fetched, report.duplicates, report.accepted) == (1, 1, 0)
    with imap_ctx.sessions() as session:
        rows = session.scalars(select(InboundMessage).order_by(InboundMessage.id)).all()
    assert [r.status for r in rows] == ["accepted", "duplicate"]
    assert rows[0].uidvalidity is not None and rows[1].uidvalidity == rows[0].uidvalidity + 1000
    assert all(r.moved_at for r in rows) and "UIDVALIDITY" in (rows[0].error or "")
    assert folder_count(dovecot, "INBOX") == 0 and folder_count(dovecot, "Processed") == 1
    assert count(imap_ctx, Reading) == 1 and count(imap_ctx, Outbox) == 1


def test_dropped_connection_reconnects_next_pass(
    imap_ctx: AppContext, dovecot: DovecotServer
) -> None:
    append(dovecot, customer_mail(sender=CUSTOMER, photos=[("a.jpg", CLEAR)]))
    made: list[IMAPClient] = []

    def factory(settings: Settings) -> Any:
        made.append(connect(settings))
        return made[-1]

    source = ImapSource(imap_ctx.settings, client_factory=factory)
    assert len(list(source.list_new())) == 1
    made[-1]._imap.sock.shutdown(socket.SHUT_RDWR)  # the server went away
    with pytest.raises(MailboxError):
        list(source.list_new())
    report = run_pass(imap_ctx, source, reader=reader)
    assert (report.fetched, report.accepted, report.moved) == (1, 1, 1)
    assert len(made) == 2


def test_without_move_capability_copies_and_expunges(
    imap_ctx: AppContext, dovecot: DovecotServer
) -> None:
    append(dovecot, customer_mail(sender=CUSTOMER, body="kein Foto"))

    def factory(settings: Settings) -> Any:
        real = connect(settings)
        return Wrapped(real, has_capability=lambda cap: cap != "MOVE" and real.has_capability(cap))

    report = run_pass(imap_ctx, ImapSource(imap_ctx.settings, client_factory=factory))
    assert (report.rejected, report.moved) == (1, 1)
    assert folder_count(dovecot, "INBOX") == 0 and folder_count(dovecot, "Rejected") == 1


def test_too_large_mail_is_rejected_unfetched(imap_ctx: AppContext, dovecot: DovecotServer) -> None:
    imap_ctx.settings = imap_ctx.settings.model_copy(update={"max_message_bytes": 5000})
    append(dovecot, customer_mail(sender=CUSTOMER, photos=[("a.jpg", CLEAR)]))
    report = run_pass(imap_ctx, ImapSource(imap_ctx.settings), reader=reader)
    assert (report.fetched, report.rejected, report.moved) == (1, 1, 1)
    with imap_ctx.sessions() as session:
        row = session.scalars(select(InboundMessage)).one()
    assert row.status == "rejected" and row.error and "zu groß" in row.error
    assert row.size > 5000 and len(imap_ctx.blobs.get(row.sha256)) < 5000
    assert folder_count(dovecot, "Rejected") == 1
    with imap_ctx.sessions() as session:
        [reply] = session.scalars(select(Outbox)).all()
    assert (reply.kind, reply.recipient, reply.inbound_message_id) == (
        "resend_request", CUSTOMER, row.id,
    )  # fmt: skip


def test_wrong_password_is_a_mailbox_error(imap_ctx: AppContext) -> None:
    settings = imap_ctx.settings.model_copy(update={"imap_password": "falsch"})
    with pytest.raises(MailboxError, match="Anmeldung"):
        list(ImapSource(settings).list_new())


@pytest.mark.parametrize("dovecot", ["INBOX."], indirect=True)
def test_folders_follow_the_namespace_prefix(imap_ctx: AppContext, dovecot: DovecotServer) -> None:
    append(dovecot, customer_mail(sender=CUSTOMER, photos=[("a.jpg", CLEAR)]))
    report = run_pass(imap_ctx, ImapSource(imap_ctx.settings), reader=reader)
    assert (report.accepted, report.moved) == (1, 1)
    assert folder_count(dovecot, "INBOX.Processed") == 1 and folder_count(dovecot, "INBOX") == 0
    with client(dovecot) as imap:
        assert not imap.folder_exists("Processed")
