"""Reading-request campaigns: one reminder per due meter, one follow-up, then finished.

A meter is due when it is installed (not removed) during the window, its customer has a usable,
not bounced email address, and it has no accepted reading dated within [due_from, due_to].
Reminders go through the outbox with the keys `reminder:<campaign_id>:<meter_id>` and
`reminder_followup:<campaign_id>:<meter_id>`, so nothing is ever queued twice.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, exists, or_, select, update
from sqlalchemy.orm import Session

from core.context import BERLIN, AppContext
from core.db import transaction
from core.errors import UsageError
from core.formatting import format_date
from core.models import (
    Campaign,
    CampaignRecipient,
    ContractAccount,
    Customer,
    Meter,
    Reading,
    ReviewTask,
)
from notifications.headers import is_valid_recipient
from notifications.outbox import enqueue
from notifications.sqlutil import insert_ignoring_conflict

log = logging.getLogger(__name__)

# One follow-up reminder this long after the first one, if no reading arrived and the window
# is still open.
FOLLOWUP_AFTER = dt.timedelta(days=7)


@dataclass
class CampaignResult:
    name: str
    campaign_id: int
    due_from: dt.date
    due_to: dt.date
    created: bool
    queued: int = 0
    already: int = 0
    skipped: int = 0

    def summary(self) -> str:
        head = "angelegt" if self.created else "bestand bereits"
        return (
            f"Kampagne „{self.name}“ ({format_date(self.due_from)} bis "
            f"{format_date(self.due_to)}) {head}: {self.queued} Erinnerungen eingeplant, "
            f"{self.already} Zähler waren schon dabei, {self.skipped} übersprungen "
            "(E-Mail-Adresse ungültig oder unzustellbar)."
        )


def start_campaign(
    ctx: AppContext, name: str, *, due_from: dt.date, due_to: dt.date, actor: str
) -> CampaignResult:
    """Create campaign `name` (or reuse it) and queue a reminder for every due meter.

    Starting it again queues only meters that became due since; an existing campaign with a
    different window is refused with `UsageError`.
    """
    name = name.strip()
    if not name:
        raise UsageError("Kampagnenname fehlt")
    if due_from > due_to:
        raise UsageError(
            f"Zeitraum verkehrt: {format_date(due_from)} liegt nach {format_date(due_to)}"
        )
    now = ctx.clock()
    with transaction(ctx.sessions) as session:
        campaign, created = _get_or_create(session, name, due_from, due_to, actor, now)
        result = CampaignResult(name, campaign.id, due_from, due_to, created)
        if campaign.status == "running":
            for meter, customer in _due_meters(session, due_from, due_to):
                _add_recipient(session, campaign, meter, customer, now, result)
    log.info("campaign %r (id %d): %d queued, %d already in, %d skipped",
             name, result.campaign_id, result.queued, result.already, result.skipped)  # fmt: skip
    return result


def run_campaigns(ctx: AppContext, *, followup_after: dt.timedelta = FOLLOWUP_AFTER) -> int:
    """Update running campaigns; return the number of follow-up reminders queued.

    Marks recipients answered once an accepted reading arrived, queues one follow-up for those
    reminded at least `followup_after` ago (while the window is open and no review task for the
    meter is open), and finishes campaigns whose window has ended.
    """
    now, today = ctx.clock(), ctx.today()
    queued = 0
    with transaction(ctx.sessions) as session:
        running = session.scalars(
            select(Campaign).where(Campaign.status == "running").order_by(Campaign.id)
        ).all()
        for campaign in running:
            _mark_answered(session, campaign)
            if today > campaign.due_to:
                campaign.status = "finished"
                log.info("campaign %r finished", campaign.name)
                continue
            queued += _queue_followups(session, campaign, now, now - followup_after)
    return queued


def _get_or_create(
    session: Session, name: str, due_from: dt.date, due_to: dt.date, actor: str, now: dt.datetime
) -> tuple[Campaign, bool]:
    values = {"name": name, "due_from": due_from, "due_to": due_to, "status": "running",
              "created_by": actor, "created_at": now}  # fmt: skip
    new_id = insert_ignoring_conflict(session, Campaign, values, conflict=["name"])
    campaign = session.scalars(select(Campaign).where(Campaign.name == name)).one()
    if (campaign.due_from, campaign.due_to) != (due_from, due_to):
        raise UsageError(
            f"Kampagne „{name}“ gibt es schon mit dem Zeitraum {format_date(campaign.due_from)} "
            f"bis {format_date(campaign.due_to)}; bitte einen anderen Namen wählen."
        )
    return campaign, new_id is not None


def _due_meters(
    session: Session, due_from: dt.date, due_to: dt.date
) -> list[tuple[Meter, Customer]]:
    stmt = (
        select(Meter, Customer)
        .join(ContractAccount, Meter.account_id == ContractAccount.id)
        .join(Customer, ContractAccount.customer_id == Customer.id)
        .where(
            or_(Meter.installed_on.is_(None), Meter.installed_on <= due_to),
            or_(Meter.removed_on.is_(None), Meter.removed_on > due_to),
            Customer.email.is_not(None),
            Customer.email != "",
            Customer.email_bounced_at.is_(None),
            ~_has_reading(Meter.id, due_from, due_to),
        )
        .order_by(Meter.id)
    )
    return [(meter, customer) for meter, customer in session.execute(stmt).all()]


def _has_reading(meter_id: Any, since: dt.date, until: dt.date) -> ColumnElement[bool]:
    return exists().where(
        Reading.meter_id == meter_id,
        Reading.status == "accepted",
        Reading.read_on >= since,
        Reading.read_on <= until,
    )


def _add_recipient(
    session: Session,
    campaign: Campaign,
    meter: Meter,
    customer: Customer,
    now: dt.datetime,
    result: CampaignResult,
) -> None:
    if not is_valid_recipient(customer.email):
        log.warning("campaign %r: meter %s skipped, unusable address %r",
                    campaign.name, meter.number, customer.email)  # fmt: skip
        result.skipped += 1
        return
    values = {"campaign_id": campaign.id, "meter_id": meter.id, "customer_id": customer.id,
              "status": "pending", "reminders_sent": 0}  # fmt: skip
    recipient_id = insert_ignoring_conflict(
        session, CampaignRecipient, values, conflict=["campaign_id", "meter_id"]
    )
    if recipient_id is None:
        result.already += 1
        return
    if _queue_reminder(session, "reminder", campaign, meter, customer, now):
        _mark_reminded(session, recipient_id, 1, now)
        result.queued += 1
    else:
        result.already += 1


def _queue_reminder(
    session: Session,
    kind: str,
    campaign: Campaign,
    meter: Meter,
    customer: Customer,
    now: dt.datetime,
) -> bool:
    assert customer.email is not None
    context = {
        "customer_name": customer.name,
        "meter_number": meter.number,
        "meter_kind": meter.kind,
        "due_from": campaign.due_from,
        "due_to": campaign.due_to,
    }
    return enqueue(
        session, kind=kind, recipient=customer.email, language=customer.language,
        context=context, idempotency_key=f"{kind}:{campaign.id}:{meter.id}", now=now,
        campaign_id=campaign.id,
    )  # fmt: skip


def _mark_reminded(session: Session, recipient_id: int, count: int, now: dt.datetime) -> None:
    session.execute(
        update(CampaignRecipient)
        .where(CampaignRecipient.id == recipient_id)
        .values(status="reminded", reminders_sent=count, last_reminded_at=now)
        .execution_options(synchronize_session=False)
    )


def reading_arrived(campaign: Campaign, meter_id: Any) -> ColumnElement[bool]:
    """An accepted reading of `meter_id` answers `campaign`: dated within the window, or sent right
    after the reminder even if dated before `due_from`. (Also used by the review UI's counts.)"""
    started = campaign.created_at.astimezone(BERLIN).date()
    return _has_reading(meter_id, min(campaign.due_from, started), campaign.due_to)


def _mark_answered(session: Session, campaign: Campaign) -> None:
    session.execute(
        update(CampaignRecipient)
        .where(
            CampaignRecipient.campaign_id == campaign.id,
            CampaignRecipient.status != "answered",
            reading_arrived(campaign, CampaignRecipient.meter_id),
        )
        .values(status="answered")
        .execution_options(synchronize_session=False)
    )


def _queue_followups(
    session: Session, campaign: Campaign, now: dt.datetime, reminded_before: dt.datetime
) -> int:
    open_review = exists().where(
        ReviewTask.meter_id == CampaignRecipient.meter_id,
        ReviewTask.status == "open",
        ReviewTask.created_at >= campaign.created_at,
    )
    stmt = (
        select(CampaignRecipient, Meter, Customer)
        .join(Meter, Meter.id == CampaignRecipient.meter_id)
        .join(Customer, Customer.id == CampaignRecipient.customer_id)
        .where(
            CampaignRecipient.campaign_id == campaign.id,
            CampaignRecipient.status == "reminded",
            CampaignRecipient.reminders_sent == 1,
            CampaignRecipient.last_reminded_at <= reminded_before,
            ~open_review,
        )
        .order_by(CampaignRecipient.id)
    )
    queued = 0
    for recipient, meter, customer in session.execute(stmt).all():
        if is_valid_recipient(customer.email) and _queue_reminder(
            session, "reminder_followup", campaign, meter, customer, now
        ):
            queued += 1
        _mark_reminded(session, recipient.id, 2, now)
    return queued
