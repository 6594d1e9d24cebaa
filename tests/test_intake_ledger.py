"""Maildir source + ledger + claims: store and commit first, move after the result, never twice."""

from __future__ import annotations

import datetime as dt
import mailbox
from pathlib import Path

import pytest
from sqlalchemy import func, select

from core.context import AppContext
from core.errors import MailboxError
from core.models import InboundMessage, Outbox
from intake.claims import claim_next, finish, lock_claimed, record_failure
from intake.ledger import apply_pending_moves, fetch_new
from intake.maildir import MaildirSource
from intake.sources import NEEDS_REVIEW, PROCESSED, RawMailRef
from tests.conftest import FrozenClock
from tests.samples import customer_mail, seed_meter


def deliver(path: Path, raw: bytes) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    return str(mailbox.Maildir(path, create=True).add(raw))


def rows(ctx: AppContext) -> list[InboundMessage]:
    with ctx.sessions() as session:
        return list(session.scalars(select(InboundMessage).order_by(InboundMessage.id)))


def folder_keys(path: Path, folder: str | None = None) -> list[str]:
    box = mailbox.Maildir(path, create=False)
    return sorted((box.get_folder(folder) if folder else box).keys())


class FlakyMaildir(MaildirSource):
    """A Maildir whose moves fail while `fail_moves` is set (a crash between commit and move)."""

    fail_moves = False

    def move(self, source_key: str, folder: str) -> None:
        if self.fail_moves:
            raise MailboxError("simulated crash before the move")
        super().move(source_key, folder)


def test_maildir_lists_new_and_cur_and_moves(tmp_path: Path) -> None:
    path = tmp_path / "mail"
    first = deliver(path, customer_mail(sender="a@example.de"))
    box = mailbox.Maildir(path)
    msg = box[first]
    msg.set_subdir("cur")
    box[first] = msg  # now in cur/ with info
    second = deliver(path, customer_mail(sender="b@example.de"))
    source = MaildirSource(path)
    refs = list(source.list_new())
    assert sorted(r.source_key for r in refs) == sorted([first, second])
    assert all(r.size and r.size > 100 for r in refs)
    assert b"a@example.de" in source.fetch(RawMailRef(first))
    assert source.fetch_headers(RawMailRef(first)).endswith(b"anbei") is False
    source.move(first, NEEDS_REVIEW)
    source.move(first, NEEDS_REVIEW)  # idempotent after a crash
    assert folder_keys(path) == [second]
    assert folder_keys(path, NEEDS_REVIEW) == [first]
    assert (path / ".Needs-Review" / "cur").is_dir()


def test_fetch_ledgers_once_and_moves_only_after_result(ctx: AppContext, tmp_path: Path) -> None:
    path = ctx.settings.effective_maildir
    key = deliver(path, customer_mail(sender="Kunde <kunde@example.de>", message_id="<m1@x>"))
    source = FlakyMaildir(path)
    assert fetch_new(ctx, source).fetched == 1
    assert fetch_new(ctx, source).fetched == 0  # re-fetch of the same key is recognised
    [row] = rows(ctx)
    assert (row.source_key, row.sender, row.message_id, row.status) == (
        key, "kunde@example.de", "<m1@x>", "new"
    )  # fmt: skip
    assert ctx.blobs.get(row.sha256).startswith(b"From: Kunde")
    assert apply_pending_moves(ctx, source) == 0  # no result yet: the mail stays in the inbox
    assert folder_keys(path) == [key]

    claim = claim_next(ctx)
    assert claim is not None and claim.attempts == 1
    with ctx.sessions.begin() as session:
        finish(lock_claimed(session, claim), status="accepted", folder=PROCESSED)
    source.fail_moves = True  # crash after the commit, before the move
    with pytest.raises(MailboxError):
        apply_pending_moves(ctx, source)
    assert folder_keys(path) == [key] and rows(ctx)[0].moved_at is None
    source.fail_moves = False  # next pass: the move is applied, nothing reprocessed
    assert apply_pending_moves(ctx, source) == 1
    assert folder_keys(path, PROCESSED) == [key] and folder_keys(path) == []
    [row] = rows(ctx)
    assert row.moved_at is not None and row.status == "accepted" and row.attempts == 1
    assert claim_next(ctx) is None


def test_redelivered_mail_is_a_duplicate(ctx: AppContext) -> None:
    path = ctx.settings.effective_maildir
    raw = customer_mail(sender="kunde@example.de", message_id="<same@x>", body="Stand 4711")
    deliver(path, raw)
    deliver(path, b"Received: from relay2.example by mx\r\n" + raw)  # re-delivered copy
    deliver(path, raw)  # identical bytes again
    other = customer_mail(sender="kunde@example.de", message_id="<same@x>", body="Stand 4712")
    deliver(path, other)  # same Message-ID, different content: not a duplicate
    report = fetch_new(ctx, MaildirSource(path))
    assert (report.fetched, report.duplicates) == (4, 2)
    statuses = sorted(r.status for r in rows(ctx))
    assert statuses == ["duplicate", "duplicate", "new", "new"]
    dup = next(r for r in rows(ctx) if r.status == "duplicate")
    assert dup.target_folder == PROCESSED and dup.error and "Duplikat von Eingang" in dup.error


