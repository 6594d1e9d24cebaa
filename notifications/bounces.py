"""Bounced addresses: never mail them again until the master data gives a new address."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from core.models import Customer, Outbox

log = logging.getLogger(__name__)

BOUNCE_ERROR = "Adresse unzustellbar (Bounce gemeldet)"


def record_bounce(
    session: Session, addresses: Iterable[str], *, references: Iterable[str], now: dt.datetime
) -> int:
    """Mark customers with one of `addresses` (case-insensitive) as bounced; return how many.

    Anyone can send a mail that looks like a bounce, so an address counts only when the bounce
    quotes the Message-ID (`references`) of a mail we sent to that very address.
    Customers already marked keep their first bounce time. Mails still pending for these
    addresses are set to `failed`: they would only bounce again. Runs in the caller's transaction.
    """
    wanted = _confirmed(session, addresses, references)
    if not wanted:
        return 0
    marked = session.execute(
        update(Customer)
        .where(func.lower(Customer.email).in_(wanted), Customer.email_bounced_at.is_(None))
        .values(email_bounced_at=now)
        .returning(Customer.id)
        .execution_options(synchronize_session=False)
    ).all()
    cancelled = session.execute(
        update(Outbox)
        .where(func.lower(Outbox.recipient).in_(wanted), Outbox.status == "pending")
        .values(status="failed", last_error=BOUNCE_ERROR)
        .returning(Outbox.id)
        .execution_options(synchronize_session=False)
    ).all()
    if marked or cancelled:
        log.info("bounce for %s: %d customers marked, %d pending mails cancelled",
                 ", ".join(wanted), len(marked), len(cancelled))  # fmt: skip
    return len(marked)


def _confirmed(session: Session, addresses: Iterable[str], references: Iterable[str]) -> list[str]:
    """The bounced addresses to which one of the referenced mails was really sent by us. A bounce
    that names no failed recipient (a plain-text notice) counts for the recipients of the mails it
    references (quoted Message-ID or our VERP envelope address)."""
    claimed = {a.strip().lower() for a in addresses if a and a.strip()}
    ids = {r.strip() for r in references if r and r.strip()}
    if not ids:
        return []
    if not claimed:
        return sorted(set(session.scalars(
            select(func.lower(Outbox.recipient)).where(Outbox.message_id.in_(ids))
        )))  # fmt: skip
    sent_to = session.scalars(
        select(func.lower(Outbox.recipient)).where(
            Outbox.message_id.in_(ids), func.lower(Outbox.recipient).in_(claimed)
        )
    )
    confirmed = sorted(set(sent_to))
    if len(confirmed) < len(claimed):
        log.warning("bounce for %s not matched to a mail we sent; ignored",
                    ", ".join(sorted(claimed - set(confirmed))))  # fmt: skip
    return confirmed
