"""SQLAlchemy models. The schema is created and changed only through Alembic migrations."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

from core.types import Display

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

READING_VALUE = Numeric(18, 4)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class UtcDateTime(TypeDecorator[dt.datetime]):
    """Timezone-aware UTC on every backend (SQLite stores no offset, so we add it back)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime; use an aware UTC datetime")
        return value.astimezone(dt.UTC)

    def process_result_value(
        self, value: dt.datetime | None, dialect: Dialect
    ) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        dt.datetime: UtcDateTime(),
        dict[str, Any]: JSON,
    }


class Customer(Base):
    __tablename__ = "customer"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320), index=True)
    language: Mapped[str] = mapped_column(String(5), default="de")
    email_bounced_at: Mapped[dt.datetime | None]
    # set when the customer unsubscribed from reading reminders (campaigns); replies still go out
    campaign_opt_out_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    erased_at: Mapped[dt.datetime | None]  # personal data erased on request (pseudonymised)
    accounts: Mapped[list[ContractAccount]] = relationship(back_populates="customer")


class ContractAccount(Base):
    """Vertragskonto."""

    __tablename__ = "contract_account"
    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), index=True)
    customer: Mapped[Customer] = relationship(back_populates="accounts")
    meters: Mapped[list[Meter]] = relationship(back_populates="account")
    # the monthly installment (Abschlag) in euros, from billing; None: not known
    monthly_installment: Mapped[Decimal | None] = mapped_column(Numeric(10, 2))