def test_too_large_mail_is_ledgered_as_rejected(ctx: AppContext) -> None:
    ctx.settings.max_message_bytes = 2000
    path = ctx.settings.effective_maildir
    key = deliver(path, customer_mail(sender="k@example.de", photos=[("a.jpg", b"\xff" * 5000)]))
    source = MaildirSource(path)
    assert fetch_new(ctx, source).rejected == 1
    [row] = rows(ctx)
    assert row.status == "rejected" and row.error and "zu groß" in row.error
    assert row.size > 2000
    assert b"Subject:" in ctx.blobs.get(row.sha256)  # the headers are kept
    assert claim_next(ctx) is None
    apply_pending_moves(ctx, source)
    assert folder_keys(path, "Rejected") == [key]


def test_too_large_mail_is_answered_once_unless_it_is_an_auto_reply(ctx: AppContext) -> None:
    ctx.settings.max_message_bytes = 2 * 1024 * 1024
    with ctx.sessions.begin() as session:
        seed_meter(session, email="erika@example.de", account="1", meter="M1", name="Erika Muster")
    path = ctx.settings.effective_maildir
    big = [("a.jpg", b"\xff" * 2_200_000)]
    mail = customer_mail(sender="Bob <Erika@Example.de>", photos=big, message_id="<big@x>")
    deliver(path, mail)
    deliver(path, customer_mail(sender="fremd@example.org", photos=big))
    auto = [("Auto-Submitted", "auto-replied")]
    deliver(path, customer_mail(sender="ooo@example.de", photos=big, extra_headers=auto))
    source = MaildirSource(path)
    assert fetch_new(ctx, source).rejected == 3
    assert fetch_new(ctx, source).fetched == 0
    deliver(path, b"Received: from relay2.example by mx\r\n" + mail)  # delivered again
    assert fetch_new(ctx, source).duplicates == 1
    with ctx.sessions() as session:
        replies = list(session.scalars(select(Outbox).order_by(Outbox.recipient)))
    # the stranger gets no reply (a clerk may answer), the re-delivered copy none either
    assert [(m.kind, m.recipient) for m in replies] == [("resend_request", "erika@example.de")]
    erika = replies[0]
    assert erika.in_reply_to == "<big@x>" and "Erika Muster" in erika.body_text
    assert "Bob" not in erika.body_text + (erika.body_html or "")  # the name on file, not From's
    assert "zu groß" in erika.subject and "(höchstens 2 MB)" in erika.body_text
    assert sorted(r.status for r in rows(ctx)) == ["duplicate"] + ["rejected"] * 3


def test_failures_are_retried_then_failed(ctx: AppContext, clock: FrozenClock) -> None:
    deliver(ctx.settings.effective_maildir, customer_mail(sender="k@example.de"))
    fetch_new(ctx, MaildirSource(ctx.settings.effective_maildir))
    for attempt in range(1, ctx.settings.max_attempts + 1):
        claim = claim_next(ctx)
        assert claim is not None and claim.attempts == attempt
        assert claim_next(ctx) is None  # claimed: nobody else gets it
        status = record_failure(ctx, claim, RuntimeError(f"kaputt {attempt}"))
        clock.advance(hours=1)
    assert status == "failed"
    [row] = rows(ctx)
    assert row.status == "failed" and row.error and "kaputt 3" in row.error
    assert row.target_folder == NEEDS_REVIEW
    assert claim_next(ctx) is None


def test_crashed_worker_lease_expires(ctx: AppContext, clock: FrozenClock) -> None:
    deliver(ctx.settings.effective_maildir, customer_mail(sender="k@example.de"))
    fetch_new(ctx, MaildirSource(ctx.settings.effective_maildir))
    first = claim_next(ctx)
    assert first is not None
    clock.advance(seconds=ctx.settings.claim_lease_seconds / 2)
    assert claim_next(ctx) is None  # still leased
    clock.advance(hours=1)  # the worker died; the lease ran out
    second = claim_next(ctx)
    assert second is not None and second.attempts == 2
    with pytest.raises(Exception, match="anderswo"), ctx.sessions.begin() as session:
        lock_claimed(session, first)  # the dead worker's result would be refused
    clock.advance(hours=1)
    claim_next(ctx)
    clock.advance(hours=1)
    assert claim_next(ctx) is None  # attempts used up
    with ctx.sessions() as session:
        assert session.scalar(select(func.count()).where(InboundMessage.status == "failed")) == 1
    assert rows(ctx)[0].next_attempt_at is None
    assert isinstance(clock.now, dt.datetime)
