"""Accepted readings as CSV for the billing system (format: docs/masterdata.md, "Export").

Machine format on purpose: `;` as delimiter, UTF-8 without BOM, the reading with a *dot* as decimal
separator and exactly the meter's decimal digits, ISO dates, the meter's unit last (`kWh`, `MWh`,
`GJ`, `m3`), then the reading a row replaces (a correction). Readings that came from the import
(billing's own values) are not exported back.
"""

from __future__ import annotations

import csv
import datetime as dt
import errno
import os
from decimal import Decimal
from typing import Any, TextIO

from sqlalchemy import ColumnElement, Select, select, update
from sqlalchemy.orm import Session, aliased

from core.account_moves import account_id_on
from core.context import AppContext
from core.db import transaction
from core.models import ContractAccount, Meter, Reading
from matching.plausibility import decimal_places

COLUMNS = (
    "vertragskonto",
    "zaehlernummer",
    "register",
    "stand",
    "ablesedatum",
    "quelle",
    "angenommen_von",
    "reading_id",
    "einheit",
    "ersetzt_reading_id",
)
BATCH = 1000


def export_readings(
    ctx: AppContext, out: TextIO, *, since: dt.date | None, mark: bool, new_only: bool = False
) -> int:
    """Write accepted readings read on or after `since` (None: any date); `new_only`: only those
    not exported yet. With `mark`, set their `exported_at` (first export time is kept) once the
    file is written through to the disk. Returns the number of readings written."""
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(COLUMNS)
    exported: list[int] = []
    with transaction(ctx.sessions) as session:
        for row in session.execute(_query(since, new_only=new_only)).yield_per(BATCH):
            writer.writerow(
                (
                    row.account,
                    row.meter,
                    row.register,
                    machine_decimal(Decimal(row.value), row.decimal_digits),
                    row.read_on.isoformat(),
                    row.source,
                    row.accepted_by or "",
                    row.id,
                    row.unit,
                    row.corrects_id or "",
                )
            )
            exported.append(row.id)
        if mark:
            _written_through(out)  # a full disk fails here, before anything is marked
            _mark(session, exported, ctx.clock())
    return len(exported)


def _written_through(out: TextIO) -> None:
    out.flush()
    try:
        descriptor = out.fileno()
    except (AttributeError, OSError, ValueError):  # not a file (a test's buffer)
        return
    try:
        os.fsync(descriptor)
    except OSError as exc:
        if exc.errno not in (errno.EINVAL, errno.ENOTSUP):  # a pipe or a terminal
            raise


def _query(since: dt.date | None, *, new_only: bool) -> Select[*tuple[Any, ...]]:
    stmt = (
        select(
            Reading.id,
            Reading.register,
            Reading.value,
            Reading.read_on,
            Reading.source,
            Reading.accepted_by,
            Reading.corrects_id,
            Meter.number.label("meter"),
            Meter.decimal_digits,
            Meter.unit,
            account_on_reading_day().label("account"),
        )
        .join(Reading.meter)
        .join(Meter.account)
        .where(Reading.status == "accepted", Reading.source != "import")
        .order_by(Reading.read_on, Reading.id)
    )
    if since is not None:
        stmt = stmt.where(Reading.read_on >= since)
    if new_only:
        stmt = stmt.where(Reading.exported_at.is_(None))
    return stmt


def account_on_reading_day() -> ColumnElement[str]:
    """The number of the contract account the reading's meter belonged to on the reading's day."""
    on_day = aliased(ContractAccount)
    return (
        select(on_day.number)
        .where(on_day.id == account_id_on(Reading.meter_id, Reading.read_on))
        .scalar_subquery()
    )


def machine_decimal(value: Decimal, decimal_digits: int) -> str:
    """Dot as decimal separator, padded to the meter's decimal digits ('12345' -> '12345.0' for one
    digit), never rounded: extra decimals are kept rather than silently changing a reading."""
    places = max(decimal_digits, decimal_places(value))
    return f"{value:.{places}f}"


def _mark(session: Session, ids: list[int], now: dt.datetime) -> None:
    for start in range(0, len(ids), BATCH):
        session.execute(
            update(Reading)
            .where(Reading.id.in_(ids[start : start + BATCH]), Reading.exported_at.is_(None))
            .values(exported_at=now)
            .execution_options(synchronize_session=False)
        )
