"""Export (Art. 15) and erasure (Art. 17) of one customer's data; both audited."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from app.cli import main
from core.context import AppContext
from core.customer_data import erase_customer, export_customer
from core.db import transaction
from core.errors import ConflictError, NotFoundError
from core.models import (
    AuditLog,
    ContractAccount,
    Customer,
    InboundMessage,
    Meter,
    MeterAccountMove,
    Outbox,
    Photo,
    Reading,
    ReviewTask,
)
from core.settings import Settings
from matching.review import resolve_task
from review_ui.queries import candidates
from tests.conftest import FrozenClock
from tests.ops_seed import SURE_PHOTO, UNSURE_PHOTO, add_customer, photo_mail, process_mails, quiet
from tests.plans import whole_table_reads

ERIKA, MAX = "erika@example.de", "max@example.de"


@pytest.fixture
def two_customers(ctx: AppContext) -> AppContext:
    work = quiet(ctx)
    add_customer(work, email=ERIKA, account="111111111", meter="11111111")
    add_customer(work, email=MAX, account="222222222", meter="22222222")
    process_mails(
        work,
        photo_mail(ERIKA, SURE_PHOTO, subject="Wasser Erika"),
        photo_mail(MAX, SURE_PHOTO + b"max", subject="Wasser Max"),
    )
    return work


def _audit(ctx: AppContext, action: str) -> list[AuditLog]:
    with ctx.sessions() as session:
        return list(session.scalars(select(AuditLog).where(AuditLog.action == action)))


def test_export_holds_everything_about_the_customer_and_nothing_else(
    two_customers: AppContext, tmp_path: Path
) -> None:
    target = tmp_path / "erika.zip"
    report = export_customer(two_customers, "111111111", target, actor="cli:datenschutz")
    assert (report.mails, report.photos, report.readings, report.sent_mails) == (1, 1, 1, 1)
    with zipfile.ZipFile(target) as archive:
        names = archive.namelist()
        data = json.loads(archive.read("daten.json"))
        photo = archive.read(next(n for n in names if n.startswith("fotos/")))
        raw = archive.read(next(n for n in names if n.startswith("mails/")))
    assert "LIESMICH.txt" in names and photo == SURE_PHOTO
    assert b"Wasser Erika" in raw or b"=?utf-8?" in raw
    assert data["customer"]["email"] == ERIKA and data["contract_accounts"] == ["111111111"]
    assert [r["value"] for r in data["readings"]] == ["4521.0000"]
    assert [m["subject"] for m in data["mails"]] == ["Wasser Erika"]
    assert data["photos"][0]["ocr"][0]["confidence"] == 0.99
    assert data["sent_mails"][0]["recipient"] == ERIKA and data["sent_mails"][0]["body_text"]
    assert MAX not in json.dumps(data)
    [audit] = _audit(two_customers, "customer_export")
    assert audit.actor == "cli:datenschutz" and audit.details["photos"] == 1
    with pytest.raises(NotFoundError):
        export_customer(two_customers, "999", tmp_path / "x.zip", actor="cli:x")


def test_erase_pseudonymises_and_deletes_but_keeps_the_readings(
    two_customers: AppContext,
) -> None:
    with two_customers.sessions() as session:
        mail = session.scalars(select(InboundMessage).where(InboundMessage.sender == ERIKA)).one()
        max_mail = session.scalars(
            select(InboundMessage.id).where(InboundMessage.sender == MAX)
        ).one()
    report = erase_customer(two_customers, "111111111", actor="cli:datenschutz")
    assert (report.mails, report.photos) == (1, 1)
    with two_customers.sessions() as session:
        customer = session.scalars(select(Customer).where(Customer.name.like("[gelöscht]%"))).one()
        erased_mail = session.get_one(InboundMessage, mail.id)
        outbox = session.scalars(select(Outbox).where(Outbox.inbound_message_id == mail.id)).one()
        photos = session.scalars(select(Photo.message_id)).all()
        readings = session.scalars(select(Reading.value).order_by(Reading.id)).all()
        others = session.scalars(select(Customer.email).where(Customer.email.is_not(None))).all()
    assert customer.email is None and customer.erased_at == two_customers.clock()
    assert (erased_mail.sender, erased_mail.subject) == (None, None)
    assert erased_mail.purged_at is not None and erased_mail.status == "accepted"
    assert (outbox.recipient, outbox.body_text) == ("", "[gelöscht]")
    assert not two_customers.blobs.exists(mail.sha256)
    assert not two_customers.blobs.exists(hashlib.sha256(SURE_PHOTO).hexdigest())
    assert photos == [max_mail] and len(readings) == 2 and others == [MAX]
    [audit] = _audit(two_customers, "customer_erase")
    assert audit.details["accounts"] == ["111111111"] and audit.entity_id == customer.id
    with pytest.raises(ConflictError, match="bereits"):
        erase_customer(two_customers, "111111111", actor="cli:datenschutz")


def test_erase_waits_for_open_reviews(ctx: AppContext) -> None:
    work = quiet(ctx)
    add_customer(work, email=ERIKA, account="111111111", meter="11111111")
    process_mails(work, photo_mail(ERIKA, UNSURE_PHOTO))
    with pytest.raises(ConflictError, match="offene Prüfaufgabe"):
        erase_customer(work, "111111111", actor="cli:x")
    with transaction(work.sessions) as session:
        task = session.scalars(select(ReviewTask)).one()
        task.status, task.decision = "done", "rejected"
        task.decided_at = work.clock() + dt.timedelta(minutes=1)
    assert erase_customer(work, "111111111", actor="cli:x").photos == 1


def test_cli_customer_commands(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ctx: AppContext
) -> None:
    monkeypatch.setenv("METER_INTAKE_DATABASE_URL", settings.effective_database_url)
    monkeypatch.setenv("METER_INTAKE_VAR_DIR", str(settings.var_dir))
    add_customer(ctx, email=ERIKA, account="111111111", meter="11111111")
    target = tmp_path / "auskunft.zip"
    assert main(["customer", "export", "111111111", "-o", str(target)]) == 0
    assert zipfile.is_zipfile(target)
    assert main(["customer", "erase", "111111111"]) == 2  # without --yes
    assert main(["customer", "erase", "111111111", "--yes"]) == 0
    assert main(["customer", "export", "000"]) == 1


JOHN = "john@example.de"


def _move_meter_to_john(ctx: AppContext, moved_on: dt.date) -> None:
    """The master-data import's move of Erika's meter 11111111 to John's new account."""
    with transaction(ctx.sessions) as session:
        meter = session.scalars(select(Meter).where(Meter.number == "11111111")).one()
        john = Customer(name="John Smith", email=JOHN, language="de")
        account = ContractAccount(number="333333333", customer=john)
        session.add_all([john, account])
        session.flush()
        session.add(MeterAccountMove(meter_id=meter.id, from_account_id=meter.account_id,
                                     to_account_id=account.id, moved_on=moved_on))  # fmt: skip
        meter.account_id = account.id


