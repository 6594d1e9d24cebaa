"""Numbers a customer types that are not readings, and text that is not the customer's own.

Pure functions over plain strings, used by `intake.hints`:
- `unquoted`: the customer's own words of a reply, without quoted lines (`> …`) and without the
  quoted earlier mail below an attribution line ("Am … schrieb …:", "-----Ursprüngliche
  Nachricht-----", an Outlook "Von: … Gesendet: …" block);
- `without_lines_of`: a text without the lines it shares with our own earlier mail (a reply that
  quotes our confirmation without `>` marks);
- `NOT_READINGS`: patterns whose numbers are blanked before readings are looked for: amounts in
  euros, percentages, times of day, phone numbers, ISO dates;
- `YEAR`: a year next to a reading keyword ("Zählerstand 2026: 12.345,6") is skipped like a date;
- `says_correction`: the customer says a value we confirmed is wrong.
"""

from __future__ import annotations

import re

_ATTRIBUTION = re.compile(
    r"^\s*(?:"
    r"am\s.{0,120}\s(?:schrieb|wrote|hat\s.{0,80}\sgeschrieben)\b.*:\s*$|"
    r"on\s.{0,120}\swrote:\s*$|"
    r"-{2,}\s*(?:urspr(?:ü|ue)ngliche\s+nachricht|original\s+message|"
    r"weitergeleitete\s+nachricht|forwarded\s+message)\s*-{2,}.*$|"
    r"_{10,}\s*$"
    r")",
    re.IGNORECASE,
)
_OUTLOOK_FROM = re.compile(r"^\s*(?:von|from)\s*:\s*\S", re.IGNORECASE)
_OUTLOOK_NEXT = re.compile(r"^\s*(?:gesendet|sent|datum|date|an|to)\s*:", re.IGNORECASE)


def unquoted(text: str) -> str:
    """The text above the quoted earlier mail, without `>`-quoted lines."""
    lines = text.splitlines()
    kept: list[str] = []
    for index, line in enumerate(lines):
        if _ATTRIBUTION.match(line) or _outlook_header(lines, index):
            break
        if line.lstrip().startswith(">"):
            continue
        kept.append(line)
    return "\n".join(kept)


def _outlook_header(lines: list[str], index: int) -> bool:
    """'Von: …' followed within two lines by 'Gesendet:'/'An:': a quoted mail's header block."""
    if not _OUTLOOK_FROM.match(lines[index]):
        return False
    return any(_OUTLOOK_NEXT.match(line) for line in lines[index + 1 : index + 3])


def _normalised(line: str) -> str:
    return " ".join(line.lstrip("> \t").split()).casefold()


def without_lines_of(text: str, ours: str) -> str:
    """`text` without the lines (compared ignoring whitespace, case and `>`) that also occur in
    our earlier mail `ours`."""
    our_lines = {_normalised(line) for line in ours.splitlines() if line.strip()}
    return "\n".join(line for line in text.splitlines() if _normalised(line) not in our_lines)


_NUMBERISH = r"\d[\d.,]*"
NOT_READINGS: tuple[re.Pattern[str], ...] = (
    # amounts: 45,50 €, 45 EUR, € 45, EUR 45,-, 45 Euro
    re.compile(r"(?:€|\bEUR\b)\s?" + _NUMBERISH + r"(?:,-+)?", re.IGNORECASE),
    re.compile(_NUMBERISH + r"(?:,-+)?\s?(?:€|\bEUR\b|\bEuro\b|\bCent\b|\bct\b)", re.IGNORECASE),
    # percentages and times of day: 19 %, 10:30 Uhr, 10.30 Uhr, 10 Uhr
    re.compile(_NUMBERISH + r"\s?(?:%|Prozent\b)", re.IGNORECASE),
    re.compile(r"\b\d{1,2}(?:[:.]\d{2})?\s?Uhr\b", re.IGNORECASE),
    re.compile(r"\b\d{1,2}:\d{2}\b"),
    # phone numbers after a keyword, international ones, and area code + number
    re.compile(
        r"(?:Tel(?:efon)?|Telefonnummer|Rufnummer|Handy|Mobil(?:nummer)?|Fax|Festnetz)\.?"
        r"[\s:.-]*(?:\+|\(?0)[\d\s/()\-]{5,}\d",
        re.IGNORECASE,
    ),
    re.compile(r"\+\d{2}[\s\d/()\-]{6,}\d"),
    re.compile(r"\b0\d{2,5}\s?[/\-]\s?\d{3,}(?:[\s\-]\d+)*\b"),
    # ISO dates: 2026-12-01
    re.compile(r"\b\d{4}-\d{2}-\d{2}\b"),
)

# a year next to a reading keyword ("Zählerstand 2026", "Stand für das Jahr 2025:"); skipped like a
# date when a reading follows it
YEAR = (
    r"(?:(?:f(?:ü|ue)r|das|des|im|Jahr(?:es)?|Ende|Anfang|Stichtag|Abrechnung(?:sjahr)?)\s+)*"
    r"(?:19[89]\d|20\d\d)(?![\d.,]\d)(?:\s*(?:…|\.{2,}|[:;,\-–]))*"
)

_CORRECTION = re.compile(
    r"\b(?:falsch|fehlerhaft|nicht\s+(?:richtig|korrekt|stimmt)|stimmt\s+nicht|"
    r"korrigier\w*|korrektur\w*|berichtig\w*|richtig\s+(?:ist|wäre|waere|lautet)|"
    r"tippfehler|vertippt|verschrieben|verlesen|wrong|incorrect|mistake|correction)\b",
    re.IGNORECASE,
)


def says_correction(text: str) -> bool:
    """The customer says a value is wrong: 'der Stand ist falsch', 'bitte korrigieren', …"""
    return bool(_CORRECTION.search(text))
