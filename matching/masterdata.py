"""Master-data import from the billing system's CSV (columns: docs/masterdata.md).

The whole file is read and validated first (bad rows are collected as `ImportRowError` and skipped),
then written in chunks of `CHUNK` meters, one transaction each: a chunk loads its existing accounts
and meters with two `IN` queries and its existing readings with a third, so 100 000 rows cost a few
hundred queries, not a few per row. A failure mid-file leaves earlier chunks committed; because the
import is idempotent, running it again completes it.

Keys: an account by its number, a meter by its number. Existing rows are updated in place;
nothing is ever deleted (a meter leaves service through its `ausbaudatum`). A meter listed under
another account moves there; the move is recorded (`MeterAccountMove`, dated by `konto_ab` or the
import day) so that readings taken before it are billed to the account of their day. A last
reading becomes a `Reading(source="import")` unless the meter already has a reading for that
register and date.
"""

from __future__ import annotations

import datetime as dt
import logging
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload
from tqdm import tqdm

from core.context import AppContext
from core.db import transaction
from core.errors import ImportRowError
from core.formatting import format_number
from core.models import ContractAccount, Customer, Meter, MeterAccountMove, Reading
from matching.csvinput import MasterRow, parse_row, read_table
from matching.masterdata_group import MeterRecord, group_rows

log = logging.getLogger(__name__)
CHUNK = 1000
MAX_ERRORS_SHOWN = 50


@dataclass
class ImportReport:
    """Counts per meter (created / updated / unchanged), readings added, and the rejected rows."""

    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    readings_added: int = 0
    encoding: str = "utf-8"
    errors: list[ImportRowError] = field(default_factory=list)
    duplicates: list[tuple[int, int]] = field(default_factory=list)  # (row, the row it repeats)

    def summary(self) -> str:
        n = format_number
        lines = [
            f"Import: {_counted(self.rows, 'Zeile', 'Zeilen')} gelesen ({self.encoding}); Zähler: "
            f"{n(self.created)} neu, {n(self.updated)} geändert, {n(self.unchanged)} unverändert; "
            f"{_counted(self.readings_added, 'Zählerstand', 'Zählerstände')} übernommen; "
            f"{_counted(len(self.duplicates), 'doppelte Zeile', 'doppelte Zeilen')} und "
            f"{_counted(len(self.errors), 'fehlerhafte Zeile', 'fehlerhafte Zeilen')} "
            "übersprungen."
        ]
        lines.extend(
            f"  Zeile {row}: gleich wie Zeile {earlier}, übersprungen"
            for row, earlier in self.duplicates[:MAX_ERRORS_SHOWN]
        )
        lines.extend(f"  {error}" for error in self.errors[:MAX_ERRORS_SHOWN])
        if len(self.errors) > MAX_ERRORS_SHOWN:
            lines.append(f"  … und {n(len(self.errors) - MAX_ERRORS_SHOWN)} weitere Fehler.")
        return "\n".join(lines)


def _counted(count: int, one: str, many: str) -> str:
    return f"{format_number(count)} {one if count == 1 else many}"


def import_csv(ctx: AppContext, path: Path, *, progress: bool) -> ImportReport:
    """Import (or re-import) master data from `path`; see the module docstring."""
    report = ImportReport()
    rows = _parse(path, ctx, report)
    records = group_rows(rows, report.errors, report.duplicates)
    report.errors.sort(key=lambda error: error.row)
    with tqdm(
        total=len(records), unit=" Zähler", desc="Import", disable=not progress, file=sys.stderr
    ) as bar:
        for chunk in _chunks(records, CHUNK):
            with transaction(ctx.sessions) as session:
                _apply(session, chunk, report, today=ctx.today())
            bar.update(len(chunk))
    log.info(
        "master data imported from %s: %d meters new, %d changed, %d rows rejected",
        path,
        report.created,
        report.updated,
        len(report.errors),
    )
    return report


def _parse(path: Path, ctx: AppContext, report: ImportReport) -> list[MasterRow]:
    table, columns, report.encoding = read_table(path)
    today = ctx.today()
    rows = []
    for number, cells in table:
        report.rows += 1
        try:
            rows.append(parse_row(number, cells, columns, today=today))
        except ImportRowError as error:
            report.errors.append(error)
    return rows


def _chunks(records: Sequence[MeterRecord], size: int) -> Iterator[Sequence[MeterRecord]]:
    for start in range(0, len(records), size):
        yield records[start : start + size]


