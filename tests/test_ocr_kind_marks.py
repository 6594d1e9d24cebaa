"""The marks of a meter's kind beside a drum counter, on rendered meters (`ocr.synth_drums`):
the pointer dials of water meters and the unit printed after the drums."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from core.types import MeterRead
from ocr import read_meter
from ocr.dials import pointer_dials
from ocr.printed_unit import cubic_metres_glyph, unit_in, unit_strip
from ocr.synth import _put_text, _text_box
from ocr.synth_drums import random_meter


def read_as_master_data_says(kind: str, seed: int) -> MeterRead:
    sample = random_meter(kind, seed)  # type: ignore[arg-type]
    return read_meter(
        sample.image, integer_digits=sample.integer_digits, display="drum",
        decimal_digits=len(sample.fraction),
    )  # fmt: skip


def test_water_meters_show_dials_and_gas_and_ferraris_meters_seldom() -> None:
    seeds = range(4000, 4004)
    water = [read_as_master_data_says("water", s).dials for s in seeds]
    others = [read_as_master_data_says(k, s).dials for k in ("gas", "ferraris") for s in seeds]
    assert sum(bool(d) for d in water) >= 3
    assert sum(bool(d) for d in others) <= 1  # a round print with a stroke, now and then


def dial(image: np.ndarray, centre: tuple[int, int], radius: int, angle: float) -> None:
    cv2.circle(image, centre, radius, (245, 245, 245), -1)
    cv2.circle(image, centre, radius, (30, 30, 30), 2)
    tip = (
        int(centre[0] + 0.8 * radius * np.sin(angle)),
        int(centre[1] - 0.8 * radius * np.cos(angle)),
    )
    cv2.line(image, centre, tip, (40, 40, 200), 3)


COUNTER = ((100.0, 100.0), (400.0, 100.0), (400.0, 150.0), (100.0, 150.0))


def test_a_round_dial_with_a_pointer_counts_and_a_ring_or_a_disc_without_one_does_not() -> None:
    photo = np.full((500, 600, 3), 200, np.uint8)
    dial(photo, (200, 260), 35, 1.0)
    assert pointer_dials(photo, COUNTER, 40.0) == 1
    plain = np.full((500, 600, 3), 200, np.uint8)
    cv2.circle(plain, (200, 260), 35, (30, 30, 30), 2)  # a ring: no pointer
    cv2.circle(plain, (400, 300), 30, (160, 60, 20), -1)  # a seal: a filled disc, no pointer
    assert pointer_dials(plain, COUNTER, 40.0) == 0


RED = (30, 30, 210)


def red_hub(image: np.ndarray, centre: tuple[int, int], radius: int, angle: float) -> None:
    """A small dial without a rim: a red hub with a red pointer on the meter's white face."""
    cv2.circle(image, centre, radius, RED, -1)
    tip = (
        int(centre[0] + 3 * radius * np.sin(angle)),
        int(centre[1] - 3 * radius * np.cos(angle)),
    )
    cv2.line(image, centre, tip, RED, 3)


def test_a_red_hub_with_a_red_pointer_counts_without_a_rim() -> None:
    photo = np.full((500, 600, 3), 235, np.uint8)
    red_hub(photo, (200, 260), 10, 2.0)
    red_hub(photo, (420, 300), 14, 4.0)
    assert pointer_dials(photo, COUNTER, 40.0) == 2


def test_red_print_that_is_no_hub_with_one_pointer_does_not_count() -> None:
    photo = np.full((500, 600, 3), 235, np.uint8)
    cv2.circle(photo, (150, 260), 12, RED, -1)  # a seal: a disc without a pointer
    cv2.line(photo, (250, 230), (250, 300), RED, 12)  # a thick stroke, as wide as it is round
    cv2.circle(photo, (400, 280), 10, RED, -1)  # a hub with a bar through it: no single pointer
    cv2.line(photo, (370, 280), (430, 280), RED, 3)
    cv2.circle(photo, (500, 400), 2, RED, -1)  # a fleck
    cv2.line(photo, (500, 400), (520, 400), RED, 1)
    assert pointer_dials(photo, COUNTER, 40.0) == 0


INK = (25, 25, 25)


