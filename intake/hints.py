"""What the customer typed: contract account numbers, meter numbers and readings (German formats).

Pure functions over plain strings. Account and meter numbers, amounts in euros, phone numbers, times
and ISO dates (`intake.typed_values.NOT_READINGS`) are found first and masked out, so they are never
mistaken for a reading. A number is taken as a reading only when a keyword ("Zählerstand", "Stand",
"abgelesen", "richtig ist") or a unit ("kWh", "m³") says so; dates, years, OBIS codes, phone numbers
and postal codes next to a keyword are skipped. Quoted text of an earlier mail is not read.
"""

from __future__ import annotations

import re
from decimal import Decimal

from core.formatting import parse_german_decimal
from core.types import TextHints
from intake.typed_values import NOT_READINGS, YEAR, unquoted
from matching.units import canonical

MAX_TEXT = 20_000  # hints come from the first part of a mail only

_SEP = r"[\s:.#=\-]*"
_ACCOUNT_KEYWORD = (
    r"(?:Vertrags[\s-]?konto(?:[\s-]?(?:nummer|nr\.?))?|VK[\s-]?Nr\.?|VKNR|VK\b|Vertragsnummer|"
    r"Vertrags[\s-]?Nr\.?|Kunden[\s-]?(?:nummer|nr\.?)|Kd\.?[\s-]?Nr\.?)"
)
_ACCOUNT = re.compile(
    _ACCOUNT_KEYWORD
    + _SEP
    + r"(?:lautet|ist)?"
    + _SEP
    + r"(\d{6,14}|\d{3,4}(?:[ ]\d{2,4}){1,3})\b",
    re.IGNORECASE,
)
_METER_KEYWORD = (
    r"(?:Z(?:ä|ae|a)hler[\s-]?(?:nummer|nr\.?|id)|Ger(?:ä|ae)te[\s-]?(?:nummer|nr\.?)|"
    r"Z(?:ä|ae)hler)"
)
_UNIT = r"(?:kWh|KWh|kwh|m³|m3|cbm|Kubikmeter)\b"
_METER = re.compile(
    _METER_KEYWORD
    + _SEP
    + r"(?:lautet|ist)?"
    + _SEP
    + r"([0-9][0-9A-Z]{5,20}|[A-Z]{1,4}[0-9]{5,16})\b(?![.,]\d|\s?"
    + _UNIT
    + ")",
    re.IGNORECASE,
)
# DIN 43863-5 device id: 1 ESY 1160123456 (sparte, manufacturer, 10 digits), spaces optional
_METER_DIN = re.compile(r"\b([0-9])\s?([A-Z]{3})\s?(\d{2})\s?(\d{4})\s?(\d{4})\b", re.IGNORECASE)

_NUMBER = r"(?:\d{1,3}(?:\.\d{3})+(?:,\d{1,4})?|\d+,\d{1,4}|\d+\.\d{1,4}|\d+)"
_DATE = r"\d{1,2}\.\d{1,2}\.(?:\d{4}|\d{2})\b"
_OBIS = r"(?:\d-\d:)?\d\.\d\.\d\b"
_READING_KEYWORD = (
    r"\b(?:Z(?:ä|ae)hler[\s-]?stand|Stand|abgelesen|Ablesewert|Ablesung|richtig|korrekt)"
)
_FILLER = (
    r"(?:[\s:=\-()]+|\b(?:ist|beträgt|betr(?:ä|ae)gt|lautet|heute|aktuell|neu|vom|am|per|zum|"
    r"von|bei|ca\.?|etwa|w(?:ä|ae)re|der|die|das|Wert|Stand)\b|"
    + "|".join((_DATE, _OBIS, YEAR, r"#+(?:\s?Uhr\b)?"))
    + r")*"
)
_BEFORE = r"(?<![\d.,+/])"
_AFTER = r"(?![\d]|[.,]\d|\s?/|[ ]\d)"
_KEYWORD_READING = re.compile(
    _READING_KEYWORD + r"\w*" + _FILLER + _BEFORE + "(" + _NUMBER + ")" + _AFTER, re.IGNORECASE
)
_UNIT_READING = re.compile(_BEFORE + "(" + _NUMBER + r")\s?" + _UNIT)
_UNIT_WRITTEN = re.compile(r"[ \t\u00a0]?(kWh|MWh|GJ|m³|m3|cbm|Kubikmeter)\b", re.IGNORECASE)
_CONSUMPTION = re.compile(r"verbrauch|abschlag|€|euro|preis|ct/", re.IGNORECASE)


