"""Reading-request campaigns: one reminder per customer address listing all of its due meters, one
follow-up for the meters still missing, then finished.

A meter is due when it is installed (not removed) during the window, its customer has a usable,
not bounced email address and has not unsubscribed, and it has no accepted reading dated within
[due_from, due_to]. Recipient rows are kept per meter (a reading stops the reminders for that meter
only); mails go per customer through the outbox with the keys
`reminder:<campaign>:<customer>:<first meter>` and `reminder_followup:<campaign>:<customer>`, so
nothing is ever queued twice. Mails are paced: at most `max_per_hour` an hour from `send_from`.
Pausing holds the campaign's unsent mails, cancelling withdraws them (`campaign_control`).
"""

from __future__ import annotations

import datetime as dt
import logging
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, exists, func, or_, select, update
from sqlalchemy.orm import Session
from tqdm import tqdm

from core.context import BERLIN, AppContext
from core.db import transaction
from core.errors import UsageError
from core.formatting import format_date, format_number
from core.models import (
    AuditLog,
    Campaign,
    CampaignRecipient,
    ContractAccount,
    Customer,
    Meter,
    Outbox,
    Reading,
    ReviewTask,
)
from core.settings import Settings
from notifications.headers import is_valid_recipient
from notifications.outbox import enqueue
from notifications.sqlutil import insert_ignoring_conflict
from notifications.unsubscribe import unsubscribe_url

log = logging.getLogger(__name__)

# One follow-up reminder this long after the first one, if no reading arrived and the window
# is still open.
FOLLOWUP_AFTER = dt.timedelta(days=7)
ACTIVE = ("running", "paused")


def counted(count: int, one: str, many: str) -> str:
    """'1 Erinnerung', '2 Erinnerungen', '1.250 Zähler' (German grouping)."""
    return f"{format_number(count)} {one if count == 1 else many}"


@dataclass(frozen=True)
class PreviewMail:
    recipient: str
    subject: str
    text: str
    html: str


@dataclass
class CampaignResult:
    name: str
    campaign_id: int
    due_from: dt.date
    due_to: dt.date
    created: bool
    dry_run: bool = False
    queued: int = 0  # reminder mails, one per customer
    meters: int = 0  # meters those mails ask for
    already: int = 0  # meters that were in the campaign already
    skipped: int = 0  # meters whose customer has no address, an invalid or a bounced one
    opted_out: int = 0  # meters whose customer unsubscribed from reminders
    previews: list[PreviewMail] = field(default_factory=list)

    def audit_details(self) -> dict[str, object]:
        return {"name": self.name, "due_from": self.due_from.isoformat(),
                "due_to": self.due_to.isoformat(), "created": self.created, "mails": self.queued,
                "meters": self.meters, "already": self.already, "skipped": self.skipped,
                "opted_out": self.opted_out}  # fmt: skip

    def summary(self) -> str:
        head = "angelegt" if self.created else "bestand bereits"
        if self.dry_run:
            head = "Probelauf, nichts gespeichert"
        return (
            f"Kampagne „{self.name}“ ({format_date(self.due_from)} bis "
            f"{format_date(self.due_to)}) {head}: "
            f"{counted(self.queued, 'Erinnerung', 'Erinnerungen')} für "
            f"{counted(self.meters, 'Zähler', 'Zähler')} eingeplant, "
            f"{counted(self.already, 'Zähler war', 'Zähler waren')} schon dabei, "
            f"{format_number(self.skipped)} übersprungen (keine, ungültige oder "
            f"unzustellbare E-Mail-Adresse), {format_number(self.opted_out)} abgemeldet."
        )


@dataclass(frozen=True)
class CampaignPlan:
    name: str
    due_from: dt.date
    due_to: dt.date
    actor: str
    send_from: dt.datetime | None = None
    max_per_hour: int | None = None


