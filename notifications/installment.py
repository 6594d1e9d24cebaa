"""Does the monthly installment (Abschlag) still fit the consumption? A careful hint for the
confirmation, never a bill.

The estimate for a contract account is, over its meters in service, the daily consumption of each
meter's latest reading period on that account (readings from before a meter moved to the account
belong to the tenant before) times 365 times its unit price, plus its yearly base price. It is
shown only when every such meter has a tariff and a daily consumption from its own history, and
when the estimate and twelve installments differ by more than `DRIFT`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from core.account_moves import account_id_on
from core.models import ContractAccount, Meter
from notifications.consumption import latest_daily_rate

# A year's estimate this far from the installments (in either direction) is worth a word: smaller
# drifts are normal between seasons, larger ones would leave the customer with a surprise.
DRIFT = Decimal("0.20")
DAYS_A_YEAR = 365


@dataclass(frozen=True)
class InstallmentHint:
    monthly: Decimal  # the current installment
    yearly_installments: Decimal  # twelve of them
    estimate: Decimal  # the year's cost at the current consumption, in whole euros
    suggested: Decimal  # a monthly installment that would cover it, in whole euros

    @property
    def too_low(self) -> bool:
        return self.estimate > self.yearly_installments

    def as_context(self) -> dict[str, object]:
        return {"monthly": self.monthly, "yearly": self.yearly_installments,
                "estimate": self.estimate, "suggested": self.suggested,
                "too_low": self.too_low}  # fmt: skip


def installment_hint(
    session: Session, meter_number: str, read_on: dt.date
) -> InstallmentHint | None:
    """The hint for the account `meter_number` was on on `read_on`, with the readings booked so
    far on that account (the new one included); None when nothing can be said or nothing needs
    saying."""
    meter_id = select(Meter.id).where(Meter.number == meter_number).scalar_subquery()
    row = session.execute(
        select(ContractAccount.id, ContractAccount.monthly_installment).where(
            ContractAccount.id == account_id_on(meter_id, read_on)
        )
    ).first()
    if row is None or not row.monthly_installment:
        return None
    estimate = _estimate(session, row.id, read_on)
    if estimate is None:
        return None
    yearly = row.monthly_installment * 12
    if abs(estimate - yearly) <= yearly * DRIFT:
        return None
    return InstallmentHint(
        monthly=row.monthly_installment,
        yearly_installments=yearly,
        estimate=estimate.quantize(Decimal(1), rounding=ROUND_HALF_UP),
        suggested=(estimate / 12).quantize(Decimal(1), rounding=ROUND_HALF_UP),
    )


def _estimate(session: Session, account_id: int, read_on: dt.date) -> Decimal | None:
    meters = session.execute(
        select(Meter.number, Meter.unit_price, Meter.base_price).where(
            account_id_on(Meter.id, read_on) == account_id,
            or_(Meter.removed_on.is_(None), Meter.removed_on > read_on),
        )
    ).all()
    total = Decimal(0)
    for number, unit_price, base_price in meters:
        per_day = latest_daily_rate(session, number, account_id)
        if unit_price is None or per_day is None:
            return None
        total += per_day * DAYS_A_YEAR * unit_price + (base_price or 0)
    return total
