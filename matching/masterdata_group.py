"""Group validated CSV rows into one record per meter, checking that rows agree with each other.

A meter with several registers (e.g. HT/NT: 1.8.1 and 1.8.2) has one row per register; a register
may come again in further rows that each carry an earlier reading with its own date (the
meter's reading history). Rows of the same account must agree on name, email and language; rows of
the same meter on account, kind, unit, display and digits. A row that contradicts an earlier one is
rejected, naming both rows; a row that repeats an earlier one exactly is skipped as a duplicate.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from decimal import Decimal

from core.errors import ImportRowError
from matching.csvinput import MasterRow

_ACCOUNT_FIELDS = (
    ("name", "name"),
    ("email", "email"),
    ("language", "sprache"),
    ("installment", "abschlag"),
)
_METER_FIELDS = (
    ("account", "vertragskonto"),
    ("kind", "art"),
    ("unit", "einheit"),
    ("display", "anzeige"),
    ("integer_digits", "vorkommastellen"),
    ("decimal_digits", "nachkommastellen"),
    ("installed_on", "einbaudatum"),
    ("removed_on", "ausbaudatum"),
    ("account_since", "konto_ab"),
    ("unit_price", "arbeitspreis"),
    ("base_price", "grundpreis"),
)


@dataclass(frozen=True)
class ImportReading:
    register: str
    value: Decimal
    read_on: dt.date


@dataclass
class MeterRecord:
    """Everything the file says about one meter (and its account and customer)."""

    first: MasterRow
    registers: list[str] = field(default_factory=list)
    readings: list[ImportReading] = field(default_factory=list)

    # the first row's fields, which all rows of the meter share
    @property
    def account(self) -> str:
        return self.first.account

    @property
    def meter(self) -> str:
        return self.first.meter

    @property
    def name(self) -> str:
        return self.first.name

    @property
    def email(self) -> str | None:
        return self.first.email

    @property
    def language(self) -> str:
        return self.first.language

    @property
    def kind(self) -> str:
        return self.first.kind

    @property
    def unit(self) -> str:
        return self.first.unit

    @property
    def display(self) -> str | None:
        return self.first.display

    @property
    def integer_digits(self) -> int:
        return self.first.integer_digits

    @property
    def decimal_digits(self) -> int:
        return self.first.decimal_digits

    @property
    def installed_on(self) -> dt.date | None:
        return self.first.installed_on

    @property
    def removed_on(self) -> dt.date | None:
        return self.first.removed_on

    @property
    def account_since(self) -> dt.date | None:
        return self.first.account_since

    @property
    def installment(self) -> Decimal | None:
        return self.first.installment

    @property
    def unit_price(self) -> Decimal | None:
        return self.first.unit_price

    @property
    def base_price(self) -> Decimal | None:
        return self.first.base_price


def group_rows(
    rows: list[MasterRow],
    errors: list[ImportRowError],
    duplicates: list[tuple[int, int]] | None = None,
) -> list[MeterRecord]:
    """One record per meter number, in file order; contradicting rows go to `errors`, a row that
    repeats an earlier one cell for cell goes to `duplicates` as (row, earlier row)."""
    accounts: dict[str, MasterRow] = {}
    meters: dict[str, MeterRecord] = {}
    seen: dict[MasterRow, int] = {}
    for row in rows:
        content = replace(row, row=0)
        if content in seen:
            if duplicates is not None:
                duplicates.append((row.row, seen[content]))
            continue
        seen[content] = row.row
        try:
            _check_against(row, accounts.get(row.account), _ACCOUNT_FIELDS)
            record = meters.get(row.meter)
            if record is not None:
                _check_against(row, record.first, _METER_FIELDS)
                _check_register(row, record)
        except ImportRowError as error:
            errors.append(error)
            continue
        accounts.setdefault(row.account, row)
        if record is None:
            record = meters[row.meter] = MeterRecord(first=row)
        if row.register not in record.registers:
            record.registers.append(row.register)
        if row.last_value is not None and row.last_date is not None:
            record.readings.append(ImportReading(row.register, row.last_value, row.last_date))
    return list(meters.values())


def _check_against(
    row: MasterRow, earlier: MasterRow | None, fields: tuple[tuple[str, str], ...]
) -> None:
    if earlier is None:
        return
    for attribute, column in fields:
        mine, theirs = getattr(row, attribute), getattr(earlier, attribute)
        if mine != theirs:
            raise ImportRowError(
                row.row,
                column,
                f"{_show(mine)} widerspricht Zeile {earlier.row} ({_show(theirs)})",
            )


def _check_register(row: MasterRow, record: MeterRecord) -> None:
    """A register may repeat only with a reading of another date (a history row)."""
    if row.register not in record.registers:
        return
    dates = {r.read_on for r in record.readings if r.register == row.register}
    if row.last_value is not None and row.last_date is not None and row.last_date not in dates:
        return
    raise ImportRowError(
        row.row,
        "register",
        f"Zählwerk {row.register} von Zähler {row.meter} steht schon in Zeile "
        f"{record.first.row} oder davor",
    )


def _show(value: object) -> str:
    return "leer" if value is None else repr(str(value))
