"""What we hold about one customer: export it (DSGVO Art. 15) or erase it (Art. 17).

Erasure pseudonymises the customer (name, e-mail address), deletes the customer's photos, OCR
results and raw mails and blanks the mails we sent them. What billing law requires stays: the
contract account, meters and readings (booking records, §147 AO / §257 HGB: ten years), the
review decisions and the audit log. Both actions are written to the audit log.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import zipfile
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import ColumnElement, Select, func, or_, select, update
from sqlalchemy.orm import Session

from core.account_moves import account_id_on, meter_ids_ever_on
from core.context import BERLIN, AppContext
from core.db import transaction
from core.errors import ConflictError, NotFoundError
from core.models import (
    AuditLog,
    CampaignRecipient,
    ContractAccount,
    Customer,
    InboundMessage,
    Meter,
    Outbox,
    Photo,
    Reading,
    ReviewTask,
)
from core.retention import delete_blobs, drop_photos, drop_raw_mails, unreferenced_blobs

ERASED = "[gelöscht]"
README = """Auskunft nach Art. 15 DSGVO – Zählerstandserfassung per E-Mail

daten.json   alle gespeicherten Angaben: Kunde, Vertragskonten, Zähler, Zählerstände,
             eingegangene E-Mails (Absender, Betreff, Eingang, Ergebnis), Fotos mit
             Texterkennung, Prüfentscheidungen, an Sie gesendete E-Mails, Ablesekampagnen
