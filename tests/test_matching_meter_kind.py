"""The marks of a meter's kind on a drum photo (pointer dials, the printed unit) in the meter
choice: a likelihood beside the histories', never an exclusion."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from core.context import AppContext
from core.types import MeterRead
from matching import reasons
from tests.test_intake_pipeline import run_one
from tests.test_matching_decision import (
    PHOTO_A,
    add_meter,
    booked,
    drums,
    only_task,
    photos,
    reader_for,
)


def water_beside_gas_and_power(ctx: AppContext) -> int:
    """A water meter with one earlier reading, a gas meter nobody has read (the same 5 black and
    3 red drums) and an electricity drum meter (one red drum) nobody has read."""
    with ctx.sessions.begin() as session:
        water = add_meter(
            session, "W-1", display="drum", decimal_digits=3,
            history=[("2025-05-20", "100.000")],
        )  # fmt: skip
        add_meter(session, "G-2", kind="gas", display="drum", decimal_digits=3)
        add_meter(session, "E-3", kind="electricity", display="drum", decimal_digits=1)
    return water


def water_photo(**marks: object) -> MeterRead:
    return replace(drums("00160", "123"), **marks)  # type: ignore[arg-type]


def test_without_marks_a_water_meter_with_one_reading_beside_an_unread_gas_meter_is_unclear(
    ctx: AppContext,
) -> None:
    water_beside_gas_and_power(ctx)
    assert run_one(ctx, photos(PHOTO_A), reader_for({(PHOTO_A, None): water_photo()})).status == (
        "review"
    )
    assert reasons.AMBIGUOUS_METER in only_task(ctx).reason_codes


def test_dials_beside_the_drums_book_the_water_meter(ctx: AppContext) -> None:
    water = water_beside_gas_and_power(ctx)
    reader = reader_for({(PHOTO_A, None): water_photo(dials=1, printed_unit="m³")})
    assert run_one(ctx, photos(PHOTO_A), reader).status == "accepted"
    assert booked(ctx) == {(water, "1.8.0"): Decimal("160.123")}


def test_the_marks_are_listed_on_each_meter_for_the_clerk(ctx: AppContext) -> None:
    water_beside_gas_and_power(ctx)
    unsure = replace(water_photo(dials=1, printed_unit="m³"), accepted=False, confidence=0.05)
    assert run_one(ctx, photos(PHOTO_A), reader_for({(PHOTO_A, None): unsure})).status == "review"
    details = only_task(ctx).details or {}
    evidence = {h["meter_number"]: h["evidence"] for h in details["hypotheses"]}
    assert {"dials_match", "printed_unit_matches"} <= set(evidence["W-1"])
    assert {"dials_differ", "printed_unit_matches"} <= set(evidence["G-2"])
    assert {"dials_differ", "printed_unit_differs"} <= set(evidence["E-3"])


def test_a_gas_photo_with_a_dial_found_by_mistake_is_not_booked_on_the_water_meter(
    ctx: AppContext,
) -> None:
    """The gas meter's history holds the value, the water meter nobody has read could too: a
    dial found by mistake on the gas photo weighs for water, but not enough to book it there."""
    with ctx.sessions.begin() as session:
        water = add_meter(session, "W-1", display="drum", decimal_digits=3)
        add_meter(
            session, "G-2", kind="gas", display="drum", decimal_digits=3,
            history=[("2024-05-20", "1000.000"), ("2025-05-20", "2500.000")],
        )  # fmt: skip
    reader = reader_for({(PHOTO_A, None): replace(drums("04000", "123"), dials=1)})
    run_one(ctx, photos(PHOTO_A), reader)
    assert water not in {meter for meter, _ in booked(ctx)}