def star_wheel(image: np.ndarray, centre: tuple[int, int], arms: int, width: int) -> None:
    """The flow indicator's star wheel: a dark hub with like arms evenly spaced round it."""
    cv2.circle(image, centre, 18, INK, -1)
    for k in range(arms):
        turn = 2 * np.pi * k / arms
        tip = (int(centre[0] + 45 * np.sin(turn)), int(centre[1] - 45 * np.cos(turn)))
        cv2.line(image, centre, tip, INK, width)


@pytest.mark.parametrize(("arms", "width"), [(5, 14), (6, 10), (10, 6)])
def test_a_star_wheel_counts_as_a_dial(arms: int, width: int) -> None:
    photo = np.full((500, 600, 3), 225, np.uint8)
    star_wheel(photo, (250, 280), arms, width)
    assert pointer_dials(photo, COUNTER, 40.0) == 1


def test_dark_print_that_is_no_star_wheel_does_not_count() -> None:
    photo = np.full((500, 600, 3), 225, np.uint8)
    star_wheel(photo, (150, 300), 4, 12)  # a cross: too few arms
    cv2.circle(photo, (300, 300), 40, INK, -1)  # a seal
    cv2.putText(photo, "CBK-15 *", (120, 420), cv2.FONT_HERSHEY_SIMPLEX, 1.5, INK, 4)
    assert pointer_dials(photo, COUNTER, 40.0) == 0


def test_a_dial_inside_the_counter_window_is_not_counted() -> None:
    photo = np.full((500, 600, 3), 200, np.uint8)
    dial(photo, (250, 125), 20, 2.0)  # the counter's own box (a drum's round digit)
    assert pointer_dials(photo, COUNTER, 40.0) == 0


@pytest.mark.parametrize(
    ("text", "unit"),
    [("kWh", "kWh"), ("KWH", "kWh"), ("m3", "m³"), ("m³", "m³"), ("| m3", "m³"),
     ("Qn 2,5", None), ("Nr 1234", None), ("", None)],
)  # fmt: skip
def test_only_a_units_own_spellings_count(text: str, unit: str | None) -> None:
    assert unit_in(text) == unit


def test_the_strip_after_the_counter_is_cut_upright_with_dark_text() -> None:
    photo = np.full((300, 600, 3), 30, np.uint8)  # light print on a dark face
    cv2.putText(photo, "kWh", (410, 140), cv2.FONT_HERSHEY_SIMPLEX, 1.2, (240, 240, 240), 2)
    strip = unit_strip(photo, COUNTER, 40.0)
    assert strip is not None and strip.ndim == 2
    assert np.median(strip) > 128 and strip.min() < 100  # light ground, dark letters


def printed(
    first: str,
    then: str = "",
    *,
    raised: bool = True,
    at: tuple[int, int] = (410, 150),
    size: int = 30,
) -> np.ndarray:
    """A photo with `first` printed at `at` (its baseline's left end) beside the counter, and
    `then` right after it, raised and half as tall or on its line."""
    photo = np.full((400, 600, 3), 230, np.uint8)
    _put_text(photo, first, at, size, INK)
    right = at[0] + _text_box(first, size)[2] + 1
    if then and raised:
        _put_text(photo, then, (right, at[1] - size // 3), size // 2, INK)
    elif then:
        _put_text(photo, then, (right, at[1]), size, INK)
    return photo


@pytest.mark.parametrize("size", [20, 30, 38])
def test_a_raised_m3_after_or_under_the_counters_end_is_found(size: int) -> None:
    assert cubic_metres_glyph(printed("m", "3", size=size), COUNTER, 40.0)
    assert cubic_metres_glyph(printed("m", "3", at=(300, 200), size=size), COUNTER, 40.0)
    assert cubic_metres_glyph(printed("m", "3", raised=False, size=size), COUNTER, 40.0)


@pytest.mark.parametrize("text", ["m", "mm", "mo", "md", "mb", "mh", "Umdr", "mbar", "kWh", "2013"])
def test_an_m_without_a_3_after_it_or_inside_a_word_is_no_m3(text: str) -> None:
    assert not cubic_metres_glyph(printed(text), COUNTER, 40.0)


def test_water_and_gas_renders_show_m3_and_ferraris_renders_do_not() -> None:
    seeds = range(4000, 4004)
    water = [read_as_master_data_says("water", s).printed_unit for s in seeds]
    gas = [read_as_master_data_says("gas", s).printed_unit for s in seeds]
    ferraris = [read_as_master_data_says("ferraris", s).printed_unit for s in seeds]
    assert water.count("m³") >= 2 and gas.count("m³") >= 2
    assert "m³" not in ferraris
