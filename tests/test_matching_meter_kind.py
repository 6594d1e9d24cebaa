"""The marks of a meter's kind on a drum photo (pointer dials, the printed unit) in the meter
choice: a likelihood beside the histories', never an exclusion."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from core.context import AppContext
from core.types import MeterHint, MeterRead
from matching import reasons
from tests.test_intake_pipeline import run_one
from tests.test_matching_decision import (
    FAR_GAS,
    PHOTO_A,
    STEADY,
    add_meter,
    booked,
    drums,
    only_task,
    photos,
    reader_for,
    tens_in_doubt,
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


def unsure_water_photo(dials: int, confidence: float = 0.7) -> MeterRead:
    """00250 on the drums with the tens drum in doubt (00260), the OCR not sure of it (0.7, below
    `FAR_RIVALS_MIN_CONFIDENCE`) but the cold-water meter's steady history settling it."""
    return replace(tens_in_doubt("00250", 6, 0.5, confidence=confidence), dials=dials)


@pytest.mark.parametrize(
    ("dials", "confidence", "status"),
    [(2, 0.7, "accepted"), (0, 0.75, "review"), (2, 0.65, "review")],
)
def test_dials_book_an_unsure_read_beside_a_gas_meter_counting_far_away(
    ctx: AppContext, dials: int, confidence: float, status: str
) -> None:
    """Another meter's photo misread into the water meter's band is what an unsure read beside
    far meters is kept from: dials make the gas meter's photo 25 times less likely, so a read
    the OCR is fairly sure of (`FAR_RIVALS_FACE_MIN_CONFIDENCE`) is booked."""
    with ctx.sessions.begin() as session:
        cold = add_meter(session, "KW-1", history=STEADY)
        add_meter(session, "G-2", kind="gas", history=FAR_GAS)
    reader = reader_for({(PHOTO_A, None): unsure_water_photo(dials, confidence)})
    assert run_one(ctx, photos(PHOTO_A), reader).status == status
    if status == "accepted":
        assert booked(ctx) == {(cold, "1.8.0"): Decimal(250)}
    else:
        assert only_task(ctx).reason_codes == [reasons.LOW_CONFIDENCE]


def test_dials_do_not_tell_two_water_meters_apart(ctx: AppContext) -> None:
    with ctx.sessions.begin() as session:
        add_meter(session, "KW-1", history=STEADY)
        add_meter(session, "WW-2", history=FAR_GAS)
    reader = reader_for({(PHOTO_A, None): unsure_water_photo(2)})
    assert run_one(ctx, photos(PHOTO_A), reader).status == "review"
    assert only_task(ctx).reason_codes == [reasons.LOW_CONFIDENCE]


@pytest.mark.parametrize(("dials", "status"), [(2, "accepted"), (0, "review")])
def test_dials_on_the_drums_weigh_against_a_display_meter_too(
    ctx: AppContext, dials: int, status: str
) -> None:
    """The photo read for the electricity display meter shows no dials (a display read has
    none), but the drum read's dials are on the same photo: a display meter is as unlikely."""
    with ctx.sessions.begin() as session:
        cold = add_meter(session, "KW-1", history=STEADY, display="drum")
        add_meter(
            session, "E-2", kind="electricity", display="lcd", integer_digits=6,
            history=[("2025-05-20", "38000"), ("2026-05-20", "40100")],
        )  # fmt: skip
    display = MeterRead(reading="000250", confidence=0.3, accepted=False, display="lcd")
    reader = reader_for(
        {
            (PHOTO_A, MeterHint(5, "drum")): unsure_water_photo(dials),
            (PHOTO_A, MeterHint(6, "lcd")): display,
        }
    )
    assert run_one(ctx, photos(PHOTO_A), reader).status == status
    if status == "accepted":
        assert booked(ctx) == {(cold, "1.8.0"): Decimal(250)}
    else:
        details = only_task(ctx).details or {}
        evidence = {h["meter_number"]: h["evidence"] for h in details["hypotheses"]}
        assert reasons.LOW_CONFIDENCE in only_task(ctx).reason_codes
        assert "dials_differ" not in evidence["E-2"]