@pytest.fixture
def moved_meter(ctx: AppContext, clock: FrozenClock) -> AppContext:
    """Erika sends a photo on 20.11., her meter moves to John on 25.11., John sends two on
    30.11. (same value: a clerk books the first and rejects the second)."""
    work = quiet(ctx)
    add_customer(work, email=ERIKA, account="111111111", meter="11111111")
    process_mails(work, photo_mail(ERIKA, SURE_PHOTO, subject="Wasser Erika"))
    _move_meter_to_john(work, dt.date(2026, 11, 25))
    clock.advance(days=10)
    process_mails(
        work,
        photo_mail(JOHN, SURE_PHOTO + b"john", subject="Wasser John"),
        photo_mail(JOHN, UNSURE_PHOTO, subject="Wasser John unscharf"),
    )
    with transaction(work.sessions) as session:
        first, second = session.scalars(select(ReviewTask.id).order_by(ReviewTask.id)).all()
        resolve_task(session, first, action="accept", value=None, meter_id=None,
                     clerk="petra", now=work.clock())  # fmt: skip
        resolve_task(session, second, action="reject", value=None, meter_id=None,
                     clerk="petra", now=work.clock())  # fmt: skip
    return work


def _exported(ctx: AppContext, account: str, target: Path) -> dict[str, Any]:
    export_customer(ctx, account, target, actor="cli:datenschutz")
    with zipfile.ZipFile(target) as archive:
        return dict(json.loads(archive.read("daten.json")))


