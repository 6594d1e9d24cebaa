"""Small helpers shared by record and review: audit rows, who to reply to, a day's reading of a
register, one reading superseded by another."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.account_moves import account_on
from core.models import AuditLog, Customer, Meter, Reading, ReviewTask
from core.types import decimal_text


@dataclass(frozen=True)
class Contact:
    """Whom a reply goes to (None fields: unknown customer; reply to the mail's sender)."""

    email: str | None = None
    language: str = "de"
    name: str | None = None

    @classmethod
    def of(cls, customer: Customer | None) -> Contact:
        if customer is None:
            return cls()
        return cls(email=customer.email, language=customer.language or "de", name=customer.name)


def customer_on(session: Session, meter: Meter, day: dt.date) -> Customer | None:
    """The customer whose contract account held `meter` on `day` (after a move: see
    core.account_moves)."""
    account = account_on(session, meter.id, day)
    return account.customer if account is not None else None


def contact_for(
    session: Session, meter: Meter | None, customer_id: int | None, day: dt.date
) -> Contact:
    """The customer of the account `meter` had on `day`; without a meter, `customer_id`'s."""
    if meter is not None:
        return Contact.of(customer_on(session, meter, day))
    return Contact.of(session.get(Customer, customer_id) if customer_id else None)


def audit(
    session: Session,
    *,
    actor: str,
    action: str,
    entity: str,
    entity_id: int | None,
    details: dict[str, Any],
) -> None:
    session.add(
        AuditLog(actor=actor, action=action, entity=entity, entity_id=entity_id, details=details)
    )


def reading_for_message(session: Session, ledger_id: int) -> Reading | None:
    query = select(Reading).where(Reading.inbound_message_id == ledger_id).order_by(Reading.id)
    return session.scalars(query.limit(1)).first()


def task_for_message(session: Session, ledger_id: int) -> ReviewTask | None:
    query = select(ReviewTask).where(ReviewTask.inbound_message_id == ledger_id)
    return session.scalars(query).first()


def text(value: Decimal | None) -> str | None:
    """Decimals go into JSON columns as strings, never floats."""
    return None if value is None else str(value)


def reading_of_day(
    session: Session, meter_id: int, register: str, read_on: dt.date, value: Decimal
) -> Reading | None:
    """An accepted reading of the register with this value on this day, from any mail."""
    query = select(Reading).where(
        Reading.meter_id == meter_id, Reading.register == register, Reading.read_on == read_on,
        Reading.value == value, Reading.status == "accepted",
    )  # fmt: skip
    return session.scalars(query.order_by(Reading.id).limit(1)).first()


def supersede(
    session: Session, old: Reading, by: Reading, *, clerk: str, details: dict[str, Any]
) -> None:
    """`old` no longer counts (status `superseded`, not exported again); `by` names it in
    `corrects_id` (billing may have taken the old one). Audited with `details`."""
    old.status = "superseded"
    by.corrects_id = old.id
    session.flush()
    audit(
        session, actor=clerk, action="reading_superseded", entity="reading", entity_id=old.id,
        details={"by_reading_id": by.id, "old_value": decimal_text(old.value),
                 "new_value": decimal_text(by.value), **details},
    )  # fmt: skip
