"""The likelihood of a photo's value under each candidate meter, and what a display's unit and
register code say about a meter (pure)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from core.types import Expectation, Hypothesis, MeterProfile, MeterRead
from matching import reasons
from matching.decoding import MIN_METER_ODDS
from matching.display_evidence import label_evidence
from matching.meter_likelihood import OUTLIER_SHARE, likelihood, open_density, yearly_use
from matching.red_drums import MISSED_RED_SHARE, red_drums_likelihood

TODAY = dt.date(2026, 11, 20)


def meter(
    kind: str, unit: str, digits: int = 6, registers: tuple[str, ...] = ("1.8.0",)
) -> MeterProfile:
    return MeterProfile(1, "M-1", "100", 1, kind, unit, digits, 0, "lcd", registers)


def hypothesis(value: str, exp: Expectation, codes: tuple[str, ...] = ()) -> Hypothesis:
    return Hypothesis(
        meter_id=1, meter_number="M-1", register="1.8.0", integer_digits=6, display="lcd",
        value=Decimal(value), confidence=0.99, ocr_accepted=True, fit="in_band", codes=codes,
        expectation=exp,
    )  # fmt: skip


def test_a_yearly_use_is_counted_in_the_meters_unit() -> None:
    assert yearly_use("heat", "kWh") == Decimal(12000)
    assert yearly_use("heat", "MWh") == Decimal(12)
    assert yearly_use("gas", "kWh") == Decimal(15000)
    assert yearly_use("water", "m3", highest=True) == Decimal(400)


def test_a_meter_without_readings_makes_small_counts_likelier_the_less_its_kind_uses() -> None:
    water, heat = meter("water", "m3", 5), meter("heat", "kWh")
    assert open_density(Decimal(215), water) > 10 * open_density(Decimal(215), heat)
    assert open_density(Decimal(50), heat) == open_density(Decimal(5000), heat)  # young meter
    assert open_density(Decimal(120000), heat) < open_density(Decimal(12000), heat)
    assert open_density(Decimal(1_000_000), heat) == 0.0  # more than six digits show
    assert open_density(Decimal(25000), water) == 0.0  # more than 16 years of any household's


def test_a_value_below_the_last_reading_cannot_be_the_meters() -> None:
    exp = Expectation(
        register="1.8.0", read_on=TODAY, basis="history", last_value=Decimal(5000),
        last_read_on=TODAY - dt.timedelta(days=180), expected_consumption=Decimal(1750),
        low=Decimal(5400), high=Decimal(10300), per_day=Decimal("9.6"), periods=2,
    )  # fmt: skip
    profile = meter("electricity", "kWh")
    assert likelihood(hypothesis("215", exp), profile) == 0.0
    assert likelihood(hypothesis("215", exp, (reasons.METER_ROLLOVER,)), profile) is None
    far = likelihood(hypothesis("60000", exp), profile)  # far above: only as an outlier
    assert far is not None
    assert far >= OUTLIER_SHARE * open_density(Decimal(60000), profile)
    expected = likelihood(hypothesis("6750", exp), profile)
    assert expected is not None and expected > 100 * far


def test_a_unit_of_another_quantity_rules_a_meter_out() -> None:
    shown = MeterRead(reading="215", confidence=0.9, unit="m³")
    assert label_evidence(meter("heat", "kWh"), "1.8.0", shown) == ["unit_differs"]
    assert label_evidence(meter("water", "m3"), "1.8.0", shown) == []
    assert label_evidence(meter("heat", "MWh"), "1.8.0", MeterRead("215", unit="MWh")) == []
    in_gigajoule = MeterRead("215", unit="GJ")  # 215 GJ are 59.7 MWh
    assert label_evidence(meter("heat", "MWh"), "1.8.0", in_gigajoule) == ["unit_differs"]


def test_an_electricity_register_code_names_the_register_and_the_kind() -> None:
    shown = MeterRead(reading="11500", confidence=0.9, obis="1.8.2")
    two = meter("electricity", "kWh", registers=("1.8.1", "1.8.2"))
    assert label_evidence(two, "1.8.2", shown) == ["register_shown"]
    assert label_evidence(two, "1.8.1", shown) == ["other_register_shown"]
    assert label_evidence(meter("water", "m3"), "1.8.0", shown) == ["obis_differs"]
    assert label_evidence(two, "1.8.1", MeterRead(reading="11500")) == []
    fed_in = MeterRead(reading="11500", confidence=0.9, obis="2.8.0")
    assert label_evidence(meter("electricity", "kWh"), "1.8.0", fed_in) == ["other_register_shown"]
    tariff = MeterRead(reading="11500", confidence=0.9, obis="1.8.1")
    assert label_evidence(meter("electricity", "kWh"), "1.8.0", tariff) == []


def test_a_meter_without_readings_never_beats_its_own_kind_on_the_others_history_alone() -> None:
    # a value far outside a water meter's band is an outlier there, at worst OUTLIER_SHARE as
    # likely as on an unread water meter: not enough odds to book it on the unread one
    assert OUTLIER_SHARE * MIN_METER_ODDS > 1


def test_red_drums_the_photo_lacks_make_a_meter_less_likely_the_more_it_lacks() -> None:
    gas = MeterProfile(1, "G-1", "1", 1, "gas", "m3", 5, 3, "drum", ("1.8.0",))
    display = MeterProfile(2, "E-2", "1", 1, "electricity", "kWh", 6, 1, "lcd", ("1.8.0",))

    def drum_read(fraction: str) -> MeterRead:
        return MeterRead(reading="07064", fraction=fraction, confidence=0.99, display="drum")

    shown = [red_drums_likelihood(drum_read(f), gas) for f in ("012", "01", "0", "")]
    assert shown[0] == 1.0 and shown == sorted(shown, reverse=True)
    assert shown[2] == MISSED_RED_SHARE[2] / MISSED_RED_SHARE[0] < 0.1  # one of three found
    assert red_drums_likelihood(drum_read("0123"), gas) == 1.0  # more: `decimals_differ`'s
    assert red_drums_likelihood(drum_read("0"), display) == 1.0  # a display has no red drums
    assert red_drums_likelihood(MeterRead(reading=None), gas) == 1.0
