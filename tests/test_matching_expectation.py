"""The expected reading from a register's own history, and the band checks (pure; the meter
change's predecessor lookup runs on both databases)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from core.context import AppContext
from core.models import Meter, Reading
from matching import reasons
from matching.expectation import Point, band_codes, expect
from matching.meters import expectation_for
from matching.plausibility import MeterSpec
from matching.seasons import period_weight
from tests.samples import seed_meter

WATER = MeterSpec(5, 0, "m3")
DAY = dt.date(2026, 11, 20)
# 50 m³ per half year: about 0.27 m³ a day
HISTORY = [Point(Decimal(100), dt.date(2025, 11, 20)), Point(Decimal(150), dt.date(2026, 5, 20))]


def codes(
    value: int | str, history: list[Point] = HISTORY, *, day: dt.date = DAY
) -> tuple[str, ...]:
    exp = expect("water", WATER, "1.8.0", day, history)
    return band_codes(Decimal(value), exp, "water", WATER)


def test_the_expected_value_continues_the_registers_own_rate() -> None:
    exp = expect("water", WATER, "1.8.0", DAY, HISTORY)
    assert exp.basis == "history" and exp.periods == 1
    assert exp.expected_consumption is not None and 49 < exp.expected_consumption < 52
    assert exp.low is not None and exp.high is not None
    assert 150 < exp.low < 200 < exp.high < 320


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (200, ()),
        (548, (reasons.CONSUMPTION_ABOVE_EXPECTED,)),  # the 348 m³ jump
        (155, (reasons.CONSUMPTION_BELOW_EXPECTED,)),
        (150, (reasons.ZERO_CONSUMPTION,)),
        (140, (reasons.BELOW_LAST_READING,)),
    ],
)
def test_the_band_around_the_expected_value(value: int, expected: tuple[str, ...]) -> None:
    assert codes(value) == expected


def test_a_reading_dated_before_the_last_one() -> None:
    assert codes(200, day=dt.date(2026, 5, 1)) == (reasons.DATE_BEFORE_LAST_READING,)


def test_a_counter_past_its_highest_value_is_a_rollover() -> None:
    near_end = [
        Point(Decimal(99800), dt.date(2025, 11, 20)),
        Point(Decimal(99900), dt.date(2026, 5, 20)),
    ]
    assert codes(50, near_end) == (reasons.METER_ROLLOVER,)
    assert codes(40000, near_end) == (reasons.BELOW_LAST_READING,)


def test_gas_expects_more_in_winter_than_in_summer() -> None:
    gas = MeterSpec(5, 0, "m3")
    year = [Point(Decimal(1000), dt.date(2024, 11, 1)), Point(Decimal(2500), dt.date(2025, 11, 1))]
    winter = expect("gas", gas, "1.8.0", dt.date(2026, 2, 1), year)  # November to January
    spring = [*year, Point(Decimal(2500) + Decimal(600), dt.date(2026, 5, 1))]
    summer = expect("gas", gas, "1.8.0", dt.date(2026, 8, 1), spring)  # May to July
    assert period_weight("gas", dt.date(2025, 11, 1), dt.date(2026, 11, 1)) == Decimal(365)
    assert winter.expected_consumption is not None and summer.expected_consumption is not None
    assert 600 < winter.expected_consumption < 630  # 41 % of 1 500 m³, not a flat quarter (375)
    assert summer.expected_consumption < 200  # 10.5 % of the year


def test_one_earlier_reading_uses_the_kinds_default() -> None:
    exp = expect("water", WATER, "1.8.0", DAY, HISTORY[:1])
    assert exp.basis == "kind_default" and exp.high is not None
    assert exp.high < 100 + 450  # a household's highest yearly use, plus a week
    assert band_codes(Decimal(548), exp, "water", WATER) == (reasons.CONSUMPTION_ABOVE_EXPECTED,)
    assert band_codes(Decimal(190), exp, "water", WATER) == ()


def test_no_earlier_reading_bounds_nothing() -> None:
    exp = expect("water", WATER, "1.8.0", DAY, [])
    assert exp.basis == "none" and band_codes(Decimal(99999), exp, "water", WATER) == ()


def test_a_new_meter_expects_the_consumption_of_the_meter_it_replaced(ctx: AppContext) -> None:
    with ctx.sessions.begin() as session:
        old_id = seed_meter(session, email="a@example.de", account="1", meter="OLD")
        old = session.get(Meter, old_id)
        assert old is not None
        old.removed_on = dt.date(2026, 6, 1)
        new = Meter(
            number="NEW", account=old.account, kind="water", unit="m3", integer_digits=5,
            decimal_digits=0, registers="1.8.0", installed_on=dt.date(2026, 6, 1),
        )  # fmt: skip
        session.add(new)
        session.flush()
        rows = [(old_id, "2025-06-01", "700"), (old_id, "2026-06-01", "800")]
        for meter_id, day, value in [*rows, (new.id, "2026-06-01", "0")]:
            session.add(
                Reading(
                    meter_id=meter_id, register="1.8.0", value=Decimal(value),
                    read_on=dt.date.fromisoformat(day), source="import", status="accepted",
                )
            )  # fmt: skip
        session.flush()
        exp = expectation_for(session, new, "1.8.0", DAY)
    assert exp.basis == "predecessor" and exp.last_value == 0
    assert exp.per_day is not None and Decimal("0.25") < exp.per_day < Decimal("0.3")
    spec = MeterSpec(5, 0, "m3")
    assert band_codes(Decimal(48), exp, "water", spec) == ()
    # the old meter's count carried on by mistake is far above the band
    assert band_codes(Decimal(848), exp, "water", spec) == (reasons.CONSUMPTION_ABOVE_EXPECTED,)


def test_a_heat_meter_in_mwh_expects_a_thousandth_of_one_in_kwh() -> None:
    one_reading = [Point(Decimal(20), dt.date(2025, 11, 20))]
    in_mwh = expect("heat", MeterSpec(5, 3, "MWh"), "1.8.0", DAY, one_reading)
    in_kwh = expect(
        "heat",
        MeterSpec(6, 0, "kWh"),
        "1.8.0",
        DAY,
        [Point(Decimal(20000), one_reading[0].read_on)],
    )
    assert in_mwh.expected_consumption is not None and in_kwh.expected_consumption is not None
    assert in_mwh.expected_consumption * 1000 == pytest.approx(in_kwh.expected_consumption)
    # a year's heat in MWh fits; the same count in kWh (a thousand times too little) does not
    assert band_codes(Decimal(32), in_mwh, "heat", MeterSpec(5, 3, "MWh")) == ()
    assert band_codes(Decimal(32), in_kwh, "heat", MeterSpec(6, 0, "kWh")) != ()