def _apply(
    session: Session, chunk: Sequence[MeterRecord], report: ImportReport, *, today: dt.date
) -> None:
    accounts = _existing_accounts(session, {r.account for r in chunk})
    meters = _existing_meters(session, [r.meter for r in chunk])
    created: set[str] = set()
    changed: set[str] = set()
    moves: list[tuple[Meter, int, ContractAccount, MeterRecord]] = []
    for record in chunk:
        account = accounts.get(record.account)
        if account is None:
            account = ContractAccount(number=record.account, customer=Customer())
            session.add(account)
            accounts[record.account] = account
        if _update_customer(account.customer, record):
            changed.add(record.meter)
        if _assign(account, monthly_installment=record.installment):
            changed.add(record.meter)
        meter = meters.get(record.meter)
        if meter is None:
            meter = meters[record.meter] = Meter(number=record.meter)
            session.add(meter)
            created.add(record.meter)
        previous = meter.account_id
        if _update_meter(meter, account, record):
            changed.add(record.meter)
        if previous is not None and previous != account.id:
            moves.append((meter, previous, account, record))
    session.flush()
    for meter, previous, account, record in moves:
        session.add(
            MeterAccountMove(
                meter_id=meter.id, from_account_id=previous, to_account_id=account.id,
                moved_on=record.account_since or today,
            )
        )  # fmt: skip
    changed |= _add_readings(session, chunk, meters, report)
    report.created += len(created)
    report.updated += len(changed - created)
    report.unchanged += len(chunk) - len(changed | created)


def _existing_accounts(session: Session, numbers: set[str]) -> dict[str, ContractAccount]:
    query = (
        select(ContractAccount)
        .where(ContractAccount.number.in_(sorted(numbers)))
        .options(joinedload(ContractAccount.customer))
    )
    return {account.number: account for account in session.scalars(query)}


def _existing_meters(session: Session, numbers: list[str]) -> dict[str, Meter]:
    query = select(Meter).where(Meter.number.in_(numbers))
    return {meter.number: meter for meter in session.scalars(query)}


def _assign(obj: object, **values: object) -> bool:
    """Set attributes that differ; True if any did."""
    changed = False
    for name, value in values.items():
        if getattr(obj, name) != value:
            setattr(obj, name, value)
            changed = True
    return changed


def _update_customer(customer: Customer, record: MeterRecord) -> bool:
    if customer.email is not None and customer.email != record.email:
        customer.email_bounced_at = None  # a new address has not bounced yet
    return _assign(customer, name=record.name, email=record.email, language=record.language)


def _update_meter(meter: Meter, account: ContractAccount, record: MeterRecord) -> bool:
    moved = meter.account_id is not None and meter.account_id != account.id
    if account.id is None:
        meter.account = account  # new account: its empty collection needs no loading
    elif meter.account_id != account.id:
        meter.account_id = account.id  # by key: no lazy load of either account's meters
    return moved | _assign(
        meter,
        kind=record.kind,
        unit=record.unit,
        display=record.display,
        integer_digits=record.integer_digits,
        decimal_digits=record.decimal_digits,
        registers=",".join(record.registers),
        installed_on=record.installed_on,
        removed_on=record.removed_on,
        unit_price=record.unit_price,
        base_price=record.base_price,
    )


def _add_readings(
    session: Session,
    chunk: Sequence[MeterRecord],
    meters: dict[str, Meter],
    report: ImportReport,
) -> set[str]:
    """Add the import readings not yet stored; return the meter numbers that got one."""
    wanted = [(meters[record.meter], reading) for record in chunk for reading in record.readings]
    if not wanted:
        return set()
    query = select(Reading.meter_id, Reading.register, Reading.read_on).where(
        Reading.meter_id.in_(sorted({meter.id for meter, _ in wanted})),
        Reading.read_on.in_(sorted({r.read_on for _, r in wanted})),
    )
    stored = {tuple(row) for row in session.execute(query)}
    touched = set()
    for meter, reading in wanted:
        key = (meter.id, reading.register, reading.read_on)
        if key in stored:
            continue
        stored.add(key)
        session.add(
            Reading(
                meter_id=meter.id,
                register=reading.register,
                value=reading.value,
                read_on=reading.read_on,
                source="import",
                status="accepted",
                accepted_by="import",
            )
        )
        report.readings_added += 1
        touched.add(meter.number)
    return touched
