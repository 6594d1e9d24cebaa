"""Plausibility-aware decoding on plain values: the history chooses among what the OCR saw."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from decimal import Decimal

import pytest

from core.types import DigitRead, MeterRead
from matching import reasons
from matching.decoding import (
    confident,
    consumption_spread,
    decode,
    integer_rivals,
    prior,
    register_value,
    value_density,
)
from matching.expectation import Point, expect
from matching.plausibility import MeterSpec

WATER = MeterSpec(5, 0, "m3")
SURE = 0.999  # a read this sure leaves (almost) no room for values the OCR did not offer
EXP = expect(
    "water", WATER, "1.8.0", dt.date(2026, 11, 20),
    [Point(Decimal(100), dt.date(2025, 11, 20)), Point(Decimal(150), dt.date(2026, 5, 20))],
)  # fmt: skip  # band about 161 … 303


def read(
    reading: str,
    doubts: dict[int, tuple[int, float]],
    *,
    accepted: bool = False,
    confidence: float = SURE,
) -> MeterRead:
    digits = []
    for position, char in enumerate(reading):
        value = int(char)
        if position in doubts:
            other, doubt = doubts[position]
            alternatives = ((value, 1 - doubt), (other, doubt))
            digits.append(DigitRead(value, 1 - doubt, alternatives))
        else:
            digits.append(DigitRead(value, 0.99, ((value, 0.99),)))
    return MeterRead(
        reading=reading, confidence=confidence, accepted=accepted, digits=tuple(digits)
    )


def test_a_value_in_the_band_is_kept_and_its_unsettled_doubt_measured() -> None:
    decoded = decode(read("00200", {3: (1, 0.3)}), EXP, "water", WATER)  # 00210 fits as well
    rival = 0.3 / 0.7 * prior(Decimal(210), EXP) / prior(Decimal(200), EXP)
    assert (decoded.value, decoded.codes) == (Decimal(200), ())
    assert decoded.doubt == pytest.approx(rival / (1 + rival), abs=1e-3) and decoded.doubt > 0.1
    assert not confident(
        read("00200", {3: (1, 0.3)}), decoded, EXP, min_confidence=0.9, max_doubt=0.1
    )


def test_a_doubt_the_band_settles_does_not_count() -> None:
    doubtful = read("00200", {1: (9, 0.4)})  # 09200 is far above the band
    decoded = decode(doubtful, EXP, "water", WATER)
    assert decoded.doubt == pytest.approx(0.0, abs=1e-3)
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


def test_the_doubt_weighs_every_value_the_ocr_saw_that_fits() -> None:
    # 00210 and 00201 both fit the band: their relative weights 0.2/0.8 and 0.1/0.9 add up
    doubtful = read("00200", {3: (1, 0.2), 4: (1, 0.1)})
    decoded = decode(doubtful, EXP, "water", WATER)
    weights = {210: 0.2 / 0.8, 201: 0.1 / 0.9, 211: (0.2 / 0.8) * (0.1 / 0.9)}  # 00211 fits too
    rivals = sum(w * prior(Decimal(v), EXP) / prior(Decimal(200), EXP) for v, w in weights.items())
    assert decoded.doubt == pytest.approx(rivals / (1 + rivals), abs=1e-3)
    assert dict(integer_rivals(doubtful)) == pytest.approx(
        {210: 0.25, 201: 0.1 / 0.9, 211: 0.25 * 0.1 / 0.9}
    )


def test_the_photo_must_support_a_value_on_its_own() -> None:
    doubtless = read("00200", {}, confidence=0.5)  # no alternative offered
    decoded = decode(doubtless, EXP, "water", WATER)
    assert decoded.doubt < 0.2
    for floor, booked in ((0.4, True), (0.6, False)):
        assert (
            confident(
                doubtless,
                decoded,
                EXP,
                min_confidence=0.9,
                max_doubt=0.2,
                min_photo_confidence=floor,
            )
            is booked
        )


def test_the_history_weighs_values_near_the_expected_use_more() -> None:
    assert EXP.last_value is not None and EXP.expected_consumption is not None
    expected = EXP.last_value + EXP.expected_consumption
    assert prior(expected, EXP) > prior(expected + 60, EXP) > 0
    assert prior(EXP.last_value - 1, EXP) == 0


def test_a_display_value_is_cut_to_the_registers_decimals() -> None:
    shown = MeterRead(reading="00200", fraction="57", confidence=0.95, accepted=True)
    decoded = decode(shown, EXP, "water", WATER, display="lcd")
    assert (decoded.value, decoded.codes) == (Decimal(200), ())
    assert register_value(Decimal("200.57"), MeterSpec(5, 1, "m3"), "lcd") == Decimal("200.5")
    as_drums = decode(shown, EXP, "water", WATER, display="drum")  # a red drum too many
    assert as_drums.codes == (reasons.TOO_MANY_DECIMALS,)


def test_the_history_vouches_for_a_short_read_only_within_a_decade() -> None:
    short = read("200", {})  # three of the meter's five drums: one may have been taken for red
    decoded = decode(short, EXP, "water", WATER)
    assert (decoded.value, decoded.codes) == (Decimal(200), ()) and decoded.doubt < 0.01
    wide = replace(EXP, high=Decimal(1700))  # 2000 or 20 would be in it too
    for exp, drums, booked in ((EXP, 5, True), (wide, 5, False), (wide, 3, True)):
        assert (
            confident(
                short,
                decoded,
                exp,
                min_confidence=0.9,
                max_doubt=0.15,
                min_photo_confidence=0.2,
                drums=drums,
            )
            is booked
        )


def test_an_unsure_read_leaves_room_for_values_the_ocr_did_not_offer() -> None:
    # no alternative offered: the less sure the OCR, the more the band's other values weigh
    doubts = [
        decode(read("00200", {}, confidence=c), EXP, "water", WATER).doubt for c in (0.9, 0.5)
    ]
    assert 0 < doubts[0] < doubts[1]
    # a short period since the last reading leaves few values in the band: less room for doubt
    recent = expect(
        "water", WATER, "1.8.0", dt.date(2026, 11, 20),
        [Point(Decimal(100), dt.date(2025, 11, 10)), Point(Decimal(197), dt.date(2026, 11, 10))],
    )  # fmt: skip  # about 2.7 m³ expected
    assert decode(read("00200", {}, confidence=0.5), recent, "water", WATER).doubt < doubts[1]


def test_a_read_far_from_the_expected_use_is_doubted_though_in_the_band() -> None:
    assert EXP.high is not None and Decimal(290) < EXP.high  # 140 m³ where about 51 are expected
    far = decode(read("00290", {}, confidence=0.9), EXP, "water", WATER)
    near = decode(read("00200", {}, confidence=0.9), EXP, "water", WATER)
    assert far.codes == () and far.doubt > 0.5 > near.doubt


def test_the_history_is_surer_of_the_use_the_more_periods_it_has() -> None:
    wide, narrow = (replace(EXP, periods=n) for n in (1, 3))
    assert consumption_spread(narrow, 0.15) < consumption_spread(wide, 0.15)
    # a tiny expected use is dominated by the last reading's resolution (whole m³)
    tiny = replace(EXP, expected_consumption=Decimal("0.5"))
    assert consumption_spread(tiny, 0.15) > 0.5


def test_the_value_density_is_a_density_over_the_counter_that_compares_across_meters() -> None:
    steps = [Decimal(150) + Decimal(i) / 10 for i in range(1, 4000)]  # 150.1 … 549.9
    total = sum(value_density(v, EXP) or 0.0 for v in steps) / 10
    assert total == pytest.approx(1.0, abs=0.01)  # normalised: meters' densities compare
    near, far = value_density(Decimal(201), EXP), value_density(Decimal(290), EXP)
    assert near is not None and far is not None and near > 10 * far  # both in the band
    last = Point(Decimal(150), dt.date(2026, 5, 20))
    one_reading = expect("water", WATER, "1.8.0", dt.date(2026, 11, 20), [last])
    assert one_reading.high is not None  # the kind's widest band, evenly
    assert value_density(Decimal(160), one_reading) == value_density(Decimal(200), one_reading)
    assert value_density(Decimal(150), EXP) is None  # no use: the density says nothing


def red(
    reading: str,
    fraction: str,
    confidences: list[float],
    alternatives: dict[int, tuple[int, float]],
) -> MeterRead:
    """A drum read with per-digit confidences (integer drums then red drums) and alternatives."""
    digits = []
    for position, (char, sure) in enumerate(zip(reading + fraction, confidences, strict=True)):
        others = (alternatives[position],) if position in alternatives else ()
        digits.append(DigitRead(int(char), sure, ((int(char), sure), *others)))
    return MeterRead(
        reading=reading, fraction=fraction, confidence=0.6, accepted=False, digits=tuple(digits),
        display="drum",
    )  # fmt: skip


def test_a_turning_last_drum_is_settled_by_the_red_drum() -> None:
    sure = [0.99] * 5
    just_turned = red("00212", "04", [*sure[:4], 0.7, 0.9, 0.9], {4: (1, 0.3), 5: (9, 0.05)})
    assert dict(integer_rivals(just_turned))[211] == pytest.approx(0.3 / 0.7 * 0.05 / 0.9)
    turning = red("00212", "94", [*sure[:4], 0.7, 0.9, 0.9], {4: (3, 0.3), 5: (0, 0.05)})
    assert dict(integer_rivals(turning))[213] == pytest.approx(0.3 / 0.7 * 0.05 / 0.9)
    mid_way = red("00212", "44", [*sure[:4], 0.7, 0.9, 0.9], {4: (3, 0.3)})  # a misread
    assert dict(integer_rivals(mid_way))[213] == pytest.approx(0.3 / 0.7)
    display = replace(just_turned, display="lcd")  # a display's digits do not turn
    assert dict(integer_rivals(display))[211] == pytest.approx(0.3 / 0.7)
