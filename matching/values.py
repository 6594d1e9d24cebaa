"""Pure helpers about values: the photo's value, typed values, OCR alternatives, meter numbers."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from core.types import MeterRead

_MNR_NOISE = re.compile(r"[\s\-./_]")


def photo_value(read: MeterRead | None) -> Decimal | None:
    """The read's value; None when there is none or OCR gave something that is not a number."""
    if read is None or read.reading is None:
        return None
    try:
        return read.value()
    except (ValueError, InvalidOperation):
        return None


def agrees(typed: Decimal, photo: Decimal) -> bool:
    """Whether a typed value confirms the photo: equal, or the photo's integer part typed alone
    (customers often leave out the red decimal drums)."""
    if typed == photo:
        return True
    return typed == typed.to_integral_value() and typed == int(photo)


def normalize_meter_number(number: str) -> str:
    """'1 ESY-1160.123456' -> '1ESY1160123456': the form we compare (stored numbers stay)."""
    return _MNR_NOISE.sub("", number).upper()


def ocr_alternatives(read: MeterRead | None, *, limit: int = 3) -> list[tuple[Decimal, float]]:
    """The most likely other values: the read with one digit replaced by its best alternative.

    Scored by the alternative digit's confidence (the best read itself is not listed).
    """
    if read is None or read.reading is None or not read.digits:
        return []
    shown = list(read.reading + (read.fraction or ""))
    if len(shown) != len(read.digits):
        return []
    found: dict[Decimal, float] = {}
    for position, digit in enumerate(read.digits):
        for alt_value, alt_conf in digit.alternatives[:2]:
            if alt_value == digit.value:
                continue
            chars = shown.copy()
            chars[position] = str(alt_value)
            value = _join(chars, len(read.reading), bool(read.fraction))
            found[value] = max(found.get(value, 0.0), alt_conf)
    best = photo_value(read)
    ranked = sorted(
        ((v, c) for v, c in found.items() if v != best), key=lambda item: item[1], reverse=True
    )
    return ranked[:limit]


def _join(chars: list[str], integer_len: int, has_fraction: bool) -> Decimal:
    integer = "".join(chars[:integer_len])
    if not has_fraction:
        return Decimal(int(integer))
    return Decimal(f"{int(integer)}.{''.join(chars[integer_len:])}")