def test_after_a_move_each_tenant_gets_the_readings_and_mails_of_their_days(
    moved_meter: AppContext, tmp_path: Path
) -> None:
    john = _exported(moved_meter, "333333333", tmp_path / "john.zip")
    assert [r["read_on"] for r in john["readings"]] == ["2026-11-30"]
    assert sorted(m["subject"] for m in john["mails"]) == ["Wasser John", "Wasser John unscharf"]
    assert len(john["photos"]) == 2 and ERIKA not in json.dumps(john)
    erika = _exported(moved_meter, "111111111", tmp_path / "erika.zip")
    assert [(r["meter"], r["read_on"]) for r in erika["readings"]] == [("11111111", "2026-11-20")]
    assert [m["subject"] for m in erika["mails"]] == ["Wasser Erika"]
    assert [m["number"] for m in erika["meters"]] == ["11111111"]
    assert JOHN not in json.dumps(erika) and "Wasser John" not in json.dumps(erika)


def test_erasing_the_new_tenant_leaves_the_old_tenants_photos(moved_meter: AppContext) -> None:
    with moved_meter.sessions() as session:
        erika_sha = session.scalars(
            select(Photo.sha256).join(InboundMessage).where(InboundMessage.sender == ERIKA)
        ).one()
    report = erase_customer(moved_meter, "333333333", actor="cli:datenschutz")
    assert (report.mails, report.photos, report.readings) == (2, 2, 1)
    with moved_meter.sessions() as session:
        senders = session.scalars(select(InboundMessage.sender).order_by(InboundMessage.id)).all()
    assert senders == [ERIKA, None, None] and moved_meter.blobs.exists(erika_sha)
    assert erase_customer(moved_meter, "111111111", actor="cli:datenschutz").photos == 1
    assert not moved_meter.blobs.exists(erika_sha)


def test_a_mail_from_before_a_move_decided_after_it_is_the_tenant_befores(
    ctx: AppContext, clock: FrozenClock
) -> None:
    work = quiet(ctx)
    add_customer(work, email=ERIKA, account="111111111", meter="11111111")
    process_mails(work, photo_mail(ERIKA, UNSURE_PHOTO))  # 20.11.: to a clerk
    _move_meter_to_john(work, dt.date(2026, 11, 25))
    clock.advance(days=6)
    with work.sessions() as session:
        [shown] = candidates(session, session.scalars(select(ReviewTask)).one())
    assert (shown.account_number, shown.customer_name) == ("111111111", "Erika Mustermann")
    with transaction(work.sessions) as session:
        task_id = session.scalars(select(ReviewTask.id)).one()
        resolution = resolve_task(session, task_id, action="accept", value=None, meter_id=None,
                                  clerk="petra", now=work.clock())  # fmt: skip
    assert (resolution.customer_email, resolution.customer_name) == (ERIKA, "Erika Mustermann")


BIG_TABLES = {
    "reading", "inbound_message", "outbox", "review_task", "photo", "ocr_result", "meter",
    "campaign_recipient", "meter_account_move",
}  # fmt: skip


def test_export_and_erasure_read_no_whole_table(moved_meter: AppContext, tmp_path: Path) -> None:
    """On a utility's database (a million readings) a scan of one of these takes seconds
    (bench/customer_data.py): every statement must find its rows by an index."""
    with whole_table_reads(moved_meter.engine, BIG_TABLES) as found:
        export_customer(moved_meter, "111111111", tmp_path / "erika.zip", actor="test")
        erase_customer(moved_meter, "333333333", actor="test")
    assert found == []
