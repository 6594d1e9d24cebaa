"""The retention purge: raw mails, photos and OCR results go after their periods; readings,
ledger rows, open reviews and blobs still named elsewhere stay."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from sqlalchemy import func, select, update

from app.cli import main
from core.context import AppContext
from core.db import transaction, try_named_lock
from core.models import AuditLog, InboundMessage, OcrResult, Photo, Reading, ReviewTask
from core.retention import LOCK, purge, purge_if_due
from core.settings import Settings
from tests.conftest import FrozenClock
from tests.ops_seed import (
    SURE_PHOTO,
    UNSURE_PHOTO,
    add_customer,
    photo_mail,
    process_mails,
    quiet,
    settled_at,
)

CUSTOMER = "erika@example.de"


@pytest.fixture
def processed(ctx: AppContext) -> AppContext:
    """One accepted mail and one waiting in review, both with a photo."""
    work = quiet(ctx)
    work.settings = work.settings.model_copy(
        update={"retain_raw_mail_days": 90, "retain_ocr_days": 200, "retain_photo_days": 400}
    )
    add_customer(work, email=CUSTOMER, account="123456789", meter="12345678")
    process_mails(work, photo_mail(CUSTOMER, SURE_PHOTO), photo_mail(CUSTOMER, UNSURE_PHOTO))
    return work


def _count(ctx: AppContext, model: type) -> int:
    with ctx.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def _mails(ctx: AppContext) -> dict[str, InboundMessage]:
    with ctx.sessions() as session:
        return {m.status: m for m in session.scalars(select(InboundMessage))}


def test_each_kind_of_data_goes_after_its_own_period(
    processed: AppContext, clock: FrozenClock
) -> None:
    mails = _mails(processed)
    assert set(mails) == {"accepted", "review"} and _count(processed, Photo) == 2
    settled = settled_at(processed)
    clock.now = settled + dt.timedelta(days=89)
    assert purge(processed).summary().startswith("Aufbewahrung: 0 Mails, 0 Fotos, 0 Text")
    clock.now = settled + dt.timedelta(days=91)
    dry = purge(processed, dry_run=True)
    assert (dry.raw_mails, dry.photos, dry.ocr_results, dry.blobs) == (1, 0, 0, 1)
    assert processed.blobs.exists(mails["accepted"].sha256)  # a dry run deletes nothing
    done = purge(processed)
    assert (done.raw_mails, done.blobs) == (1, 1)
    assert not processed.blobs.exists(mails["accepted"].sha256)
    assert processed.blobs.exists(mails["review"].sha256)  # open review: kept
    assert _mails(processed)["accepted"].purged_at == clock()
    assert _mails(processed)["accepted"].updated_at == mails["accepted"].updated_at
    clock.now = settled + dt.timedelta(days=201)
    assert purge(processed).ocr_results == 1 and _count(processed, OcrResult) == 1
    clock.now = settled + dt.timedelta(days=401)
    last = purge(processed)
    assert (last.photos, last.blobs, last.raw_mails) == (1, 1, 0)
    assert not processed.blobs.exists(_sha(SURE_PHOTO))
    assert processed.blobs.exists(_sha(UNSURE_PHOTO)) and _count(processed, Photo) == 1
    assert _count(processed, Reading) == 1 and _count(processed, InboundMessage) == 2
    with processed.sessions() as session:
        audits = list(session.scalars(select(AuditLog).where(AuditLog.action == "purge")))
    assert [a.details["photos"] for a in audits] == [0, 0, 1]


def _sha(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()


def test_a_photo_shared_with_a_kept_mail_stays(ctx: AppContext, clock: FrozenClock) -> None:
    work = quiet(ctx)
    add_customer(work, email=CUSTOMER, account="123456789", meter="12345678")
    process_mails(work, photo_mail(CUSTOMER, SURE_PHOTO))
    clock.now = settled_at(work) + dt.timedelta(days=1000)
    process_mails(work, photo_mail(CUSTOMER, SURE_PHOTO, subject="nochmal"))
    with work.sessions() as session:  # the second mail is settled now, by the system clock
        session.execute(
            update(InboundMessage)
            .where(InboundMessage.subject == "nochmal")
            .values(updated_at=clock())
        )
        session.commit()
    report = purge(work)
    assert (report.raw_mails, report.photos, report.blobs) == (1, 1, 1)  # the first mail's raw
    assert work.blobs.exists(_sha(SURE_PHOTO)) and _count(work, Photo) == 1


def test_the_worker_purges_on_its_schedule(processed: AppContext, clock: FrozenClock) -> None:
    scheduled = dataclasses.replace(
        processed, settings=processed.settings.model_copy(update={"purge_interval_hours": 24.0})
    )
    clock.now = settled_at(processed) + dt.timedelta(days=91)
    first = purge_if_due(scheduled, "host:1:1")
    assert first is not None and first.raw_mails == 1
    clock.advance(hours=23)
    assert purge_if_due(scheduled, "host:1:1") is None
    clock.advance(hours=2)
    assert purge_if_due(scheduled, "host:1:1") is not None


def test_a_worker_skips_the_purge_while_another_one_runs_it(
    processed: AppContext, clock: FrozenClock
) -> None:
    clock.now = settled_at(processed) + dt.timedelta(days=91)
    if processed.engine.dialect.name == "sqlite":  # a lease: held after the other's commit
        with transaction(processed.sessions) as session:
            assert try_named_lock(session, LOCK, "host-a:1:1", seconds=600)
        assert purge(processed, holder="host-b:2:1").raw_mails == 0
    else:  # an advisory lock: held while the other's transaction runs
        with processed.sessions() as other, other.begin():
            assert try_named_lock(other, LOCK, "host-a:1:1", seconds=600)
            assert purge(processed, holder="host-b:2:1").raw_mails == 0
    assert purge(processed).raw_mails == 1  # the command line does not wait for the lease


def test_a_decided_review_counts_from_its_decision(
    processed: AppContext, clock: FrozenClock
) -> None:
    decided = settled_at(processed) + dt.timedelta(days=30)
    with transaction(processed.sessions) as session:
        task = session.scalars(select(ReviewTask)).one()
        task.status, task.decision, task.decided_at = "done", "rejected", decided
    clock.now = decided + dt.timedelta(days=89)
    assert purge(processed).raw_mails == 1  # the accepted mail only
    clock.now = decided + dt.timedelta(days=91)
    assert purge(processed).raw_mails == 1  # now the reviewed one
    assert all(m.purged_at is not None for m in _mails(processed).values())


def test_zero_days_keeps_forever(processed: AppContext, clock: FrozenClock) -> None:
    processed.settings = processed.settings.model_copy(
        update={"retain_raw_mail_days": 0, "retain_ocr_days": 0, "retain_photo_days": 0}
    )
    clock.now = settled_at(processed) + dt.timedelta(days=5000)
    report = purge(processed)
    assert (report.raw_mails, report.photos, report.ocr_results, report.blobs) == (0, 0, 0, 0)


def test_cli_purge_dry_run(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("METER_INTAKE_DATABASE_URL", settings.effective_database_url)
    monkeypatch.setenv("METER_INTAKE_VAR_DIR", str(settings.var_dir))
    assert main(["purge", "--dry-run"]) == 0
    assert "Dateien würden gelöscht" in capsys.readouterr().out
