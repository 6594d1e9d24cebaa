"""Plausibility-aware decoding on plain values: the history chooses among what the OCR saw."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from core.types import DigitRead, MeterRead
from matching import reasons
from matching.decoding import confident, decode
from matching.expectation import Point, expect
from matching.plausibility import MeterSpec

WATER = MeterSpec(5, 0, "m3")
EXP = expect(
    "water", WATER, "1.8.0", dt.date(2026, 11, 20),
    [Point(Decimal(100), dt.date(2025, 11, 20)), Point(Decimal(150), dt.date(2026, 5, 20))],
)  # fmt: skip  # band about 161 … 303


def read(
    reading: str, doubts: dict[int, tuple[int, float]], *, accepted: bool = False
) -> MeterRead:
    digits = []
    for position, char in enumerate(reading):
        value = int(char)
        if position in doubts:
            other, confidence = doubts[position]
            alternatives = ((value, 1 - confidence), (other, confidence))
            digits.append(DigitRead(value, 1 - confidence, alternatives))
        else:
            digits.append(DigitRead(value, 0.99, ((value, 0.99),)))
    return MeterRead(reading=reading, confidence=0.5, accepted=accepted, digits=tuple(digits))


def test_a_value_in_the_band_is_kept_and_its_unsettled_doubt_measured() -> None:
    decoded = decode(read("00200", {3: (1, 0.3)}), EXP, "water", WATER)  # 00210 fits as well
    assert (decoded.value, decoded.codes, decoded.doubt) == (Decimal(200), (), 0.3)
    assert not confident(
        read("00200", {3: (1, 0.3)}), decoded, EXP, min_confidence=0.9, max_doubt=0.1
    )


def test_a_doubt_the_band_settles_does_not_count() -> None:
    doubtful = read("00200", {1: (9, 0.4)})  # 09200 is far above the band
    decoded = decode(doubtful, EXP, "water", WATER)
    assert decoded.doubt == 0.0
    assert confident(doubtful, decoded, EXP, min_confidence=0.9, max_doubt=0.1)


def test_the_history_vetoes_and_proposes_the_one_alternative_that_fits() -> None:
    decoded = decode(read("00800", {2: (2, 0.3)}, accepted=True), EXP, "water", WATER)
    assert (decoded.value, decoded.codes) == (Decimal(200), (reasons.PRIOR_CHOSE_ALTERNATIVE,))
    assert decoded.from_alternative


def test_the_history_never_invents_a_digit() -> None:
    decoded = decode(read("00800", {}, accepted=True), EXP, "water", WATER)
    assert (decoded.value, decoded.codes) == (Decimal(800), (reasons.CONSUMPTION_ABOVE_EXPECTED,))
    two = read("00800", {2: (2, 0.3), 4: (9, 0.2)}, accepted=True)  # 00200 and 00809: only one fits
    assert decode(two, EXP, "water", WATER).value == Decimal(200)


def test_without_history_only_the_ocr_can_accept() -> None:
    nothing = expect("water", WATER, "1.8.0", dt.date(2026, 11, 20), [])
    doubtless = read("00200", {})
    decoded = decode(doubtless, nothing, "water", WATER)
    assert not confident(doubtless, decoded, nothing, min_confidence=0.9, max_doubt=0.1)
    sure = read("00200", {}, accepted=True)
    sure = MeterRead(reading="00200", confidence=0.95, accepted=True, digits=sure.digits)
    assert confident(
        sure, decode(sure, nothing, "water", WATER), nothing, min_confidence=0.9, max_doubt=None
    )