fotos/       die Fotos, die Sie uns geschickt haben (soweit noch gespeichert)
mails/       Ihre E-Mails im Originalformat (.eml, soweit noch gespeichert)
"""


@dataclass(frozen=True)
class CustomerDataReport:
    customer_id: int
    mails: int
    photos: int
    readings: int
    sent_mails: int

    def summary(self, verb: str) -> str:
        return (
            f"Kunde {self.customer_id}: {self.mails} E-Mails, {self.photos} Fotos, "
            f"{self.readings} Zählerstände, {self.sent_mails} gesendete E-Mails {verb}."
        )


def customer_for_account(session: Session, account: str) -> Customer:
    customer = session.scalar(
        select(Customer).join(ContractAccount).where(ContractAccount.number == account.strip())
    )
    if customer is None:
        raise NotFoundError(f"Kein Vertragskonto {account!r}")
    return customer


def _account_ids(customer: Customer) -> Select[int]:
    return select(ContractAccount.id).where(ContractAccount.customer_id == customer.id)


def reading_ids(customer: Customer) -> Select[int]:
    """The readings taken while their meter was on one of the customer's accounts: after a move
    the tenant before keeps theirs, the tenant after gets only theirs."""
    accounts = _account_ids(customer)
    return (
        select(Reading.id)
        .where(Reading.meter_id.in_(meter_ids_ever_on(accounts)))
        .where(account_id_on(Reading.meter_id, Reading.read_on).in_(accounts))
    )


def _reviewed_mail_ids(session: Session, customer: Customer) -> set[int]:
    """Mails with a review task on a meter that was the customer's on the mail's day."""
    accounts = set(session.scalars(_account_ids(customer)))
    rows = session.execute(
        select(ReviewTask.inbound_message_id, ReviewTask.meter_id, InboundMessage.received_at)
        .join(InboundMessage, InboundMessage.id == ReviewTask.inbound_message_id)
        .where(ReviewTask.meter_id.in_(meter_ids_ever_on(accounts)))
    ).all()
    account_on: dict[tuple[int | None, dt.date], int | None] = {}
    mails: set[int] = set()
    for mail, meter, received in rows:
        key = (meter, received.astimezone(BERLIN).date())
        if key not in account_on:
            account_on[key] = session.scalar(select(account_id_on(*key)))
        if account_on[key] in accounts:
            mails.add(mail)
    return mails


def mail_ids(session: Session, customer: Customer) -> list[int]:
    """The customer's mails: sent from their address, or booked/reviewed on their meters (a
    meter counts as theirs on the days it was on their account). Each link is its own indexed
    query: one query OR-ing them reads the whole ledger."""
    booked = select(Reading.inbound_message_id).where(Reading.id.in_(reading_ids(customer)))
    mails = {m for m in session.scalars(booked) if m is not None}
    mails |= _reviewed_mail_ids(session, customer)
    if customer.email:
        sent = func.lower(InboundMessage.sender) == customer.email.lower()
        mails.update(session.scalars(select(InboundMessage.id).where(sent)))
    return sorted(mails)


def _outbox_filter(customer: Customer, mails: list[int]) -> ColumnElement[bool]:
    links: list[ColumnElement[bool]] = [Outbox.inbound_message_id.in_(mails)]
    if customer.email:
        links.append(func.lower(Outbox.recipient) == customer.email.lower())
    return or_(*links)


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def _row(obj: Any, *names: str) -> dict[str, Any]:
    return {name: _plain(getattr(obj, name)) for name in names}


CUSTOMER_FIELDS = ("id", "name", "email", "language", "email_bounced_at", "created_at")
METER_FIELDS = ("number", "kind", "unit", "integer_digits", "decimal_digits", "registers")
READING_FIELDS = ("register", "value", "read_on", "source", "status", "accepted_by", "created_at")
MAIL_FIELDS = ("id", "sender", "subject", "received_at", "status", "message_id", "purged_at")
PHOTO_FIELDS = ("id", "message_id", "filename", "content_type", "size", "exif_time")
OCR_FIELDS = ("reading", "fraction", "confidence", "meter_number", "reason")
DECISION_FIELDS = ("inbound_message_id", "status", "reason_codes", "decision", "decided_value")
SENT_FIELDS = ("kind", "recipient", "subject", "body_text", "status", "sent_at", "created_at")
CAMPAIGN_FIELDS = ("campaign_id", "status", "reminders_sent", "last_reminded_at")


def _collect(session: Session, customer: Customer) -> dict[str, Any]:
    mails = mail_ids(session, customer)
    readings = list(
        session.scalars(
            select(Reading).where(Reading.id.in_(reading_ids(customer))).order_by(Reading.id)
        )
    )
    held = set(
        session.scalars(select(Meter.id).where(Meter.account_id.in_(_account_ids(customer))))
    )
    meter_ids = held | {r.meter_id for r in readings}
    meters = list(session.scalars(select(Meter).where(Meter.id.in_(meter_ids)).order_by(Meter.id)))
    numbers = {m.id: m.number for m in meters}
    photos = session.scalars(select(Photo).where(Photo.message_id.in_(mails)).order_by(Photo.id))
    tasks = select(ReviewTask).where(ReviewTask.inbound_message_id.in_(mails))
    sent = select(Outbox).where(_outbox_filter(customer, mails)).order_by(Outbox.id)
    campaigns = select(CampaignRecipient).where(CampaignRecipient.customer_id == customer.id)
    return {
        "customer": _row(customer, *CUSTOMER_FIELDS),
        "contract_accounts": [a.number for a in customer.accounts],
        "meters": [_row(m, *METER_FIELDS) for m in meters],
        "readings": [{"meter": numbers[r.meter_id], **_row(r, *READING_FIELDS)} for r in readings],
        "mails": [
            _row(m, *MAIL_FIELDS)
            for m in session.scalars(select(InboundMessage).where(InboundMessage.id.in_(mails)))
        ],
        "photos": [
            {**_row(p, *PHOTO_FIELDS), "ocr": [_row(o, *OCR_FIELDS) for o in p.ocr_results]}
            for p in photos
        ],
        "review_decisions": [_row(t, *DECISION_FIELDS) for t in session.scalars(tasks)],
        "sent_mails": [_row(o, *SENT_FIELDS) for o in session.scalars(sent)],
        "campaigns": [_row(c, *CAMPAIGN_FIELDS) for c in session.scalars(campaigns)],
    }


def export_customer(
    ctx: AppContext, account: str, target: Path, *, actor: str
) -> CustomerDataReport:
    """Write a ZIP with `daten.json`, the photos and the raw mails; audit the export."""
    with transaction(ctx.sessions) as session:
        customer = customer_for_account(session, account)
        data = _collect(session, customer)
        with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("LIESMICH.txt", README)
            archive.writestr("daten.json", json.dumps(data, ensure_ascii=False, indent=1))
            _add_blobs(ctx, session, archive, data)
        report = _report(customer.id, data)
        details = {"account": account, "file": target.name, **_report_counts(report)}
        session.add(
            AuditLog(actor=actor, action="customer_export", entity="customer",
                     entity_id=customer.id, details=details)
        )  # fmt: skip
    return report


def _add_blobs(
    ctx: AppContext, session: Session, archive: zipfile.ZipFile, data: dict[str, Any]
) -> None:
    for photo in data["photos"]:
        sha = session.get_one(Photo, photo["id"]).sha256
        if ctx.blobs.exists(sha):
            name = re.sub(r"[^\w.-]", "_", photo["filename"] or "foto")
            archive.writestr(f"fotos/{photo['id']}_{name}", ctx.blobs.get(sha))
    for mail in data["mails"]:
        sha = session.get_one(InboundMessage, mail["id"]).sha256
        if mail["purged_at"] is None and ctx.blobs.exists(sha):
            archive.writestr(f"mails/{mail['id']}.eml", ctx.blobs.get(sha))


def _report(customer_id: int, data: dict[str, Any]) -> CustomerDataReport:
    return CustomerDataReport(customer_id, len(data["mails"]), len(data["photos"]),
                              len(data["readings"]), len(data["sent_mails"]))  # fmt: skip


def _report_counts(report: CustomerDataReport) -> dict[str, int]:
    return {"mails": report.mails, "photos": report.photos, "readings": report.readings,
            "sent_mails": report.sent_mails}  # fmt: skip


def erase_customer(ctx: AppContext, account: str, *, actor: str) -> CustomerDataReport:
    """Pseudonymise the customer and delete their photos, OCR results and mails; audit it."""
    now = ctx.clock()
    with transaction(ctx.sessions) as session:
        customer = customer_for_account(session, account)
        if customer.erased_at is not None:
            raise ConflictError(
                f"Kunde {customer.id} wurde bereits am {customer.erased_at:%d.%m.%Y} gelöscht"
            )
        mails = mail_ids(session, customer)
        _refuse_open_tasks(session, mails)
        report = _report(customer.id, _collect(session, customer))
        photo_ids = list(session.scalars(select(Photo.id).where(Photo.message_id.in_(mails))))
        released = drop_photos(session, photo_ids)[0]
        unpurged = select(InboundMessage.id).where(
            InboundMessage.id.in_(mails), InboundMessage.purged_at.is_(None)
        )
        released |= drop_raw_mails(session, list(session.scalars(unpurged)), now=now)
        _blank_mails(session, customer, mails)
        accounts = [a.number for a in customer.accounts]
        customer.name, customer.email = f"{ERASED} {customer.id}", None
        customer.email_bounced_at, customer.erased_at = None, now
        details = {"accounts": accounts, **_report_counts(report)}
        session.add(
            AuditLog(actor=actor, action="customer_erase", entity="customer",
                     entity_id=customer.id, details=details)
        )  # fmt: skip
        unreferenced = unreferenced_blobs(session, released)
    delete_blobs(ctx, unreferenced)
    return report


def _refuse_open_tasks(session: Session, mails: list[int]) -> None:
    stmt = select(func.count()).where(
        ReviewTask.inbound_message_id.in_(mails), ReviewTask.status != "done"
    )
    if open_tasks := session.scalar(stmt):
        raise ConflictError(f"{open_tasks} offene Prüfaufgabe(n): erst entscheiden, dann löschen")


def _blank_mails(session: Session, customer: Customer, mails: list[int]) -> None:
    session.execute(update(InboundMessage).where(InboundMessage.id.in_(mails))
                    .values(sender=None, subject=None, error=None,
                            updated_at=InboundMessage.updated_at))  # fmt: skip
    outbox = _outbox_filter(customer, mails)
    session.execute(update(Outbox).where(outbox, Outbox.status == "pending")
                    .values(status="failed", last_error="Kundendaten gelöscht"))  # fmt: skip
    blank = {"recipient": "", "subject": ERASED, "body_text": ERASED, "body_html": None}
    session.execute(update(Outbox).where(outbox).values(**blank))


__all__ = ["CustomerDataReport", "erase_customer", "export_customer"]
