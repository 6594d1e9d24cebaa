"""A line across a drum read's digits (ocr/occluders.py): a pen stroke on the glass keeps a read
from being accepted, a clean counter, its own bars and frames, and a line between two drums do
not."""

from __future__ import annotations

from dataclasses import replace

import cv2
import numpy as np
import pytest

from core.types import DigitRead
from ocr import counts, occluders, read_meter
from ocr.choice import meter_read
from ocr.counter import Cells
from ocr.digits_logic import Run
from ocr.locate import Row
from ocr.reads import Candidate, Described
from ocr.synth_drums import DrumStyle, counter_window

READING, FRACTION = "004836", "2"
MARGIN = 60  # plate around the drum window
WHITE, BLUE = (232, 234, 236), (150, 60, 30)  # a white and a blue marker (BGR)

STYLE = DrumStyle(
    kind="ferraris",
    integer_digits=6,
    decimals=1,
    white_drums=False,
    red_frame=False,
    red_digits=False,
    window_frame=True,
    housing=(120, 120, 128),
    plate=(236, 238, 240),
    unit="kWh",
    drum_w=40,
    drum_h=56,
    gap=5,
    condensed=0.9,
    dials=0,
    disc=False,
)


def _pad(style: DrumStyle) -> int:
    return max(style.gap, 4, (max(2, style.drum_h // 14) if style.drum_frame else 0) + 2)


def _centres(style: DrumStyle) -> tuple[list[float], float]:
    """x of each drum's centre on the plate, and the digits' middle row."""
    pad = _pad(style)
    xs = [MARGIN + pad + i * (style.drum_w + style.gap) + style.drum_w / 2 for i in range(7)]
    return xs, MARGIN + pad + style.drum_h / 2


def _counter(style: DrumStyle = STYLE) -> np.ndarray:
    """The drum window showing READING and FRACTION on a plain plate."""
    window = counter_window(READING, FRACTION, style, 0.0)
    h, w = window.shape[:2]
    plate = np.full((h + 2 * MARGIN, w + 2 * MARGIN, 3), style.plate, np.uint8)
    plate[MARGIN : MARGIN + h, MARGIN : MARGIN + w] = window
    return plate


def _stroke(image: np.ndarray, x: float, colour: tuple[int, int, int], slant: float = 8) -> None:
    """A marker line from above the window to below it through x at the digits' middle."""
    _, y = _centres(STYLE)
    points = np.array([[x - slant, y - 60], [x + 3, y], [x + slant, y + 60]], np.int32)
    cv2.polylines(image, [points], False, colour, 4, cv2.LINE_AA)


def _read(style: DrumStyle = STYLE) -> Described:
    """The read the search would choose for `_counter(style)`: its drums at their places."""
    xs, y = _centres(style)
    text = READING + FRACTION
    digits = [DigitRead(int(ch), 0.99) for ch in text]
    probs = np.array([np.eye(11)[int(ch)] * 0.99 for ch in text])
    row = Row((), (0.0, y), (1.0, 0.0), 0.78 * style.drum_h, style.drum_w + style.gap, 0.0)
    red = [0.0] * 6 + [1.0]
    cells = Cells([], red, [True] * 7, False, np.zeros((1, 1), np.uint8), [], 24, xs)
    candidate = Candidate(row, Run(list(probs), 1, 1.0, 0), cells, digits, 0, [], probs)
    return Described(candidate, digits[:6], digits[6:], None, 1.0, True)


def test_a_clean_counter_shows_no_line() -> None:
    assert occluders.crossings(_counter(), _read()) == []


@pytest.mark.parametrize("colour", [WHITE, BLUE])
def test_a_pen_stroke_across_a_digit_is_found_on_its_drum(colour) -> None:
    image = _counter()
    xs, _ = _centres(STYLE)
    _stroke(image, xs[3], colour)  # across the 8
    assert occluders.crossings(image, _read()) == [3]
    assert occluders.occluded_digit(image, _read()) == 4


def test_a_line_between_two_drums_leaves_their_digits_be() -> None:
    image = _counter()
    xs, _ = _centres(STYLE)
    _stroke(image, (xs[2] + xs[3]) / 2, WHITE, slant=0)
    assert occluders.crossings(image, _read()) == []


@pytest.mark.parametrize("frame", [0, 200])
def test_light_frames_and_bars_around_the_drums_are_no_line(frame) -> None:
    style = replace(STYLE, drum_frame=frame, white_drums=True)
    assert occluders.crossings(_counter(style), _read(style)) == []


def test_an_occluded_read_is_not_accepted_and_says_why() -> None:
    image = _counter()
    xs, _ = _centres(STYLE)
    _stroke(image, xs[4], BLUE)
    best = _read()
    clean = meter_read(best, 0.99, (), "drum", 0.9, _counter())
    crossed = meter_read(best, 0.99, (), "drum", 0.9, image)
    assert clean.accepted and clean.reason is None
    assert not crossed.accepted and crossed.reason == occluders.OCCLUDED
    assert crossed.confidence < 0.9


def test_a_display_read_is_not_looked_at_for_lines() -> None:
    best = _read()
    display = replace(best, candidate=replace(best.candidate, probs=None))
    image = _counter()
    xs, _ = _centres(STYLE)
    _stroke(image, xs[3], WHITE)
    assert occluders.occluded_digit(image, display) is None


def test_reading_a_photo_with_a_stroke_across_a_digit_asks_a_clerk() -> None:
    clean = _counter()
    image = clean.copy()
    xs, _ = _centres(STYLE)
    _stroke(image, xs[3], BLUE)
    seen, crossed = (
        read_meter(photo, integer_digits=6, display="drum", decimal_digits=1, meter_number=False)
        for photo in (clean, image)
    )
    assert seen.reading == READING and seen.accepted
    assert not crossed.accepted and crossed.reason == occluders.OCCLUDED


def test_a_digit_count_hypothesis_with_a_line_across_a_digit_is_not_accepted() -> None:
    """`read --json` lists a read per digit count: a line across a digit keeps each from being
    accepted as it keeps the chosen read."""
    image = _counter()
    xs, _ = _centres(STYLE)
    _stroke(image, xs[3], WHITE)
    counted = counts.Counted([counts.CountRead(6, _read(), 0.999, 0.0, 1.0)], 0.999, None)  # type: ignore[arg-type]
    (clean,) = counts.hypotheses(counted, knot=0.8, min_confidence=0.9, image=_counter())
    (crossed,) = counts.hypotheses(counted, knot=0.8, min_confidence=0.9, image=image)
    assert clean.accepted and clean.reason is None
    assert not crossed.accepted and crossed.reason == occluders.OCCLUDED
    assert crossed.confidence < 0.9


def test_a_drum_whose_digit_the_row_finder_lost_keeps_its_read_from_being_accepted() -> None:
    """A row joined across a drum whose digit was lost (`Row.lost`): that drum's digit is
    doubted as one a line crosses, the others not."""
    best = _read()
    xs, _ = _centres(STYLE)
    lost_row = replace(best.candidate.row, lost=(xs[2] + 3,))
    lost = replace(best, candidate=replace(best.candidate, row=lost_row))
    assert occluders.lost_digits(best) == []
    assert occluders.lost_digits(lost) == [2]
    read = meter_read(lost, 0.99, (), "drum", 0.9, _counter())
    assert not read.accepted and read.reason == occluders.OCCLUDED
    assert read.reading == READING
