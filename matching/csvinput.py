"""Reading the master-data CSV: encoding, delimiter, header aliases, one validated row at a time.

Pure apart from reading the file; the columns are documented in docs/masterdata.md.
Row numbers are those a spreadsheet shows: the header is row 1, the first data row is row 2.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TypeVar

from core.errors import ImportRowError, UsageError
from core.formatting import os_error_text, parse_date, parse_german_decimal
from matching.plausibility import decimal_places
from matching.units import canonical as canonical_unit

ALIASES: dict[str, tuple[str, ...]] = {
    "vertragskonto": (
        "vertragskontonummer", "vertragskonto_nr", "vk", "vk_nr", "contract_account",
        "contract_account_number", "account", "account_number",
    ),
    "name": ("kunde", "kundenname", "customer", "customer_name"),
    "email": ("e_mail", "mail", "emailadresse", "e_mail_adresse", "email_address"),
    "sprache": ("language", "lang"),
    "zaehlernummer": (
        "zaehler", "zaehler_nr", "zaehlernr", "meter", "meter_number", "meter_no", "serial_number",
    ),
    "art": ("sparte", "zaehlerart", "kind", "type", "medium"),
    "einheit": ("unit",),
    "anzeige": ("display", "anzeigeart", "display_type", "counter_type"),
    "vorkommastellen": ("integer_digits", "digits"),
    "nachkommastellen": ("decimal_digits", "decimals"),
    "letzter_stand": ("zaehlerstand", "last_reading", "last_value"),
    "letzter_stand_datum": ("ablesedatum", "last_reading_date", "last_read_on"),
    "register": ("zaehlwerk", "obis"),
    "einbaudatum": ("installed_on", "installed"),
    "ausbaudatum": ("removed_on", "removed"),
    "konto_ab": ("vertragskonto_ab", "account_since", "account_from", "moved_on"),
    "abschlag": ("monatsabschlag", "abschlagsbetrag", "installment", "monthly_installment"),
    "arbeitspreis": ("preis_je_einheit", "price_per_unit", "unit_price"),
    "grundpreis": ("grundpreis_jahr", "standing_charge", "base_price"),
}  # fmt: skip
REQUIRED = ("vertragskonto", "name", "zaehlernummer", "art", "einheit", "vorkommastellen")

KINDS = {
    "electricity": "electricity", "strom": "electricity", "elektrizitaet": "electricity",
    "gas": "gas", "erdgas": "gas",
    "water": "water", "wasser": "water", "kaltwasser": "water", "warmwasser": "water",
    "heat": "heat", "waerme": "heat", "fernwaerme": "heat",
}  # fmt: skip
# the units each kind of meter counts in (a heat meter's calculator in kWh, MWh or GJ)
UNITS_BY_KIND = {
    "electricity": ("kWh",), "gas": ("m3",), "water": ("m3",), "heat": ("kWh", "MWh", "GJ"),
}  # fmt: skip
KIND_NAMES_DE = {"electricity": "Strom", "gas": "Gas", "water": "Wasser", "heat": "Wärme"}
DISPLAYS = {
    "rollen": "drum", "rollenzaehlwerk": "drum", "walzen": "drum", "mechanisch": "drum",
    "analog": "drum", "drum": "drum", "drums": "drum", "mechanical": "drum",
    "digital": "lcd", "lcd": "lcd", "display": "lcd", "elektronisch": "lcd", "electronic": "lcd",
}  # fmt: skip
LANGUAGES = {"de": "de", "deu": "de", "deutsch": "de", "german": "de",
             "en": "en", "eng": "en", "englisch": "en", "english": "en"}  # fmt: skip

_UMLAUTS = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss"})
_EMAIL = re.compile(r"^[^@\s;,<>]+@[^@\s;,<>]+\.[^@\s;,<>]+$")
_ACCOUNT = re.compile(r"^[0-9A-Za-z./-]{1,32}$")
_REGISTER = re.compile(r"^[0-9A-Za-z:.*-]{1,10}$")
T = TypeVar("T")
MAX_INTEGER_DIGITS = 14  # Numeric(18, 4)
MAX_DECIMAL_DIGITS = 4
MAX_EURO_DIGITS = 6


@dataclass(frozen=True)
class MasterRow:
    row: int
    account: str
    name: str
    email: str | None
    language: str
    meter: str
    kind: str
    unit: str
    display: str | None  # drum | lcd; None: not given
    integer_digits: int
    decimal_digits: int
    register: str
    last_value: Decimal | None
    last_date: dt.date | None
    installed_on: dt.date | None
    removed_on: dt.date | None
    account_since: dt.date | None = None  # a move to this account: its first day
    installment: Decimal | None = None  # euros a month, per contract account
    unit_price: Decimal | None = None  # euros per kWh or m³
    base_price: Decimal | None = None  # euros a year


@dataclass(frozen=True)
class Column:
    index: int
    label: str  # the header as written in the file, for error messages


def decode(data: bytes) -> tuple[str, str]:
    """Text and encoding: UTF-8 (with or without BOM), else cp1252 (as Excel saves CSV)."""
    try:
        return data.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252"), "cp1252"
    except UnicodeDecodeError:
        return data.decode("latin-1"), "latin-1"


def sniff_delimiter(header_line: str) -> str:
    counts = {sep: header_line.count(sep) for sep in (";", ",", "\t")}
    return max(counts, key=lambda sep: counts[sep]) if any(counts.values()) else ";"


def canonical(header: str) -> str:
    key = header.strip().lstrip("\ufeff").lower().translate(_UMLAUTS)
    key = re.sub(r"[\s\-./()]+", "_", key).strip("_")
    for name, aliases in ALIASES.items():
        if key == name or key in aliases:
            return name
    return key


def header_map(header: list[str]) -> dict[str, Column]:
    columns: dict[str, Column] = {}
    for index, label in enumerate(header):
        name = canonical(label)
        if name in columns:
            raise ImportRowError(1, label, f"Spalte doppelt (wie {columns[name].label!r})")
        columns[name] = Column(index, label.strip())
    for name in REQUIRED:
        if name not in columns:
            english = ALIASES[name][-1] if name != "name" else "customer_name"
            raise ImportRowError(1, name, f"Pflichtspalte fehlt (z. B. {name!r} oder {english!r})")
    return columns


def read_table(path: Path) -> tuple[Iterator[tuple[int, dict[str, str]]], dict[str, Column], str]:
    """Rows as (row number, canonical name -> cell), the header map, and the encoding found."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        reason = os_error_text(exc)
        raise UsageError(f"Datei kann nicht gelesen werden: {path} ({reason})") from exc
    text, encoding = decode(data)
    first_line = text.split("\n", 1)[0]
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=sniff_delimiter(first_line))
    header = next(reader, None)
    if header is None:
        raise UsageError(f"Datei ist leer: {path}")
    columns = header_map(header)

    def rows() -> Iterator[tuple[int, dict[str, str]]]:
        for number, cells in enumerate(reader, start=2):
            if not any(cell.strip() for cell in cells):
                continue
            yield (
                number,
                {
                    name: cells[col.index].strip() if col.index < len(cells) else ""
                    for name, col in columns.items()
                },
            )

    return rows(), columns, encoding


