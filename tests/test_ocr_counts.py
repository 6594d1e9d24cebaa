"""Drum counters read without their digit count: the drum window splits integer and decimals."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from core.types import DigitRead
from ocr import counts, read_meter
from ocr.counter import Cells
from ocr.digits import NO_DIGIT
from ocr.digits_logic import Run
from ocr.locate import Row
from ocr.reads import Candidate, Described
from ocr.search import Stage
from ocr.synth import encode_jpeg, render_drum_meter


@pytest.mark.parametrize(
    ("reading", "fraction", "kwargs"),
    [
        ("0472", "31", {"seed": 2}),
        ("00472", "315", {"seed": 1, "angle": 12}),
        ("123456", "7", {"seed": 3, "angle": -8}),
        ("0012345", "8", {"seed": 4}),
        ("00093", "004", {"seed": 13, "angle": 186}),
    ],
)
def test_the_split_is_found_without_a_digit_count(
    reading: str, fraction: str, kwargs: dict
) -> None:
    photo = encode_jpeg(render_drum_meter(reading, fraction, **kwargs))
    result = read_meter(photo, display="drum", meter_number=False)
    assert (result.reading, result.fraction) == (reading, fraction)
    best, *others = result.digit_count_hypotheses
    assert (best.integer_digits, best.reading) == (len(reading), reading)
    assert best.evidence > max(h.evidence for h in others)
    assert sorted(h.integer_digits for h in result.digit_count_hypotheses) == list(counts.COUNTS)


def test_a_drum_meter_of_unknown_kind_and_count_is_read_and_accepted() -> None:
    result = read_meter(encode_jpeg(render_drum_meter("00472", "315", seed=1)), meter_number=False)
    assert (result.reading, result.fraction, result.display) == ("00472", "315", "drum")
    assert result.accepted and result.confidence >= 0.9
    assert result.digit_count_hypotheses[0].integer_digits == 5


def test_a_display_read_without_a_count_lists_no_digit_counts() -> None:
    from ocr.synth import render_lcd_meter

    result = read_meter(render_lcd_meter("18342", "7", seed=11, angle=-6), meter_number=False)
    assert (result.reading, result.fraction, result.display) == ("18342", "7", "lcd")
    assert result.digit_count_hypotheses == ()


def _window(none: list[float], decimals: int) -> Candidate:
    """A row's cells with the model's "no digit" probability each; the last `decimals` red."""
    probs = np.zeros((len(none), NO_DIGIT + 1))
    probs[:, 0] = 1 - np.array(none)
    probs[:, NO_DIGIT] = none
    start = next(i for i, p in enumerate(none) if p < 0.5)
    run = Run(list(probs[start:]), decimals, 1.0, start)
    row = Row((), (0.0, 0.0), (1.0, 0.0), 10.0, 10.0, 0.0)
    cells = Cells([], [0.0] * len(none), [], False, np.zeros((1, 1)), [], 8, [])
    digits = [DigitRead(0, 1.0)] * len(run.cells)
    return Candidate(row, run, cells, digits, 0, [], probs)


def test_the_window_frame_ends_the_integer_drums() -> None:
    # frame, frame, 5 black drums (the first one dark: the model half doubts it), 3 red
    c = _window([0.9, 0.95, 0.45, 0.1, 0.05, 0.1, 0.05, 0.1, 0.1, 0.2], decimals=3)
    found = {k: counts.window_evidence(c, k) for k in counts.COUNTS}
    evidence = {k: e for k, e in found.items() if e is not None}
    assert evidence.keys() == found.keys()
    assert max(evidence, key=lambda k: evidence[k]) == 5
    assert evidence[6] < evidence[5] and evidence[4] < evidence[5]
    # without red drums nothing marks where the integer digits end
    assert counts.window_evidence(_window([0.9, 0.1, 0.1, 0.1, 0.1], decimals=0), 4) is None


def _scored(texts_scores: dict[int, list[tuple[str, float]]]) -> list[counts.Scored]:
    c = _window([0.9, 0.1, 0.1, 0.1, 0.1], decimals=1)
    return [
        (
            k,
            [Described(c, [DigitRead(int(d), 1.0) for d in t], [], None, 0.0, True) for t, _ in r],
            np.array([s for _, s in r]),
        )
        for k, r in texts_scores.items()
    ]


def test_a_value_only_the_sum_across_counts_finds_is_not_agreed() -> None:
    """A first red drum taken for a black one: count 6 and stray cuts under 4 and 5 read 4894,
    the own choices of counts 4 and 5 read 489. Summed, 4894 leads; it is not agreed."""
    per_count = _scored(
        {
            4: [("0489", 1.66), ("4894", 0.0), ("4894", -0.1), ("4894", -0.2)],
            5: [("00489", 1.65), ("04894", 1.17), ("04894", 1.14), ("04894", 1.08)],
            6: [("004894", 1.37), ("004894", 1.15), ("004894", 1.15)],
            7: [("7004894", -0.7)],
            8: [("77004894", -1.5)],
        }
    )
    stage = Stage(1, [], [], [])
    found = counts.pooled(per_count, [-4.0, -1.7, -0.9, -1.3, -4.3], 0.5, stage)
    assert (found.best.value, found.best.count, found.agreed) == (4894, 6, False)
    # the counts reading alike: agreed, and as sure as the surest count alone
    alike = _scored({k: [("0" * (k - 3) + "489", 2.0)] for k in counts.COUNTS})
    found = counts.pooled(alike, [0.0] * len(counts.COUNTS), 0.5, stage)
    assert found.agreed and found.best.value == 489
    assert found.likely == pytest.approx(np.exp(2.0) / (np.exp(2.0) + 1))


def test_a_contradicting_display_read_weighs_by_its_segments() -> None:
    # a display read whose segments barely hold leaves the drums' probability as it is
    assert counts.against_display(0.95, 0.0) == pytest.approx(0.95)
    assert counts.against_display(0.95, 0.05) > 0.94
    # a sure display read leaves the drums little
    assert counts.against_display(0.95, 0.99) < 0.2
    # the drums' share falls as the display read gets surer
    shares = [counts.against_display(0.8, p) for p in (0.1, 0.3, 0.5, 0.7, 0.9)]
    assert shares == sorted(shares, reverse=True)


class _Located:
    """The search and memo of a photo as `counts._looks_like_a_display` asks them."""

    def __init__(self, red: list[float], point: int) -> None:
        c = _window([0.9, 0.1, 0.1, 0.1, 0.1, 0.1], decimals=0)
        self.row = replace(c, cells=replace(c.cells, red=red))
        self.display = replace(c, point=point)

    def first(self, image: np.ndarray, memo: object) -> list[Candidate]:
        return [self.row]

    def displays(self) -> list[Candidate]:
        return [self.display]


@pytest.mark.parametrize(
    ("red", "point", "display"),
    [
        ([0.0] * 6, 1, True),  # a decimal point and nothing red: a display
        ([0.0, 0.0, 0.0, 0.0, 40.0, 45.0], 1, False),  # red cells along a row: drums searched
        ([0.0] * 6, 0, False),  # no decimal point: drums searched
    ],
)
def test_red_cells_along_a_row_keep_a_photo_with_a_point_from_the_display_path(
    red: list[float], point: int, display: bool
) -> None:
    located = _Located(red, point)
    image = np.zeros((8, 8, 3), np.uint8)
    assert counts._looks_like_a_display(located, image, located) is display  # type: ignore[arg-type]
