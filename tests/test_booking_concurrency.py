"""Two workers booking on the same meter at the same moment (SQLite and PostgreSQL, real
concurrent transactions): the second decides against the history the first committed, so a day
never gets two readings, and a clerk sees the second value beside the first."""

from __future__ import annotations

import mailbox
import threading
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import pytest

from core.context import AppContext
from core.db import transaction
from core.models import Reading, ReviewTask
from core.settings import Settings
from core.types import MeterHint, MeterRead
from intake import pipeline
from intake.claims import Claim, claim_next
from intake.ledger import fetch_new
from intake.maildir import MaildirSource
from matching import reasons
from tests.readers import per_hint
from tests.samples import customer_mail, seed_meter
from tests.test_intake_pipeline import all_of

CUSTOMER = "erika@example.de"
VALUES = {b"photo-a": "04521", b"photo-b": "04522"}
WAIT = 30  # seconds; only reached when a worker hangs


@per_hint
def read_by_photo(data: bytes, hint: MeterHint, settings: Settings) -> MeterRead:
    return MeterRead(reading=VALUES[data[-7:]], confidence=0.99, accepted=True, seconds=0.1)


class Interleave:
    """Worker `a` decides, then waits until worker `b` has decided too (b waits for a's
    decision first): without a lock both judge the meter's history without the other's reading."""

    def __init__(self, decide: Callable[..., Any]) -> None:
        self.decide = decide
        self.decided = {"a": threading.Event(), "b": threading.Event()}
        self.waited: list[str] = []

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        name = threading.current_thread().name
        first = name in self.decided and not self.decided[name].is_set()
        if first and name == "b":
            assert self.decided["a"].wait(WAIT)
        result = self.decide(*args, **kwargs)
        if first:
            self.decided[name].set()
            if name == "a":
                self.waited.append(name)
                assert self.decided["b"].wait(WAIT)
        return result


@pytest.fixture
def two_claims(ctx: AppContext) -> Iterator[tuple[AppContext, list[Claim]]]:
    with ctx.sessions.begin() as session:
        seed_meter(session, email=CUSTOMER, account="123456789", meter="12345678")
    path = ctx.settings.effective_maildir
    path.parent.mkdir(parents=True, exist_ok=True)
    box = mailbox.Maildir(path, create=True)
    for n, photo in enumerate(VALUES):
        raw = customer_mail(sender=CUSTOMER, photos=[("z.jpg", b"\xff\xd8\xff" + photo)],
                            message_id=f"<m{n}@k>")  # fmt: skip
        box.add(raw)
    assert fetch_new(ctx, MaildirSource(path)).fetched == 2
    claims = [claim_next(ctx), claim_next(ctx)]
    assert all(claims)
    yield ctx, [c for c in claims if c is not None]


def test_two_workers_on_one_meter_never_book_two_readings_for_a_day(
    two_claims: tuple[AppContext, list[Claim]], monkeypatch: pytest.MonkeyPatch
) -> None:
    ctx, claims = two_claims
    interleave = Interleave(pipeline.decide_mail)
    monkeypatch.setattr(pipeline, "decide_mail", interleave)
    statuses: dict[str, str] = {}

    def work(name: str, claim: Claim) -> None:
        statuses[name] = pipeline.process_one(ctx, claim, reader=read_by_photo)

    threads = [
        threading.Thread(target=work, args=(name, claim), name=name)
        for name, claim in zip("ab", claims, strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT * 2)
    assert interleave.waited == ["a"]  # the two decisions really overlapped
    assert sorted(statuses.values()) == ["accepted", "review"]
    [reading] = all_of(ctx, Reading)
    [task] = all_of(ctx, ReviewTask)
    assert task.reason_codes[0] == reasons.OTHER_READING_SAME_DAY  # (and below it, if lower)
    assert task.details["same_day_reading_id"] == reading.id
    assert {str(reading.value), str(task.proposed_value)} == {"4521.0000", "4522.0000"}
    # the second value was judged against a history that holds the first (not a stale one)
    expectation = task.details["expectation"]
    assert expectation["basis"] == "kind_default"
    assert Decimal(expectation["last_value"]) == reading.value


def test_a_decision_that_asks_for_more_meters_cannot_deadlock_with_another(
    ctx: AppContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Worker a first wants meter 1, b meter 2; under their locks both then want both. Waiting for
    the second while holding the first would deadlock crosswise (PostgreSQL aborts one of them);
    each lets go of what it holds and locks both in id order instead."""
    if ctx.engine.dialect.name != "postgresql":
        pytest.skip("SQLite has one write lock for all: no crosswise waits")
    with ctx.sessions.begin() as session:
        first = seed_meter(session, email="a@example.de", account="111111111", meter="11111111")
        second = seed_meter(session, email="b@example.de", account="222222222", meter="22222222")
    both = threading.Barrier(2, timeout=WAIT)
    monkeypatch.setattr(pipeline, "meters_of", lambda wanted: wanted)
    failures: list[BaseException] = []
    decided: dict[str, Any] = {}

    def work(name: str, alone: int) -> None:
        calls = 0

        def decide() -> Any:
            nonlocal calls
            calls += 1
            if calls == 2:  # both hold the meter they first wanted
                both.wait()
            return {alone} if calls == 1 else {first, second}

        try:
            with transaction(ctx.sessions) as session:
                decided[name] = pipeline.decide_locked(session, decide)
        except BaseException as exc:  # reported by the assertion below
            failures.append(exc)

    threads = [
        threading.Thread(target=work, args=("a", first), name="a"),
        threading.Thread(target=work, args=("b", second), name="b"),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT * 2)
    assert failures == []
    assert decided == {"a": {first, second}, "b": {first, second}}