def parse_row(
    number: int, cells: dict[str, str], columns: dict[str, Column], *, today: dt.date
) -> MasterRow:
    """One validated row; raises ImportRowError naming the first bad field."""
    field = _FieldReader(number, cells, columns)
    kind = field.get("art", _kind)
    integer_digits = field.get("vorkommastellen", _digits(1, MAX_INTEGER_DIGITS))
    decimal_digits = field.optional("nachkommastellen", _digits(0, MAX_DECIMAL_DIGITS)) or 0
    last_value = field.optional("letzter_stand", _reading(integer_digits, decimal_digits))
    last_date = field.optional("letzter_stand_datum", _past_date(today))
    if (last_value is None) != (last_date is None):
        missing = "letzter_stand_datum" if last_date is None else "letzter_stand"
        field.fail(missing, "Stand und Datum gehören zusammen; eines fehlt")
    return MasterRow(
        row=number,
        account=field.get("vertragskonto", _account),
        name=field.get("name", _limited(200)),
        email=field.optional("email", _email),
        language=field.optional("sprache", _language) or "de",
        meter=field.get("zaehlernummer", _limited(40)),
        kind=kind,
        unit=field.get("einheit", _unit_for(kind)),
        display=field.optional("anzeige", _display),
        integer_digits=integer_digits,
        decimal_digits=decimal_digits,
        register=field.optional("register", _register) or "1.8.0",
        last_value=last_value,
        last_date=last_date,
        installed_on=field.optional("einbaudatum", parse_date),
        removed_on=field.optional("ausbaudatum", parse_date),
        account_since=field.optional("konto_ab", _past_date(today)),
        installment=field.optional("abschlag", _euros(2)),
        unit_price=field.optional("arbeitspreis", _euros(5)),
        base_price=field.optional("grundpreis", _euros(2)),
    )