def start_campaign(
    ctx: AppContext,
    name: str,
    *,
    due_from: dt.date,
    due_to: dt.date,
    actor: str,
    send_from: dt.datetime | None = None,
    dry_run: bool = False,
    preview: int = 0,
    progress: bool = False,
) -> CampaignResult:
    """Create campaign `name` (or reuse it) and queue one reminder per customer with due meters.

    Starting it again queues only meters that became due since; an existing campaign with a
    different window is refused with `UsageError`. `dry_run` does all of it and rolls back;
    `preview` keeps that many rendered mails in the result. `send_from` schedules the first mail.
    `progress` shows a bar on stderr (the command line), customer by customer.
    """
    plan = _checked_plan(name, due_from, due_to, actor, send_from, ctx.settings)
    with ctx.sessions() as session:
        result = _start(
            session, ctx.settings, plan, ctx.clock(), dry_run=dry_run, progress=progress
        )
        result.previews = _previews(session, result.campaign_id, preview)
        session.add(
            AuditLog(at=ctx.clock(), actor=actor, action="campaign_started", entity="campaign",
                     entity_id=result.campaign_id, details=result.audit_details())
        )  # fmt: skip
        if dry_run:
            session.rollback()
        else:
            session.commit()
    log.info("campaign %r (id %d)%s: %d mails for %d meters, %d already in, %d skipped, "
             "%d opted out", plan.name, result.campaign_id, " dry run" if dry_run else "",
             result.queued, result.meters, result.already, result.skipped,
             result.opted_out)  # fmt: skip
    return result


def _checked_plan(
    name: str,
    due_from: dt.date,
    due_to: dt.date,
    actor: str,
    send_from: dt.datetime | None,
    settings: Settings,
) -> CampaignPlan:
    name = name.strip()
    if not name:
        raise UsageError("Kampagnenname fehlt")
    if due_from > due_to:
        raise UsageError(
            f"Zeitraum verkehrt: {format_date(due_from)} liegt nach {format_date(due_to)}"
        )
    if send_from is not None and send_from.tzinfo is None:
        send_from = send_from.replace(tzinfo=BERLIN)
    return CampaignPlan(name, due_from, due_to, actor, send_from, settings.campaign_max_per_hour)


def _start(
    session: Session,
    settings: Settings,
    plan: CampaignPlan,
    now: dt.datetime,
    *,
    dry_run: bool,
    progress: bool = False,
) -> CampaignResult:
    campaign, created = _get_or_create(session, plan, now)
    result = CampaignResult(
        plan.name, campaign.id, plan.due_from, plan.due_to, created, dry_run=dry_run
    )
    if campaign.status in ACTIVE:
        pacer = Pacer.for_campaign(session, campaign, max(campaign.send_from or now, now))
        due = _due_by_customer(session, plan.due_from, plan.due_to)
        bar = tqdm(due, unit=" Kunden", desc="Kampagne", disable=not progress, file=sys.stderr)
        for household in bar:
            _remind_customer(session, settings, campaign, household, pacer, result)
    return result


def run_campaigns(ctx: AppContext, *, followup_after: dt.timedelta = FOLLOWUP_AFTER) -> int:
    """Update running campaigns; return the number of follow-up reminders queued.

    Marks recipients answered once an accepted reading arrived, queues one follow-up per customer
    for their meters reminded at least `followup_after` ago and still missing (while the window is
    open and no review task for the meter is open), and finishes campaigns whose window has ended.
    Paused campaigns get no follow-ups until resumed.
    """
    now, today = ctx.clock(), ctx.today()
    queued = 0
    with transaction(ctx.sessions) as session:
        active = session.scalars(
            select(Campaign).where(Campaign.status.in_(ACTIVE)).order_by(Campaign.id)
        ).all()
        for campaign in active:
            _mark_answered(session, campaign)
            if today > campaign.due_to:
                campaign.status = "finished"
                log.info("campaign %r finished", campaign.name)
            elif campaign.status == "running":
                queued += _queue_followups(
                    session, ctx.settings, campaign, now, now - followup_after
                )
    return queued


def _get_or_create(session: Session, plan: CampaignPlan, now: dt.datetime) -> tuple[Campaign, bool]:
    values = {"name": plan.name, "due_from": plan.due_from, "due_to": plan.due_to,
              "status": "running", "created_by": plan.actor, "created_at": now,
              "send_from": plan.send_from, "max_per_hour": plan.max_per_hour}  # fmt: skip
    new_id = insert_ignoring_conflict(session, Campaign, values, conflict=["name"])
    campaign = session.scalars(select(Campaign).where(Campaign.name == plan.name)).one()
    if (campaign.due_from, campaign.due_to) != (plan.due_from, plan.due_to):
        raise UsageError(
            f"Kampagne „{plan.name}“ gibt es schon mit dem Zeitraum "
            f"{format_date(campaign.due_from)} bis {format_date(campaign.due_to)}; "
            "bitte einen anderen Namen wählen."
        )
    return campaign, new_id is not None


