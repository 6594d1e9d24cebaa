"""Several workers: SKIP LOCKED (PostgreSQL) or compare-and-set (SQLite) claims give every mail to
exactly one of them."""

from __future__ import annotations

import mailbox
import threading
import time
from collections import Counter

from sqlalchemy import func, select

from core.context import AppContext
from core.models import InboundMessage, Outbox, Reading
from core.settings import Settings
from core.types import MeterHint, MeterRead
from intake.claims import claim_next
from intake.ledger import fetch_new, mailbox_lock
from intake.maildir import MaildirSource
from intake.pipeline import process_one
from tests.readers import per_hint
from tests.samples import customer_mail, seed_meter

MAILS = 12
WORKERS = 3


@per_hint
def slow_reader(data: bytes, hint: MeterHint, settings: Settings) -> MeterRead:
    time.sleep(0.05)  # long enough for the workers to overlap
    return MeterRead(reading="04521", confidence=0.99, accepted=True)


def worker(ctx: AppContext, done: list[tuple[int, str]], barrier: threading.Barrier) -> None:
    barrier.wait()
    while (claim := claim_next(ctx)) is not None:
        done.append((claim.ledger_id, process_one(ctx, claim, reader=slow_reader)))


def test_each_mail_is_processed_exactly_once(ctx: AppContext) -> None:
    path = ctx.settings.effective_maildir
    path.parent.mkdir(parents=True, exist_ok=True)
    box = mailbox.Maildir(path, create=True)
    with ctx.sessions.begin() as session:
        for n in range(MAILS):
            email = f"kunde{n}@example.de"
            seed_meter(session, email=email, account=f"40001234{n:04d}", meter=f"9000{n:04d}")
            box.add(customer_mail(sender=email, photos=[("z.jpg", b"\xff\xd8\xff" + bytes([n]))]))
    assert fetch_new(ctx, MaildirSource(path)).fetched == MAILS

    results: list[list[tuple[int, str]]] = [[] for _ in range(WORKERS)]
    barrier = threading.Barrier(WORKERS)
    threads = [threading.Thread(target=worker, args=(ctx, r, barrier)) for r in results]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    processed = Counter(ledger_id for r in results for ledger_id, _ in r)
    assert len(processed) == MAILS and set(processed.values()) == {1}
    assert sum(1 for r in results if r) > 1  # the work was really shared
    assert {status for r in results for _, status in r} == {"accepted"}
    with ctx.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Reading)) == MAILS
        assert session.scalar(select(func.count()).select_from(Outbox)) == MAILS
        attempts = session.scalars(select(InboundMessage.attempts)).all()
    assert set(attempts) == {1}


def test_one_fetcher_per_mailbox(ctx: AppContext) -> None:
    with mailbox_lock(ctx, "maildir:/x", "worker-a") as first:
        with mailbox_lock(ctx, "maildir:/x", "worker-b") as second:
            assert first and not second
        with mailbox_lock(ctx, "maildir:/other", "worker-b") as other:
            assert other
    with mailbox_lock(ctx, "maildir:/x", "worker-b") as later:
        assert later  # released after the block
