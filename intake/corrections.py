"""Is a reply to our confirmation a correction? Read from the customer's own words.

A reply to a confirmation (`matching.corrections.confirmed_readings`) is a correction when the
customer says the value is wrong ("der Stand ist falsch", "bitte korrigieren"), or types another
value without sending a new photo. Lines quoted from our confirmation are never read as the new
value. A reply with a new photo and no such words is a new reading, handled as any other mail.

A confirmation may list several readings (a water and an electricity photo in one mail, both
registers of an HT/NT meter). The correction is of the one the customer's words point at: a meter
number, the register (HT/NT, `1.8.1`), the kind of meter ("Strom", "Gaszähler"), the unit typed
with the value, else the one whose value the new value is closest to.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal

from sqlalchemy.orm import Session

from core.types import Submission
from intake.hints import find_meter_numbers, find_typed_readings
from intake.typed_values import says_correction, unquoted, without_lines_of
from matching.corrections import BookedReading, Correction, confirmed_readings
from matching.units import quantity
from matching.values import normalize_meter_number

_REGISTER_WORDS = {
    "1.8.1": re.compile(r"\bHT\b|hochtarif|tagstrom|tagtarif|\b1\.8\.1\b", re.IGNORECASE),
    "1.8.2": re.compile(r"\bNT\b|niedertarif|nachtstrom|nachttarif|\b1\.8\.2\b", re.IGNORECASE),
}
_KIND_WORDS = {
    "electricity": re.compile(r"\bstrom", re.IGNORECASE),
    "gas": re.compile(r"\bgas", re.IGNORECASE),
    "water": re.compile(r"wasser", re.IGNORECASE),
    "heat": re.compile(r"w(?:ä|ae)rme|heizung", re.IGNORECASE),
}


def correction_for(session: Session, submission: Submission) -> Correction | None:
    """The correction this mail asks for, or None when it is none."""
    booked = confirmed_readings(session, submission.references)
    if not booked:
        return None
    return judge_reply(submission.body_text, booked, has_photo=bool(submission.images))


def judge_reply(
    body: str, booked: BookedReading | Sequence[BookedReading], *, has_photo: bool
) -> Correction | None:
    """Pure: the correction in `body` (a reply to the confirmation of `booked`), if any."""
    readings = (booked,) if isinstance(booked, BookedReading) else tuple(booked)
    own = without_lines_of(unquoted(body), readings[0].confirmation_text)
    typed = find_typed_readings(own)
    target = aimed_at(own, readings, typed)
    others = [value for value, _ in typed if value != target.value]
    new_value = others[0] if others else None
    if says_correction(own) or (new_value is not None and not has_photo):
        return Correction(booked=target, new_value=new_value)
    return None


def aimed_at(
    own: str, readings: Sequence[BookedReading], typed: Sequence[tuple[Decimal, str | None]]
) -> BookedReading:
    """The confirmed reading the customer's own words are about (the first when they do not
    say); `typed`: the values typed, each with the unit written after it."""
    said: list[tuple[set[str], Callable[[BookedReading], str]]] = [
        (set(find_meter_numbers(own)), lambda r: normalize_meter_number(r.meter_number)),
        (_named(_REGISTER_WORDS, own), lambda r: r.register),
        (_named(_KIND_WORDS, own), lambda r: r.kind),
        ({quantity(unit) or "" for _, unit in typed if unit}, lambda r: quantity(r.unit) or ""),
    ]
    left = list(readings)
    for wanted, key in said:
        narrowed = [r for r in left if key(r) in wanted]
        if narrowed:
            left = narrowed
    new = [value for value, _ in typed if all(value != r.value for r in left)]
    if len(left) > 1 and new:
        left = [min(left, key=lambda r: _distance(r.value, new[0]))]
    return left[0]


def _named(words: Mapping[str, re.Pattern[str]], own: str) -> set[str]:
    return {name for name, pattern in words.items() if pattern.search(own)}


def _distance(old: Decimal, new: Decimal) -> Decimal:
    """How far apart two readings are, relative to their size (magnitudes compare across units)."""
    return abs(new - old) / max(abs(old), abs(new), Decimal(1))
