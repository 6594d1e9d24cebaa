"""Which contract account a meter belonged to on a given day.

A meter moves between accounts (a tenant moving out, recorded by the master-data import as a
`MeterAccountMove` dated by the first day of the new account). Whatever is billed, exported or
shown about a reading or a mail belongs to the account the meter had on its day, not to the one
it has now.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from sqlalchemy import ColumnElement, CompoundSelect, func, select, union
from sqlalchemy.orm import Session, aliased

from core.models import ContractAccount, Meter, MeterAccountMove

CHUNK = 500  # meter ids per query (bound parameters)


def account_id_on(meter_id: Any, day: Any) -> ColumnElement[int]:
    """SQL for the id of the account meter `meter_id` had on `day`: the account it left at its
    first move after that day, else its account now. Either argument is a column (correlated
    with the enclosing query, e.g. `Reading.meter_id, Reading.read_on`) or a plain value."""
    move = aliased(MeterAccountMove)
    meter = aliased(Meter)
    left_later = (
        select(move.from_account_id)
        .where(move.meter_id == meter_id, move.moved_on > day)
        .order_by(move.moved_on, move.id)
        .limit(1)
        .correlate_except(move)
        .scalar_subquery()
    )
    now = (
        select(meter.account_id)
        .where(meter.id == meter_id)
        .correlate_except(meter)
        .scalar_subquery()
    )
    return func.coalesce(left_later, now)


def meters_ever_on(account_ids: Any) -> ColumnElement[bool]:
    """SQL condition on `Meter.id`: the meter is on one of the accounts now or was before a
    move (the candidates whose readings `account_id_on` then sorts by day)."""
    return Meter.id.in_(meter_ids_ever_on(account_ids))


def meter_ids_ever_on(account_ids: Any) -> CompoundSelect:
    """The ids of the meters on one of the accounts now or before a move, as one query that
    reads two indexes (meter.account_id, meter_account_move.from_account_id), never a whole
    table: condition on `Reading.meter_id` or `ReviewTask.meter_id` with it directly."""
    now = select(Meter.id).where(Meter.account_id.in_(account_ids))
    moved_away = select(MeterAccountMove.meter_id).where(
        MeterAccountMove.from_account_id.in_(account_ids)
    )
    return union(now, moved_away)


def account_on(session: Session, meter_id: int, day: dt.date) -> ContractAccount | None:
    """The contract account meter `meter_id` had on `day`."""
    return session.get(ContractAccount, session.scalar(select(account_id_on(meter_id, day))))


def accounts_on(
    session: Session, meters: Iterable[Meter], day: dt.date
) -> dict[int, ContractAccount]:
    """The contract account each of `meters` had on `day`, by meter id (as `account_id_on`
    says, one query for the moves of all of them)."""
    found = {meter.id: meter.account for meter in meters}
    ids = sorted(found)
    left: dict[int, int] = {}
    for start in range(0, len(ids), CHUNK):
        moves = session.execute(
            select(MeterAccountMove.meter_id, MeterAccountMove.from_account_id)
            .where(MeterAccountMove.meter_id.in_(ids[start : start + CHUNK]))
            .where(MeterAccountMove.moved_on > day)
            .order_by(MeterAccountMove.meter_id, MeterAccountMove.moved_on, MeterAccountMove.id)
        )
        for meter_id, from_account_id in moves:
            left.setdefault(meter_id, from_account_id)
    for meter_id, account_id in left.items():
        account = session.get(ContractAccount, account_id)
        if account is not None:
            found[meter_id] = account
    return found