class _FieldReader:
    def __init__(self, number: int, cells: dict[str, str], columns: dict[str, Column]) -> None:
        self.number, self.cells, self.columns = number, cells, columns

    def fail(self, name: str, message: str) -> None:
        label = self.columns[name].label if name in self.columns else name
        raise ImportRowError(self.number, label, message)

    def optional(self, name: str, parse: Callable[[str], T]) -> T | None:
        raw = self.cells.get(name, "")
        if not raw:
            return None
        try:
            return parse(raw)
        except (ValueError, InvalidOperation) as exc:
            self.fail(name, f"{raw!r}: {exc}")
            raise AssertionError("unreachable") from exc

    def get(self, name: str, parse: Callable[[str], T]) -> T:
        value = self.optional(name, parse)
        if value is None:
            self.fail(name, "fehlt")
        assert value is not None
        return value


def _euros(places: int) -> Callable[[str], Decimal]:
    """An amount in euros such as `85`, `85,50 €` or `0,3215`: not negative, at most `places`
    decimals (MAX_EURO_DIGITS before the comma)."""

    def parse(raw: str) -> Decimal:
        text = raw.replace("€", "").replace("EUR", "").strip()
        try:
            value = parse_german_decimal(text)
        except (ValueError, InvalidOperation):
            raise ValueError(f"{raw!r}: kein Eurobetrag") from None
        if value < 0 or decimal_places(value) > places or value >= 10**MAX_EURO_DIGITS:
            raise ValueError(f"{raw!r}: Betrag ≥ 0 mit höchstens {places} Nachkommastellen")
        return value

    return parse


def _account(raw: str) -> str:
    value = "".join(raw.split())
    if not _ACCOUNT.match(value):
        raise ValueError("nur Ziffern, Buchstaben, '.', '/', '-' und höchstens 32 Zeichen")
    return value


def _limited(length: int) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        if len(raw) > length:
            raise ValueError(f"länger als {length} Zeichen")
        return raw

    return parse


def _email(raw: str) -> str:
    if len(raw) > 320 or not _EMAIL.match(raw):
        raise ValueError("keine gültige E-Mail-Adresse")
    return raw.lower()


def _language(raw: str) -> str:
    try:
        return LANGUAGES[raw.lower()]
    except KeyError:
        raise ValueError("erlaubt: de, en") from None


def _kind(raw: str) -> str:
    try:
        return KINDS[raw.lower().translate(_UMLAUTS)]
    except KeyError:
        raise ValueError("erlaubt: electricity/Strom, gas/Gas, water/Wasser, heat/Wärme") from None


def _display(raw: str) -> str:
    try:
        return DISPLAYS[raw.lower().translate(_UMLAUTS).replace("-", "")]
    except KeyError:
        raise ValueError("erlaubt: Rollen/mechanisch (drum), digital/LCD (lcd)") from None


def _unit_for(kind: str) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        unit = canonical_unit(raw)
        if unit is None:
            raise ValueError("erlaubt: kWh, MWh, GJ, m3")
        allowed = UNITS_BY_KIND[kind]
        if unit not in allowed:
            expected = " oder ".join(
                [", ".join(allowed[:-1]), allowed[-1]] if allowed[:-1] else allowed
            )
            raise ValueError(f"passt nicht zur Art {KIND_NAMES_DE[kind]} (erwartet {expected})")
        return unit

    return parse


def _digits(low: int, high: int) -> Callable[[str], int]:
    def parse(raw: str) -> int:
        if not raw.isdigit() or not low <= int(raw) <= high:
            raise ValueError(f"ganze Zahl von {low} bis {high} erwartet")
        return int(raw)

    return parse


def parse_amount(raw: str, decimal_digits: int) -> Decimal:
    """German '12.345,6' and '12345,6', or '12345.6'. A single dot followed by exactly three digits
    is a thousands separator ('12.345') unless the meter has three or more decimal digits."""
    text = raw.strip().replace(" ", "").replace("\u00a0", "")
    single_dot = "," not in text and text.count(".") == 1
    if single_dot and len(text.split(".")[1]) == 3 and decimal_digits >= 3:
        return Decimal(text)
    return parse_german_decimal(text)


def _reading(integer_digits: int, decimal_digits: int) -> Callable[[str], Decimal]:
    def parse(raw: str) -> Decimal:
        value = parse_amount(raw, decimal_digits)
        if value < 0 or value >= Decimal(10) ** integer_digits:
            raise ValueError(f"passt nicht in {integer_digits} Vorkommastellen")
        if decimal_places(value) > decimal_digits:
            raise ValueError(f"mehr als {decimal_digits} Nachkommastellen")
        return value

    return parse


def _past_date(today: dt.date) -> Callable[[str], dt.date]:
    def parse(raw: str) -> dt.date:
        value = parse_date(raw)
        if value > today:
            raise ValueError("liegt in der Zukunft")
        return value

    return parse


def _register(raw: str) -> str:
    if not _REGISTER.match(raw):
        raise ValueError("z. B. 1.8.0 (höchstens 10 Zeichen, kein Komma)")
    return raw