def _due_by_customer(session: Session, due_from: dt.date, due_to: dt.date) -> list[Household]:
    stmt = (
        select(Customer, Meter)
        .join(ContractAccount, Meter.account_id == ContractAccount.id)
        .join(Customer, ContractAccount.customer_id == Customer.id)
        .where(
            or_(Meter.installed_on.is_(None), Meter.installed_on <= due_to),
            or_(Meter.removed_on.is_(None), Meter.removed_on > due_to),
            ~_has_reading(Meter.id, due_from, due_to),
        )
        .order_by(Customer.id, Meter.id)
    )
    return by_address([(customer, meter) for customer, meter in session.execute(stmt)])


@dataclass
class Household:
    """Everyone billing lists under one email address: a customer with several contract accounts
    comes once per account, and gets one mail for all of their meters."""

    customers: list[Customer] = field(default_factory=list)
    meters: list[tuple[Customer, Meter]] = field(default_factory=list)  # (the meter's customer, it)

    @property
    def first(self) -> Customer:
        return self.customers[0]

    @property
    def opted_out(self) -> bool:
        return any(customer.campaign_opt_out_at is not None for customer in self.customers)

    @property
    def reachable(self) -> bool:
        bounced = any(customer.email_bounced_at is not None for customer in self.customers)
        return not bounced and is_valid_recipient(self.first.email or "")

    @property
    def name(self) -> str | None:
        """The name to greet, None (a neutral greeting) when the address is several people's."""
        names = {customer.name for customer in self.customers}
        return self.first.name if len(names) == 1 else None


def by_address(rows: Sequence[tuple[Customer, Meter]]) -> list[Household]:
    """(customer, meter) rows grouped by the customer's address (case-insensitive), in the order
    of each address's first row; customers without one stay apart."""
    households: dict[str, Household] = {}
    for customer, meter in rows:
        address = (customer.email or "").strip().lower() or f"#{customer.id}"
        household = households.setdefault(address, Household())
        if customer not in household.customers:
            household.customers.append(customer)
        household.meters.append((customer, meter))
    return list(households.values())


@dataclass(frozen=True)
class Unreached:
    """A due meter no reminder can go to: staff ask its customer another way (letter, phone)."""

    meter_id: int
    meter_number: str
    customer_name: str
    address: str | None
    why: str  # "no_address" (none, invalid or bounced) | "opted_out"


def unreached(session: Session, campaign: Campaign, *, limit: int = 1000) -> list[Unreached]:
    """The campaign's due meters still without a reading whose customer cannot be reminded by
    mail, as `start_campaign` counts them (`skipped`, `opted_out`), by meter number."""
    found = []
    for household in _due_by_customer(session, campaign.due_from, campaign.due_to):
        if household.opted_out:
            why = "opted_out"
        elif not household.reachable:
            why = "no_address"
        else:
            continue
        found += [Unreached(meter.id, meter.number, owner.name, owner.email or None, why)
                  for owner, meter in household.meters]  # fmt: skip
    return sorted(found, key=lambda row: row.meter_number)[:limit]


def _has_reading(meter_id: Any, since: dt.date, until: dt.date) -> ColumnElement[bool]:
    return exists().where(
        Reading.meter_id == meter_id,
        Reading.status == "accepted",
        Reading.read_on >= since,
        Reading.read_on <= until,
    )


@dataclass
class Pacer:
    """Hands out send times from `start` on, `max_per_hour` an hour, after the mails the
    campaign already queued for that time."""

    start: dt.datetime
    step: dt.timedelta
    index: int

    @classmethod
    def for_campaign(cls, session: Session, campaign: Campaign, start: dt.datetime) -> Pacer:
        already = session.scalar(
            select(func.count())
            .select_from(Outbox)
            .where(Outbox.campaign_id == campaign.id, Outbox.next_attempt_at >= start)
        )
        step = dt.timedelta(hours=1) / (campaign.max_per_hour or 1_000_000)
        return cls(start, step, int(already or 0))

    def next_slot(self) -> dt.datetime:
        slot = self.start + self.step * self.index
        self.index += 1
        return slot