class Meter(Base):
    """Zähler. `registers` is a comma-separated list such as `1.8.0` or `1.8.1,1.8.2`."""

    __tablename__ = "meter"
    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(40), unique=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("contract_account.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # electricity | gas | water | heat
    unit: Mapped[str] = mapped_column(String(8))  # kWh | MWh | GJ (heat) | m3
    integer_digits: Mapped[int] = mapped_column(Integer)
    decimal_digits: Mapped[int] = mapped_column(Integer, default=0)
    display: Mapped[str | None] = mapped_column(String(8))  # drum | lcd | None: see shown_on
    registers: Mapped[str] = mapped_column(String(100), default="1.8.0")
    installed_on: Mapped[dt.date | None] = mapped_column(Date)
    removed_on: Mapped[dt.date | None] = mapped_column(Date)
    # the tariff, gross in euros: per kWh or m³ (Arbeitspreis) and per year (Grundpreis)
    unit_price: Mapped[Decimal | None] = mapped_column(Numeric(12, 5))
    base_price: Mapped[Decimal | None] = mapped_column(Numeric(10, 2))
    account: Mapped[ContractAccount] = relationship(back_populates="meters")
    readings: Mapped[list[Reading]] = relationship(
        back_populates="meter", order_by="Reading.read_on"
    )


class MeterAccountMove(Base):
    """A meter moved to another contract account (master-data import, e.g. a tenant moving out):
    its readings taken before `moved_on` belong to `from_account_id`, billed as such."""

    __tablename__ = "meter_account_move"
    __table_args__ = (Index("ix_meter_account_move_meter_moved", "meter_id", "moved_on"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    meter_id: Mapped[int] = mapped_column(ForeignKey("meter.id"))
    from_account_id: Mapped[int] = mapped_column(ForeignKey("contract_account.id"), index=True)
    to_account_id: Mapped[int] = mapped_column(ForeignKey("contract_account.id"))
    moved_on: Mapped[dt.date] = mapped_column(Date)  # the first day of the new account
    recorded_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


DISPLAY_BY_KIND: dict[str, Display] = {"water": "drum", "gas": "drum", "heat": "lcd"}


def shown_on(kind: str, display: str | None) -> Display | None:
    """The kind of counter a meter has: as master data says, else as its kind mostly has
    (electricity meters come with drums and with displays: not known)."""
    if display == "drum":
        return "drum"
    if display == "lcd":
        return "lcd"
    return DISPLAY_BY_KIND.get(kind)


class InboundMessage(Base):
    """The intake ledger: one row per mail seen in a mailbox, whatever became of it."""

    __tablename__ = "inbound_message"
    __table_args__ = (
        UniqueConstraint("mailbox", "source_key"),
        Index("ix_inbound_message_status_next", "status", "next_attempt_at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    mailbox: Mapped[str] = mapped_column(String(200))
    source_key: Mapped[str] = mapped_column(String(300))  # imap:<uidvalidity>:<uid> | maildir:<key>
    uidvalidity: Mapped[int | None] = mapped_column(BigInteger)
    uid: Mapped[int | None] = mapped_column(BigInteger)
    message_id: Mapped[str | None] = mapped_column(String(998), index=True)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    size: Mapped[int] = mapped_column(BigInteger, default=0)
    sender: Mapped[str | None] = mapped_column(String(320))
    subject: Mapped[str | None] = mapped_column(Text)
    received_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # new | processing | accepted | review | rejected | ignored | duplicate | failed
    status: Mapped[str] = mapped_column(String(16), default="new")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime | None]
    error: Mapped[str | None] = mapped_column(Text)
    target_folder: Mapped[str | None] = mapped_column(String(100))
    moved_at: Mapped[dt.datetime | None]
    purged_at: Mapped[dt.datetime | None]  # raw mail, photos and OCR results deleted (retention)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    claimed_by: Mapped[str | None] = mapped_column(String(200))  # worker holding the lease
    photos: Mapped[list[Photo]] = relationship(back_populates="message")


class Photo(Base):
    __tablename__ = "photo"
    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("inbound_message.id"), index=True)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    filename: Mapped[str | None] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(BigInteger, default=0)
    phash: Mapped[str | None] = mapped_column(String(16), index=True)
    exif_time: Mapped[dt.datetime | None]
    message: Mapped[InboundMessage] = relationship(back_populates="photos")
    ocr_results: Mapped[list[OcrResult]] = relationship(back_populates="photo")


class OcrResult(Base):
    __tablename__ = "ocr_result"
    id: Mapped[int] = mapped_column(primary_key=True)
    photo_id: Mapped[int] = mapped_column(ForeignKey("photo.id"), index=True)
    reading: Mapped[str | None] = mapped_column(String(20))
    fraction: Mapped[str | None] = mapped_column(String(10))
    confidence: Mapped[float] = mapped_column(default=0.0)
    accepted: Mapped[bool] = mapped_column(Boolean, default=False)
    meter_number: Mapped[str | None] = mapped_column(String(40))
    reason: Mapped[str | None] = mapped_column(String(200))
    seconds: Mapped[float] = mapped_column(default=0.0)
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    photo: Mapped[Photo] = relationship(back_populates="ocr_results")


class Reading(Base):
    """Zählerstand. Unique per (meter, register, message) so a re-processed mail adds nothing."""

    __tablename__ = "reading"
    __table_args__ = (
        UniqueConstraint("meter_id", "register", "inbound_message_id"),
        Index("ix_reading_created_at", "created_at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    meter_id: Mapped[int] = mapped_column(ForeignKey("meter.id"), index=True)
    register: Mapped[str] = mapped_column(String(10), default="1.8.0")
    value: Mapped[Decimal] = mapped_column(READING_VALUE)
    read_on: Mapped[dt.date] = mapped_column(Date)
    source: Mapped[str] = mapped_column(String(16))  # import | photo | typed | clerk
    # accepted | superseded (replaced by a clerk-booked correction; not exported, not history)
    status: Mapped[str] = mapped_column(String(16), default="accepted")
    accepted_by: Mapped[str | None] = mapped_column(String(100))  # "auto" or a clerk's name
    inbound_message_id: Mapped[int | None] = mapped_column(
        ForeignKey("inbound_message.id"), index=True
    )
    # the photo it was read on
    photo_id: Mapped[int | None] = mapped_column(ForeignKey("photo.id"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    exported_at: Mapped[dt.datetime | None]
    # A correction row points at the reading it replaces (one billing has already taken).
    corrects_id: Mapped[int | None] = mapped_column(ForeignKey("reading.id"))
    meter: Mapped[Meter] = relationship(back_populates="readings")


class ReviewTask(Base):
    __tablename__ = "review_task"
    __table_args__ = (
        UniqueConstraint("inbound_message_id"),
        Index("ix_review_task_status_created", "status", "created_at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    inbound_message_id: Mapped[int] = mapped_column(ForeignKey("inbound_message.id"))
    photo_id: Mapped[int | None] = mapped_column(ForeignKey("photo.id"), index=True)
    meter_id: Mapped[int | None] = mapped_column(ForeignKey("meter.id"), index=True)
    status: Mapped[str] = mapped_column(String(16), default="open")  # open | done
    reason_codes: Mapped[list[str]] = mapped_column(JSON, default=list)
    candidates: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    proposed_value: Mapped[Decimal | None] = mapped_column(READING_VALUE)
    decision: Mapped[str | None] = mapped_column(String(16))  # accepted | corrected | rejected
    decided_value: Mapped[Decimal | None] = mapped_column(READING_VALUE)
    decided_by: Mapped[str | None] = mapped_column(String(100))
    decided_at: Mapped[dt.datetime | None]
    note: Mapped[str | None] = mapped_column(Text)
    # the decision's working (register, expectation with value and band, meter hypotheses, the
    # mail's other items: matching.record_items.task_details) and facts beside the reason codes
    # (reuse, corrections: matching/task_details.py)
    details: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # The clerk working on the task, until the lease runs out (others skip it meanwhile).
    claimed_by: Mapped[str | None] = mapped_column(String(100))
    claimed_until: Mapped[dt.datetime | None]
    message: Mapped[InboundMessage] = relationship()
    photo: Mapped[Photo | None] = relationship()
    meter: Mapped[Meter | None] = relationship()


class Outbox(Base):
    """Transactional outbox. `idempotency_key` makes every mail we send unique by intent."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_status_next", "status", "next_attempt_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))  # confirmation | resend_request | reminder | ...
    recipient: Mapped[str] = mapped_column(String(320))
    language: Mapped[str] = mapped_column(String(5), default="de")
    subject: Mapped[str] = mapped_column(Text)
    body_text: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str | None] = mapped_column(Text)
    in_reply_to: Mapped[str | None] = mapped_column(String(998))
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    # pending | sending (DATA under way, may have arrived) | sent | failed; a campaign's mails
    # also held (paused) | cancelled
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_error: Mapped[str | None] = mapped_column(Text)
    message_id: Mapped[str | None] = mapped_column(String(998))
    sent_at: Mapped[dt.datetime | None]
    inbound_message_id: Mapped[int | None] = mapped_column(
        ForeignKey("inbound_message.id"), index=True
    )
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaign.id"))
    # RFC 8058 one-click unsubscribe URL of a campaign mail (List-Unsubscribe header)
    unsubscribe_url: Mapped[str | None] = mapped_column(String(998))
    # a confirmation's consumption chart, sent as an inline image (cid:) beside the HTML
    inline_png: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    claimed_by: Mapped[str | None] = mapped_column(String(200))  # worker sending it


# a customer's mails and what we sent them, by address (DSGVO export and erasure)
Index("ix_inbound_message_sender_lower", func.lower(InboundMessage.sender))
Index("ix_outbox_recipient_lower", func.lower(Outbox.recipient))


class Campaign(Base):
    __tablename__ = "campaign"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    due_from: Mapped[dt.date] = mapped_column(Date)
    due_to: Mapped[dt.date] = mapped_column(Date)
    # running | paused | cancelled | finished
    status: Mapped[str] = mapped_column(String(16), default="running")
    # reminders are handed to SMTP from this moment on, at most `max_per_hour` an hour
    send_from: Mapped[dt.datetime | None]
    max_per_hour: Mapped[int | None] = mapped_column(Integer)
    created_by: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    recipients: Mapped[list[CampaignRecipient]] = relationship(back_populates="campaign")


class CampaignRecipient(Base):
    __tablename__ = "campaign_recipient"
    __table_args__ = (UniqueConstraint("campaign_id", "meter_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id"))
    meter_id: Mapped[int] = mapped_column(ForeignKey("meter.id"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), index=True)
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending|reminded|answered
    reminders_sent: Mapped[int] = mapped_column(Integer, default=0)
    last_reminded_at: Mapped[dt.datetime | None]
    campaign: Mapped[Campaign] = relationship(back_populates="recipients")


class User(Base):
    __tablename__ = "app_user"
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(100), unique=True)
    display_name: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16), default="clerk")  # clerk | admin
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # the UI language the clerk last chose (de | en); None: not chosen, the browser's applies
    language: Mapped[str | None] = mapped_column(String(5))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class UserSession(Base):
    """Server-side login session; the cookie holds only a random token whose hash is stored."""

    __tablename__ = "user_session"
    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[dt.datetime]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    user: Mapped[User] = relationship()


class AuditLog(Base):
    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(50))
    entity: Mapped[str] = mapped_column(String(50))
    entity_id: Mapped[int | None] = mapped_column(BigInteger)
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)


class Lease(Base):
    """A named lock with an expiry, used on SQLite where advisory locks do not exist."""

    __tablename__ = "lease"
    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    holder: Mapped[str] = mapped_column(String(200))
    expires_at: Mapped[dt.datetime]


class WorkerHeartbeat(Base):
    """The last sign of life of each worker process, for `/health` of a separate `serve`."""

    __tablename__ = "worker_heartbeat"
    worker: Mapped[str] = mapped_column(String(200), primary_key=True)  # host:pid:thread
    host: Mapped[str] = mapped_column(String(200))
    pid: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[dt.datetime]
    beat_at: Mapped[dt.datetime] = mapped_column(index=True)
