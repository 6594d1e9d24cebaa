"""The intake ledger: every mail seen is stored (raw bytes + row) and committed before all else.

Folder moves happen only after a result is committed: processing sets `target_folder` in its own
transaction, `apply_pending_moves` moves the mail and sets `moved_at`. A crash in between just
repeats the (idempotent) move on the next pass.

One fetcher per mailbox: on PostgreSQL an advisory lock (gone with a dead process's connection),
on SQLite a short lease, renewed while fetching and taken over at once from a holder on this host
whose process is gone.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.context import AppContext
from core.db import transaction, try_named_lock
from core.holders import is_gone
from core.models import InboundMessage, Lease
from intake.mime import Envelope, envelope, parse_message
from intake.replies import queue_too_large_reply
from intake.sender_auth import check_sender
from intake.sources import PROCESSED, REJECTED, MailSource, MessageGone, RawMailRef

log = logging.getLogger(__name__)
LOCK_SECONDS = 60.0
RENEW_SECONDS = LOCK_SECONDS / 4
MAX_DUPLICATE_CANDIDATES = 5


@dataclass(frozen=True)
class FetchReport:
    fetched: int = 0
    duplicates: int = 0
    rejected: int = 0


@contextmanager
def mailbox_lock(ctx: AppContext, mailbox: str, holder: str) -> Iterator[bool]:
    """One fetcher per mailbox: a PostgreSQL advisory lock held for the block, else a lease."""
    name = f"mailbox:{mailbox}"
    if ctx.engine.dialect.name == "postgresql":
        with transaction(ctx.sessions) as session:
            yield try_named_lock(session, name, holder, seconds=LOCK_SECONDS)
        return
    with transaction(ctx.sessions) as session:
        _take_over_from_gone(session, name, holder)
        got = try_named_lock(session, name, holder, seconds=LOCK_SECONDS)
    try:
        yield got
    finally:
        if got:
            with transaction(ctx.sessions) as session:
                try_named_lock(session, name, holder, seconds=0)  # expire our lease now


def _take_over_from_gone(session: Session, name: str, holder: str) -> None:
    lease = session.get(Lease, name)
    now = dt.datetime.now(dt.UTC)
    if lease is None or lease.holder == holder or _aware(lease.expires_at) <= now:
        return
    if is_gone(lease.holder):
        log.warning("Sperre %s: Worker %s ist beendet; übernommen", name, lease.holder)
        lease.expires_at = now
        session.flush()


def _aware(moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def lease_renewer(ctx: AppContext, mailbox: str, holder: str) -> Callable[[], None]:
    """A callable that renews our SQLite mailbox lease, at most every RENEW_SECONDS."""
    if ctx.engine.dialect.name == "postgresql":
        return lambda: None  # the advisory lock lives as long as its transaction
    last = [time.monotonic()]

    def renew() -> None:
        if time.monotonic() - last[0] < RENEW_SECONDS:
            return
        with transaction(ctx.sessions) as session:
            try_named_lock(session, f"mailbox:{mailbox}", holder, seconds=LOCK_SECONDS)
        last[0] = time.monotonic()

    return renew


def known_keys(session: Session, mailbox: str, keys: list[str]) -> set[str]:
    found: set[str] = set()
    for start in range(0, len(keys), 500):
        chunk = keys[start : start + 500]
        stmt = select(InboundMessage.source_key).where(
            InboundMessage.mailbox == mailbox, InboundMessage.source_key.in_(chunk)
        )
        found.update(session.scalars(stmt))
    return found


def fetch_new(
    ctx: AppContext, source: MailSource, *, renew: Callable[[], None] | None = None
) -> FetchReport:
    """Ledger every mail of the inbox that the ledger does not hold yet. On any failure the
    source reads its whole folder again next time (nothing listed but not ledgered is skipped)."""
    try:
        return _fetch_listed(ctx, source, renew or (lambda: None))
    except BaseException:
        source.rescan()
        raise


def _fetch_listed(ctx: AppContext, source: MailSource, renew: Callable[[], None]) -> FetchReport:
    refs = list(source.list_new())
    with ctx.sessions() as session:
        known = known_keys(session, source.name, [r.source_key for r in refs])
    counts = {"new": 0, "duplicate": 0, "rejected": 0}
    for ref in refs:
        if ref.source_key in known:
            continue
        renew()
        try:
            status = _ledger_one(ctx, source, ref)
        except MessageGone as exc:  # moved away meanwhile, or the folder was recreated
            log.info("%s", exc)
            continue
        if status is not None:
            counts[status if status in counts else "new"] += 1
    return FetchReport(
        fetched=sum(counts.values()), duplicates=counts["duplicate"], rejected=counts["rejected"]
    )


def _ledger_one(ctx: AppContext, source: MailSource, ref: RawMailRef) -> str | None:
    limit = ctx.settings.max_message_bytes
    if ref.size is not None and ref.size > limit:
        head = source.fetch_headers(ref)
        error = f"Mail zu groß: {ref.size:,} Bytes (Grenze {limit:,}); nicht verarbeitet"
        return record_mail(ctx, source.name, ref, head, too_large=error)
    return record_mail(ctx, source.name, ref, source.fetch(ref))


def record_mail(
    ctx: AppContext, mailbox: str, ref: RawMailRef, raw: bytes, *, too_large: str | None = None
) -> str | None:
    """Store the bytes, insert the ledger row, commit. Returns its status (None: known already)."""
    sha = ctx.blobs.put(raw)
    env = envelope(raw, received_at=ctx.clock())
    try:
        with transaction(ctx.sessions) as session:
            row = _new_row(ctx, mailbox, ref, raw, sha, env)
            session.add(row)
            session.flush()
            _mark_if_duplicate(ctx, session, row, env)  # a re-delivered copy is answered once
            if too_large and row.status != "duplicate":
                row.status, row.error, row.target_folder = "rejected", too_large, REJECTED
                _answer_too_large(ctx, session, row, raw)
            status, ledger_id = row.status, row.id
    except IntegrityError:  # the same (mailbox, source_key) was ledgered meanwhile
        log.info("Mail %s in %s ist bereits im Eingangsbuch", ref.source_key, mailbox)
        return None
    log.info(
        "Eingang %d (%s): %s, von %s", ledger_id, ref.source_key, status, env.sender or "unbekannt"
    )
    return status


def _answer_too_large(ctx: AppContext, session: Session, row: InboundMessage, head: bytes) -> None:
    """The customer learns that the mail was not read, in the ledger's own transaction (so the
    answer is queued once, with the row)."""
    submission = parse_message(head, ledger_id=row.id, received_at=row.received_at)
    checked = check_sender(head, submission.sender, ctx.settings.authserv_ids)
    submission = dataclasses.replace(submission, sender_check=checked)
    queued = queue_too_large_reply(
        session, submission, limit_bytes=ctx.settings.max_message_bytes,
        mail_from=ctx.settings.mail_from, now=ctx.clock(),
        allow_unknown=ctx.settings.reply_to_unknown_senders,
    )  # fmt: skip
    log.info(
        "Eingang %d zu groß: %s", row.id, "um kleineres Foto gebeten" if queued else "keine Antwort"
    )


def _new_row(
    ctx: AppContext, mailbox: str, ref: RawMailRef, raw: bytes, sha: str, env: Envelope
) -> InboundMessage:
    now = ctx.clock()
    return InboundMessage(
        mailbox=mailbox,
        source_key=ref.source_key,
        uidvalidity=ref.uidvalidity,
        uid=ref.uid,
        message_id=env.message_id,
        sha256=sha,
        size=ref.size if ref.size is not None else len(raw),
        sender=env.sender,
        subject=env.subject,
        received_at=now,
        status="new",
        attempts=0,
        updated_at=now,
    )


def _mark_if_duplicate(
    ctx: AppContext, session: Session, row: InboundMessage, env: Envelope
) -> None:
    """Same raw bytes, or same Message-ID + sender + content: recorded, never processed again."""
    original = find_original(ctx, session, row, env)
    if original is None:
        return
    row.status = "duplicate"
    row.error = f"Duplikat von Eingang {original.id}"
    row.target_folder = original.target_folder or PROCESSED


def find_original(
    ctx: AppContext, session: Session, row: InboundMessage, env: Envelope
) -> InboundMessage | None:
    same_mail = InboundMessage.sha256 == row.sha256
    if env.message_id and env.sender:
        same_mail = or_(
            same_mail,
            (InboundMessage.message_id == env.message_id) & (InboundMessage.sender == env.sender),
        )
    stmt = (
        select(InboundMessage)
        .where(same_mail, InboundMessage.id < row.id, InboundMessage.status != "failed")
        .order_by(InboundMessage.id)
        .limit(MAX_DUPLICATE_CANDIDATES)
    )
    for candidate in session.scalars(stmt):
        if candidate.sha256 == row.sha256 or _same_content(ctx, candidate, env):
            return candidate
    return None


def _same_content(ctx: AppContext, candidate: InboundMessage, env: Envelope) -> bool:
    try:
        raw = ctx.blobs.get(candidate.sha256)
    except OSError:
        return False
    return envelope(raw, received_at=candidate.received_at).content_digest == env.content_digest


def apply_pending_moves(
    ctx: AppContext, source: MailSource, *, limit: int = 200, ledger_id: int | None = None
) -> int:
    """Move mails whose result is committed (only `ledger_id`, if given); set `moved_at`.
    The first mailbox error (other than a vanished mail) is raised; the rest wait."""
    with ctx.sessions() as session:
        stmt = (
            select(InboundMessage.id, InboundMessage.source_key, InboundMessage.target_folder)
            .where(
                InboundMessage.mailbox == source.name,
                InboundMessage.target_folder.is_not(None),
                InboundMessage.moved_at.is_(None),
                InboundMessage.status.not_in(("new", "processing")),
            )
            .order_by(InboundMessage.id)
            .limit(limit)
        )
        if ledger_id is not None:
            stmt = stmt.where(InboundMessage.id == ledger_id)
        pending = list(session.execute(stmt))
    moved = 0
    for ledger_id, key, folder in pending:
        note = None
        try:
            source.move(key, folder or PROCESSED)
        except MessageGone as exc:
            note = f"nicht verschoben: {exc}"
            log.warning("Eingang %s: %s", ledger_id, note)
        _set_moved(ctx, ledger_id, note)
        moved += 1
    return moved


def _set_moved(ctx: AppContext, ledger_id: int, note: str | None) -> None:
    with transaction(ctx.sessions) as session:
        row = session.get(InboundMessage, ledger_id)
        if row is None:
            return
        row.moved_at = ctx.clock()
        if note:
            row.error = f"{row.error}; {note}" if row.error else note
