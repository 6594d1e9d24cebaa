"""Data as the worker leaves it, for the retention, export and erasure tests: mails fetched from
the Maildir and processed with a stand-in OCR (`b"...LOW"` photos read unsure: review)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import mailbox

from sqlalchemy import func, select

from core.context import AppContext
from core.models import InboundMessage
from core.settings import Settings
from core.types import MeterHint, MeterRead
from intake.worker import run_worker
from tests.readers import per_hint
from tests.samples import customer_mail, seed_meter

SURE_PHOTO = b"\xff\xd8\xff\xe0 sure meter photo"
UNSURE_PHOTO = b"\xff\xd8\xff\xe0 unsure meter photo LOW"


@per_hint
def reader(data: bytes, hint: MeterHint, settings: Settings) -> MeterRead:
    if data.endswith(b"LOW"):
        return MeterRead(reading="04521", confidence=0.31, accepted=False)
    return MeterRead(reading="04521", confidence=0.99, accepted=True)


def quiet(ctx: AppContext) -> AppContext:
    """The context without sending (no SMTP server in these tests) and without the scheduled
    purge (the tests call it themselves)."""
    update = {"smtp_enabled": False, "purge_interval_hours": 0.0}
    return dataclasses.replace(ctx, settings=ctx.settings.model_copy(update=update))


def add_customer(ctx: AppContext, *, email: str, account: str, meter: str) -> None:
    with ctx.sessions.begin() as session:
        seed_meter(session, email=email, account=account, meter=meter)


def process_mails(ctx: AppContext, *mails: bytes) -> None:
    path = ctx.settings.effective_maildir
    path.parent.mkdir(parents=True, exist_ok=True)
    box = mailbox.Maildir(path, create=True)
    for raw in mails:
        box.add(raw)
    run_worker(ctx, once=True, reader=reader)


def photo_mail(sender: str, photo: bytes, subject: str = "Zählerstand Wasser") -> bytes:
    return customer_mail(sender=sender, subject=subject, photos=[("zaehler.jpg", photo)])


def settled_at(ctx: AppContext) -> dt.datetime:
    """When the newest mail was settled (the ledger's `updated_at`, written with system time)."""
    with ctx.sessions() as session:
        newest = session.scalar(select(func.max(InboundMessage.updated_at)))
    assert newest is not None
    return newest