def _remind_customer(
    session: Session,
    settings: Settings,
    campaign: Campaign,
    household: Household,
    pacer: Pacer,
    result: CampaignResult,
) -> None:
    customer = household.first
    if household.opted_out:
        result.opted_out += len(household.meters)
        return
    if not household.reachable:
        log.warning("campaign %r: customer %d skipped, no usable address (%r)",
                    campaign.name, customer.id, customer.email)  # fmt: skip
        result.skipped += len(household.meters)
        return
    new = [
        meter
        for owner, meter in household.meters
        if _add_recipient(session, campaign, meter, owner)
    ]
    result.already += len(household.meters) - len(new)
    if not new:
        return
    key = f"reminder:{campaign.id}:{customer.id}:{new[0].id}"
    sent_at = _queue(session, settings, "reminder", campaign, household, new, key, pacer)
    if sent_at is not None:
        _mark_reminded(session, campaign.id, [meter.id for meter in new], 1, sent_at)
        result.queued += 1
        result.meters += len(new)
    else:
        result.already += len(new)


def _add_recipient(session: Session, campaign: Campaign, meter: Meter, customer: Customer) -> bool:
    values = {"campaign_id": campaign.id, "meter_id": meter.id, "customer_id": customer.id,
              "status": "pending", "reminders_sent": 0}  # fmt: skip
    inserted = insert_ignoring_conflict(
        session, CampaignRecipient, values, conflict=["campaign_id", "meter_id"]
    )
    return inserted is not None


def _queue(
    session: Session,
    settings: Settings,
    kind: str,
    campaign: Campaign,
    household: Household,
    meters: Sequence[Meter],
    key: str,
    pacer: Pacer,
) -> dt.datetime | None:
    """Queue one campaign mail; return the time it is due to go out, None if not queued."""
    customer = household.first
    assert customer.email is not None
    link = unsubscribe_url(settings, customer.id)
    context = {
        "customer_name": household.name,
        "meters": [{"number": meter.number, "kind": meter.kind} for meter in meters],
        "due_from": campaign.due_from,
        "due_to": campaign.due_to,
        "unsubscribe_url": link,
    }
    slot = pacer.next_slot()
    queued = enqueue(
        session, kind=kind, recipient=customer.email, language=customer.language,
        context=context, idempotency_key=key, now=slot, campaign_id=campaign.id,
    )  # fmt: skip
    if queued:
        session.execute(
            update(Outbox)
            .where(Outbox.idempotency_key == key)
            .values(
                unsubscribe_url=link, status="held" if campaign.status == "paused" else "pending"
            )
            .execution_options(synchronize_session=False)
        )
    return slot if queued else None


def _mark_reminded(
    session: Session, campaign_id: int, meter_ids: list[int], count: int, at: dt.datetime
) -> None:
    session.execute(
        update(CampaignRecipient)
        .where(
            CampaignRecipient.campaign_id == campaign_id,
            CampaignRecipient.meter_id.in_(meter_ids),
        )
        .values(status="reminded", reminders_sent=count, last_reminded_at=at)
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
    session: Session,
    settings: Settings,
    campaign: Campaign,
    now: dt.datetime,
    reminded_before: dt.datetime,
) -> int:
    open_review = exists().where(
        ReviewTask.meter_id == CampaignRecipient.meter_id,
        ReviewTask.status == "open",
        ReviewTask.created_at >= campaign.created_at,
    )
    stmt = (
        select(Customer, Meter)
        .join(CampaignRecipient, CampaignRecipient.customer_id == Customer.id)
        .join(Meter, Meter.id == CampaignRecipient.meter_id)
        .where(
            CampaignRecipient.campaign_id == campaign.id,
            CampaignRecipient.status == "reminded",
            CampaignRecipient.reminders_sent == 1,
            CampaignRecipient.last_reminded_at <= reminded_before,
            ~open_review,
        )
        .order_by(Customer.id, Meter.id)
    )
    pacer = Pacer.for_campaign(session, campaign, now)
    queued = 0
    rows = [(customer, meter) for customer, meter in session.execute(stmt)]
    for household in by_address(rows):
        meters = [meter for _owner, meter in household.meters]
        key = f"reminder_followup:{campaign.id}:{household.first.id}"
        wanted = not household.opted_out and household.reachable
        if wanted and _queue(
            session, settings, "reminder_followup", campaign, household, meters, key, pacer
        ):
            queued += 1
        _mark_reminded(session, campaign.id, [meter.id for meter in meters], 2, now)
    return queued


def _previews(session: Session, campaign_id: int, limit: int) -> list[PreviewMail]:
    if limit <= 0:
        return []
    rows = session.scalars(
        select(Outbox)
        .where(Outbox.campaign_id == campaign_id, Outbox.kind == "reminder")
        .order_by(Outbox.id)
        .limit(limit)
    ).all()
    return [PreviewMail(r.recipient, r.subject, r.body_text, r.body_html or "") for r in rows]
