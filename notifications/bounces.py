"""Bounced addresses: never mail them again until the master data gives a new address."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable

from sqlalchemy import func, update
from sqlalchemy.orm import Session

from core.models import Customer, Outbox

log = logging.getLogger(__name__)

BOUNCE_ERROR = "Adresse unzustellbar (Bounce gemeldet)"


def record_bounce(session: Session, addresses: Iterable[str], *, now: dt.datetime) -> int:
    """Mark customers with one of `addresses` (case-insensitive) as bounced; return how many.

    Customers already marked keep their first bounce time. Mails still pending for these
    addresses are set to `failed`: they would only bounce again. Runs in the caller's transaction.
    """
    wanted = sorted({a.strip().lower() for a in addresses if a and a.strip()})
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
