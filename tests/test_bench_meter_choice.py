"""The meter-choice replay (bench/meter_choice.py): what a customer's other meters cost."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from bench import decisions_sim as sim
from bench.meter_choice import Replay, alone, cause, lost_alone
from core.types import Hypothesis, ReadingItem

DAY = dt.date(2026, 1, 5)
WATER = sim.Profile("water", "drum", 5, 3)
GAS = sim.Profile("gas", "drum", 5, 3)
ELECTRICITY = sim.Profile("electricity", "lcd", 6, 1)


def meter(profile: sim.Profile, readings: int) -> sim.SimMeter:
    history = tuple((DAY, Decimal(10 * k)) for k in range(readings))
    return sim.SimMeter(f"M-{profile.kind}", profile, Decimal("42.5"), history, None)


def customer(file: str, *meters: sim.SimMeter) -> sim.SimCustomer:
    photo = sim.LabelledPhoto(file, "water", "42", "5")
    return sim.SimCustomer("410000001", "Erika Müller", "e@example.org", photo, meters)


def hypothesis(meter_id: int, fit: str, *evidence: str) -> Hypothesis:
    return Hypothesis(
        meter_id=meter_id, meter_number=f"M{meter_id}", register="1.8.0", integer_digits=5,
        display="drum", value=Decimal("42.5"), confidence=0.7, ocr_accepted=False,
        fit=fit, evidence=evidence,  # type: ignore[arg-type]
    )  # fmt: skip


def booked(c: sim.SimCustomer) -> Replay:
    item = ReadingItem(0, "accept", 0, "1.8.0", Decimal("42.5"), "photo")
    return Replay(c, item)


def review(c: sim.SimCustomer, code: str, *hypotheses: Hypothesis) -> Replay:
    item = ReadingItem(
        0, "review", None, None, Decimal("42.5"), "photo", reason_codes=(code,),
        hypotheses=hypotheses,
    )  # fmt: skip
    return Replay(c, item)


def test_alone_keeps_the_photographed_meter_and_its_history() -> None:
    c = customer("a.jpg", meter(WATER, 3), meter(GAS, 0))
    assert alone(c).meters == c.meters[:1]
    assert alone(c).photo == c.photo


def test_cause_names_the_rival_that_keeps_the_choice_open() -> None:
    c = customer("a.jpg", meter(WATER, 1), meter(GAS, 0), meter(ELECTRICITY, 3))
    r = review(
        c, "ambiguous_meter", hypothesis(0, "in_band"), hypothesis(1, "unknown"),
        hypothesis(2, "out_of_band"),
    )  # fmt: skip
    assert cause(r) == "ambiguous_meter: photographed meter with one reading; beside gas unknown"


def test_cause_leaves_out_meters_the_photo_excludes() -> None:
    c = customer("a.jpg", meter(WATER, 3), meter(GAS, 2), meter(ELECTRICITY, 0))
    r = review(
        c, "low_confidence", hypothesis(0, "in_band"), hypothesis(1, "out_of_band"),
        hypothesis(2, "unknown", "display_differs"),
    )  # fmt: skip
    assert cause(r) == (
        "low_confidence: photographed meter with history; every other meter out of its band"
    )


def test_lost_alone_counts_only_photos_booked_alone_and_not_together() -> None:
    lost = customer("lost.jpg", meter(WATER, 3), meter(GAS, 0))
    kept = customer("kept.jpg", meter(WATER, 3), meter(GAS, 2))
    never = customer("never.jpg", meter(WATER, 3), meter(GAS, 2))
    together = [
        review(lost, "low_confidence", hypothesis(0, "in_band"), hypothesis(1, "unknown")),
        booked(kept),
        review(never, "low_confidence", hypothesis(0, "in_band"), hypothesis(1, "out_of_band")),
    ]
    apart = [
        booked(alone(lost)),
        booked(alone(kept)),
        review(alone(never), "low_confidence", hypothesis(0, "in_band")),
    ]
    assert lost_alone(together, apart) == {
        "low_confidence: photographed meter with history; beside gas unknown": 1
    }
