"""Pause, resume and cancel a campaign; every change is written to the audit log.

Pausing holds the campaign's mails that have not gone out yet (outbox status `held`, which the
dispatcher never picks) and stops follow-ups; resuming releases them, paced again from now on;
cancelling withdraws them for good (status `cancelled`) and ends the campaign.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from core.context import AppContext
from core.db import transaction
from core.errors import UsageError
from core.models import AuditLog, Campaign, Outbox

log = logging.getLogger(__name__)

# the status a campaign may move to from each status
MOVES = {
    "pause": ({"running"}, "paused"),
    "resume": ({"paused"}, "running"),
    "cancel": ({"running", "paused"}, "cancelled"),
}
AUDIT_ACTION = {"pause": "campaign_paused", "resume": "campaign_resumed",
                "cancel": "campaign_cancelled"}  # fmt: skip
# which of the campaign's unsent mails an action moves, and to which outbox status
MAIL_FROM = {"pause": ("pending",), "resume": ("held",), "cancel": ("pending", "held")}
MAIL_TO = {"pause": "held", "resume": "pending", "cancel": "cancelled"}
STATUS_DE = {"running": "läuft", "paused": "pausiert", "cancelled": "abgebrochen",
             "finished": "beendet"}  # fmt: skip


@dataclass(frozen=True)
class ControlResult:
    name: str
    action: str
    status: str
    mails: int  # mails held, released or withdrawn

    def summary(self) -> str:
        verb = {"pause": "angehalten", "resume": "wieder freigegeben", "cancel": "zurückgezogen"}
        return (
            f"Kampagne „{self.name}“ {STATUS_DE[self.status]}: "
            f"{self.mails} {'Mail' if self.mails == 1 else 'Mails'} {verb[self.action]}."
        )


def find_campaign(session: Session, name_or_id: str) -> Campaign:
    text = name_or_id.strip()
    clause = Campaign.name == text
    if text.isdigit():
        clause = or_(clause, Campaign.id == int(text))
    campaign = session.scalars(select(Campaign).where(clause).order_by(Campaign.id)).first()
    if campaign is None:
        raise UsageError(f"Kampagne „{text}“ gibt es nicht")
    return campaign


def control_campaign(ctx: AppContext, name_or_id: str, action: str, *, actor: str) -> ControlResult:
    """Apply `action` (pause, resume, cancel) to the campaign; `UsageError` when it cannot."""
    if action not in MOVES:
        raise UsageError(f"unbekannte Aktion {action!r} (pause, resume, cancel)")
    allowed, target = MOVES[action]
    now = ctx.clock()
    with transaction(ctx.sessions) as session:
        campaign = find_campaign(session, name_or_id)
        if campaign.status not in allowed:
            raise UsageError(
                f"Kampagne „{campaign.name}“ ist {STATUS_DE.get(campaign.status, campaign.status)}"
                f"; „{action}“ geht nicht"
            )
        mails = _move_mails(session, campaign, action, now)
        before, campaign.status = campaign.status, target
        session.add(
            AuditLog(
                at=now,
                actor=actor,
                action=AUDIT_ACTION[action],
                entity="campaign",
                entity_id=campaign.id,
                details={"name": campaign.name, "before": before, "after": target, "mails": mails},
            )
        )
        result = ControlResult(campaign.name, action, target, mails)
    log.info("campaign %r: %s by %s, %d mails", result.name, action, actor, mails)
    return result


def _move_mails(session: Session, campaign: Campaign, action: str, now: dt.datetime) -> int:
    ids = session.scalars(
        select(Outbox.id)
        .where(Outbox.campaign_id == campaign.id, Outbox.status.in_(MAIL_FROM[action]))
        .order_by(Outbox.next_attempt_at, Outbox.id)
    ).all()
    status = MAIL_TO[action]
    if action != "resume":
        _update(session, ids, status=status)
        return len(ids)
    step = dt.timedelta(hours=1) / (campaign.max_per_hour or 1_000_000)
    for index, outbox_id in enumerate(ids):  # paced again from now on
        _update(session, [outbox_id], status=status, next_attempt_at=now + step * index)
    return len(ids)


def _update(session: Session, ids: Sequence[int], **values: object) -> None:
    session.execute(
        update(Outbox)
        .where(Outbox.id.in_(ids))
        .values(**values)
        .execution_options(synchronize_session=False)
    )
