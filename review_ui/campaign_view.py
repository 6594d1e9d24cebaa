"""Read side of the campaign pages ("Kampagnen"): counts, recipients, the progress bar geometry,
and the start form's checks (the start itself is `notifications.campaigns.start_campaign`).

A recipient counts as answered as soon as a reading arrived (`reading_arrived`, the rule the
worker's `run_campaigns` applies later), so the page is current between worker runs.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import ColumnElement, case, func, or_, select
from sqlalchemy.orm import Session

from core.formatting import parse_date
from core.models import Campaign, CampaignRecipient, Customer, Meter, Outbox
from notifications.campaigns import reading_arrived

RECIPIENT_STATUSES = ("answered", "reminded", "pending")  # also the bar's order
MAX_CAMPAIGNS = 100
PAGE_SIZE = 500
MAX_NAME = 200


class FormInvalid(Exception):
    """The start form is incomplete; `key` is the i18n key of the message."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


@dataclass(frozen=True)
class Segment:
    status: str
    count: int
    x: float  # in the bar's 0…100 coordinate system
    width: float


@dataclass(frozen=True)
class Progress:
    total: int
    segments: list[Segment]

    def count(self, status: str) -> int:
        return sum(s.count for s in self.segments if s.status == status)

    @property
    def answered_share(self) -> float | None:
        return self.count("answered") / self.total if self.total else None


@dataclass(frozen=True)
class CampaignSummary:
    id: int
    name: str
    due_from: dt.date
    due_to: dt.date
    status: str
    created_by: str
    created_at: dt.datetime
    progress: Progress
    reminders: dict[str, int]  # outbox status -> count of this campaign's reminder mails


@dataclass(frozen=True)
class RecipientRow:
    meter_id: int
    meter_number: str
    customer_name: str
    status: str
    reminders_sent: int
    last_reminded_at: dt.datetime | None


def progress(counts: dict[str, int]) -> Progress:
    """Bar segments (answered, reminded, pending) laid side by side over 0…100."""
    total = sum(counts.get(status, 0) for status in RECIPIENT_STATUSES)
    segments, x = [], 0.0
    for status in RECIPIENT_STATUSES:
        count = counts.get(status, 0)
        width = round(100 * count / total, 3) if total else 0.0
        segments.append(Segment(status, count, round(x, 3), width))
        x += width
    return Progress(total=total, segments=segments)


def shown_status(campaign: Campaign) -> ColumnElement[str]:
    """The recipient's status, 'answered' as soon as a reading arrived."""
    arrived = reading_arrived(campaign, CampaignRecipient.meter_id)
    return case(
        (or_(CampaignRecipient.status == "answered", arrived), "answered"),
        else_=CampaignRecipient.status,
    )


def _recipient_counts(session: Session, campaign: Campaign) -> dict[str, int]:
    inner = (
        select(shown_status(campaign).label("shown"))
        .where(CampaignRecipient.campaign_id == campaign.id)
        .subquery()
    )
    stmt = select(inner.c.shown, func.count()).group_by(inner.c.shown)
    return {str(status): int(count) for status, count in session.execute(stmt)}


def _reminder_counts(session: Session, campaign_id: int) -> dict[str, int]:
    stmt = (
        select(Outbox.status, func.count())
        .where(Outbox.campaign_id == campaign_id)
        .group_by(Outbox.status)
    )
    return {str(status): int(count) for status, count in session.execute(stmt)}


def _summary(session: Session, campaign: Campaign) -> CampaignSummary:
    return CampaignSummary(
        id=campaign.id,
        name=campaign.name,
        due_from=campaign.due_from,
        due_to=campaign.due_to,
        status=campaign.status,
        created_by=campaign.created_by or "",
        created_at=campaign.created_at,
        progress=progress(_recipient_counts(session, campaign)),
        reminders=_reminder_counts(session, campaign.id),
    )


def campaign_summaries(session: Session) -> list[CampaignSummary]:
    """The newest campaigns first (a handful a year; one count query each)."""
    stmt = select(Campaign).order_by(Campaign.created_at.desc(), Campaign.id.desc())
    return [_summary(session, c) for c in session.scalars(stmt.limit(MAX_CAMPAIGNS))]


def campaign_summary(session: Session, campaign_id: int) -> CampaignSummary | None:
    campaign = session.get(Campaign, campaign_id)
    return None if campaign is None else _summary(session, campaign)


def recipients(
    session: Session, campaign_id: int, *, status: str | None, offset: int = 0
) -> list[RecipientRow]:
    """The campaign's meters by meter number, optionally of one shown status."""
    campaign = session.get(Campaign, campaign_id)
    if campaign is None:
        return []
    shown = shown_status(campaign)
    stmt = (
        select(CampaignRecipient, Meter.number, Customer.name, shown)
        .join(Meter, Meter.id == CampaignRecipient.meter_id)
        .join(Customer, Customer.id == CampaignRecipient.customer_id)
        .where(CampaignRecipient.campaign_id == campaign_id)
        .order_by(Meter.number, CampaignRecipient.id)
        .offset(offset)
        .limit(PAGE_SIZE)
    )
    if status:
        stmt = stmt.where(shown == status)
    return [
        RecipientRow(
            meter_id=recipient.meter_id,
            meter_number=number,
            customer_name=customer,
            status=str(state),
            reminders_sent=recipient.reminders_sent,
            last_reminded_at=recipient.last_reminded_at,
        )
        for recipient, number, customer, state in session.execute(stmt)
    ]


def parse_start_form(name: str, due_from: str, due_to: str) -> tuple[str, dt.date, dt.date]:
    """Name and window from the form: German dates (TT.MM.JJJJ) or ISO (a browser date input)."""
    name = " ".join(name.split())
    if not name or len(name) > MAX_NAME:
        raise FormInvalid("campaigns.error_name")
    try:
        return name, parse_date(due_from), parse_date(due_to)
    except ValueError as exc:
        raise FormInvalid("campaigns.error_date") from exc
