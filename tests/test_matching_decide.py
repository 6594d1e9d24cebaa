"""Pure tests: decision policy, plausibility, value helpers. Plain dataclasses, no database."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from core.types import DigitRead, MatchResult, MeterCandidate, MeterRead
from matching import reasons
from matching.decide import decide
from matching.plausibility import MeterSpec, PriorReading, check_value, daily_limit
from matching.values import agrees, normalize_meter_number, ocr_alternatives, photo_value

METER = MeterCandidate(meter_id=7, meter_number="1ESY1", account_number="100")
CONFIDENT = MeterRead(reading="012345", fraction="6", confidence=0.95, accepted=True)
UNSURE = MeterRead(reading="012345", fraction="6", confidence=0.6, accepted=False)


def matched(
    value: str | None = "12345.6",
    source: str | None = "photo",
    codes: tuple[str, ...] = (),
    meter: MeterCandidate | None = METER,
) -> MatchResult:
    return MatchResult(
        customer_id=1,
        meter=meter,
        value=Decimal(value) if value else None,
        value_source=source,  # type: ignore[arg-type]
        reason_codes=codes,
    )


def test_confident_plausible_unambiguous_read_is_accepted() -> None:
    decision = decide(matched(), CONFIDENT, min_confidence=0.9)
    assert decision.outcome == "accept"
    assert decision.value == Decimal("12345.6") and decision.meter_id == 7
    assert decision.reason_codes == ()


@pytest.mark.parametrize(
    "read", [UNSURE, MeterRead(reading="012345", fraction="6", confidence=0.95, accepted=False)]
)
def test_unsure_read_goes_to_review(read: MeterRead) -> None:
    decision = decide(matched(), read, min_confidence=0.9)
    assert decision.outcome == "review"
    assert decision.reason_codes == (reasons.LOW_CONFIDENCE,)
    assert decision.value == Decimal("12345.6")


def test_confidence_threshold_is_the_callers() -> None:
    assert decide(matched(), CONFIDENT, min_confidence=0.99).outcome == "review"


def test_typed_value_confirming_an_unsure_photo_is_accepted() -> None:
    match = matched(codes=(reasons.TYPED_MATCHES_PHOTO,))
    assert decide(match, UNSURE, min_confidence=0.9).outcome == "accept"


def test_typed_value_without_photo_goes_to_review() -> None:
    decision = decide(matched(source="typed"), None, min_confidence=0.9)
    assert decision.outcome == "review"
    assert decision.reason_codes == (reasons.TYPED_WITHOUT_PHOTO,)
    assert decision.value == Decimal("12345.6")


def test_mail_without_photo_and_value_is_rejected() -> None:
    decision = decide(matched(value=None, source=None), None, min_confidence=0.9)
    assert decision.outcome == "reject"
    assert decision.reason_codes == (reasons.NO_CONTENT,)


def test_unreadable_photo_goes_to_review_not_reject() -> None:
    unreadable = MeterRead(reading=None, reason="no_counter_found")
    decision = decide(matched(value=None, source=None), unreadable, min_confidence=0.9)
    assert decision.outcome == "review"
    assert decision.reason_codes == (reasons.UNREADABLE_PHOTO,)
    with_typed = decide(matched(source="typed"), unreadable, min_confidence=0.9)
    assert with_typed.outcome == "review" and with_typed.value == Decimal("12345.6")


def test_matching_codes_block_and_are_kept_in_order() -> None:
    codes = (reasons.UNKNOWN_SENDER, reasons.TYPED_MATCHES_PHOTO, reasons.BELOW_LAST_READING)
    decision = decide(matched(codes=codes), CONFIDENT, min_confidence=0.9)
    assert decision.outcome == "review"
    assert decision.reason_codes == (reasons.UNKNOWN_SENDER, reasons.BELOW_LAST_READING)


def test_no_meter_goes_to_review_even_without_codes() -> None:
    decision = decide(matched(meter=None), CONFIDENT, min_confidence=0.9)
    assert decision.outcome == "review" and decision.meter_id is None
    assert decision.reason_codes == (reasons.NO_METER,)


def test_every_code_has_a_german_label() -> None:
    codes = [v for k, v in vars(reasons).items() if k.isupper() and isinstance(v, str)]
    assert codes and all(code in reasons.LABELS for code in codes)
    assert reasons.label("something_new") == "something_new"


# plausibility ---------------------------------------------------------------------------------

SPEC = MeterSpec(integer_digits=6, decimal_digits=1, unit="kWh")
LAST = PriorReading(Decimal("12000.0"), dt.date(2026, 10, 1))
DAY = dt.date(2026, 11, 1)  # 31 days after LAST


def check(value: str, *, last: PriorReading | None = LAST, day: dt.date = DAY) -> tuple[str, ...]:
    return check_value(Decimal(value), day, meter=SPEC, last=last, max_daily_consumption=500)


def test_normal_consumption_is_plausible() -> None:
    assert check("12310.5") == ()
    assert check("12000.0") == ()  # no consumption is fine


def test_value_must_fit_the_digit_counts() -> None:
    assert check("1000000") == (reasons.TOO_MANY_DIGITS,)
    assert check("12310.55") == (reasons.TOO_MANY_DECIMALS,)
    assert check("-1") == (reasons.NEGATIVE_VALUE,)
    assert check("999999.9", last=None) == ()


def test_below_last_reading_unless_a_plausible_rollover() -> None:
    assert check("11999.9") == (reasons.BELOW_LAST_READING,)
    near_end = PriorReading(Decimal("999800.0"), dt.date(2026, 10, 1))
    assert check("150.0", last=near_end) == (reasons.METER_ROLLOVER,)
    assert check("90000.0", last=near_end) == (reasons.BELOW_LAST_READING,)


def test_consumption_per_day_limit_depends_on_unit() -> None:
    assert check(str(12000 + 31 * 500)) == ()
    assert check(str(12000 + 31 * 500 + 1)) == (reasons.CONSUMPTION_TOO_HIGH,)
    assert daily_limit("m3", 500) == Decimal("50.0")
    water = MeterSpec(integer_digits=5, decimal_digits=3, unit="m3")
    last = PriorReading(Decimal("100"), dt.date(2026, 11, 1))
    assert check_value(Decimal("2100"), dt.date(2026, 11, 2), meter=water, last=last) == (
        reasons.CONSUMPTION_TOO_HIGH,
    )


def test_same_day_counts_as_one_day_and_earlier_date_is_flagged() -> None:
    assert check("12400.0", day=LAST.read_on) == ()
    assert check("12000.0", day=dt.date(2026, 9, 30)) == (reasons.DATE_BEFORE_LAST_READING,)


# values ---------------------------------------------------------------------------------------


def test_typed_value_agrees_with_photo_when_equal_or_integer_part() -> None:
    assert agrees(Decimal("12345.6"), Decimal("12345.6"))
    assert agrees(Decimal("12345"), Decimal("12345.6"))
    assert not agrees(Decimal("12346"), Decimal("12345.6"))
    assert not agrees(Decimal("12345.5"), Decimal("12345.6"))


def test_photo_value_tolerates_garbage() -> None:
    assert photo_value(CONFIDENT) == Decimal("12345.6")
    assert photo_value(MeterRead(reading="12a45")) is None
    assert photo_value(None) is None


def test_meter_numbers_compare_without_separators() -> None:
    assert normalize_meter_number(" 1 esy-1160.123456 ") == "1ESY1160123456"


def test_ocr_alternatives_swap_one_uncertain_digit() -> None:
    digits = tuple(DigitRead(value=int(c), confidence=0.99) for c in "0123")
    uncertain = DigitRead(value=8, confidence=0.5, alternatives=((8, 0.5), (3, 0.4)))
    read = MeterRead(reading="01238", fraction=None, digits=(*digits, uncertain))
    assert ocr_alternatives(read) == [(Decimal("1233"), 0.4)]
    assert ocr_alternatives(MeterRead(reading="1")) == []