def _unique(values: list[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(values))


def find_account_numbers(text: str) -> tuple[str, ...]:
    """'Vertragskonto 123456789' -> ('123456789',); digits only, spaces removed."""
    return _unique([m.group(1).replace(" ", "") for m in _ACCOUNT.finditer(text[:MAX_TEXT])])


def _normalise_meter(raw: str) -> str:
    return re.sub(r"\s", "", raw).upper()


def find_meter_numbers(text: str) -> tuple[str, ...]:
    """'Zählernummer: 12345678' and DIN ids such as '1ESY1160123456' (normalised upper-case)."""
    text = text[:MAX_TEXT]
    found: list[tuple[int, str]] = []
    for match in _METER.finditer(text):
        token = match.group(1)
        if sum(c.isdigit() for c in token) >= 4:
            found.append((match.start(1), _normalise_meter(token)))
    for match in _METER_DIN.finditer(text):
        found.append((match.start(), _normalise_meter(match.group(0))))
    return _unique([value for _, value in sorted(found)])


def _mask(text: str, patterns: tuple[tuple[re.Pattern[str], int], ...]) -> str:
    """Blank out the numbers of matches, keeping offsets, so they cannot be read as readings."""
    chars = list(text)
    for pattern, group in patterns:
        for match in pattern.finditer(text):
            for i in range(match.start(group), match.end(group)):
                chars[i] = "#"
    return "".join(chars)


def _line_of(text: str, pos: int) -> str:
    start = text.rfind("\n", 0, pos) + 1
    end = text.find("\n", pos)
    return text[start : end if end >= 0 else len(text)]


def find_readings(text: str) -> tuple[Decimal, ...]:
    """Typed readings: 'Zählerstand: 12.345,6', '12345 kWh', '123,45 m³' -> Decimals, in order."""
    return tuple(value for value, _ in find_typed_readings(text))


def find_typed_readings(text: str) -> tuple[tuple[Decimal, str | None], ...]:
    """Typed readings with the unit written right after each ('12.345,6 kWh' -> kWh, '4 cbm' ->
    m3, as `matching.units` spells them): distinct values, in order; the unit None where none
    was written, or a value typed twice was written with two units."""
    masks = ((_ACCOUNT, 1), (_METER, 1), (_METER_DIN, 0), *((p, 0) for p in NOT_READINGS))
    masked = _mask(text[:MAX_TEXT], masks)
    found: list[tuple[int, int, str]] = []
    for match in _KEYWORD_READING.finditer(masked):
        found.append((match.start(1), match.end(1), match.group(1)))
    for match in _UNIT_READING.finditer(masked):
        line = _line_of(masked, match.start(1))
        if _CONSUMPTION.search(line) and not re.search(_READING_KEYWORD, line, re.IGNORECASE):
            continue
        found.append((match.start(1), match.end(1), match.group(1)))
    units: dict[Decimal, set[str]] = {}
    seen: set[int] = set()
    for start, end, raw in sorted(found):
        if start in seen:
            continue
        seen.add(start)
        try:
            value = parse_german_decimal(raw)
        except ValueError:
            continue
        unit = _unit_after(masked, end)
        units.setdefault(value, set()).update([unit] if unit else [])
    return tuple((value, next(iter(u)) if len(u) == 1 else None) for value, u in units.items())


def _unit_after(text: str, pos: int) -> str | None:
    match = _UNIT_WRITTEN.match(text, pos)
    return canonical(match.group(1)) if match else None


def extract_hints(*texts: str) -> TextHints:
    """Hints from subject and body together (subject first), quoted earlier mails left out."""
    joined = unquoted("\n".join(t for t in texts if t))
    readings = find_typed_readings(joined)
    return TextHints(
        account_numbers=find_account_numbers(joined),
        meter_numbers=find_meter_numbers(joined),
        readings=tuple(value for value, _ in readings),
        reading_units=tuple(unit for _, unit in readings),
    )
