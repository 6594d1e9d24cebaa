"""A counter's row cut short: a strip ending before the first drums is cut again over a wider
span (`ocr.candidates.wider_span`), a run of digits broken at one drum is bridged
(`ocr.candidates.bridged`)."""

from __future__ import annotations

import numpy as np
import pytest

from core.types import MeterRead
from ocr import read_meter
from ocr.candidates import bridged, from_reading, offered, wider_span
from ocr.counter import Cells
from ocr.digits import NO_DIGIT
from ocr.digits_logic import Run
from ocr.locate import MOST_DRUMS, Blob, Row
from ocr.occluders import lost_digits
from ocr.reads import Candidate, Described
from ocr.synth_drums import random_meter

ROW = Row(
    tuple(Blob(300 + 30 * i, 100, 20, 10, 0.0, 1) for i in range(3)),
    (330.0, 100.0),
    (1.0, 0.0),
    20.0,
    30.0,
    0.0,
)


def _read(positions: list[float], start: int, length: int, decimals: int) -> Candidate:
    probs = np.eye(11)[[3] * len(positions)]
    cells = Cells(
        [],
        [0.0] * len(positions),
        [True] * len(positions),
        positions[1] < positions[0],
        np.zeros((1, 1), np.uint8),
        [],
        8,
        positions,
    )
    run = Run(list(probs[start : start + length]), decimals, 1.0, start)
    return Candidate(ROW, run, cells, [], 0, [], probs)


def test_a_run_ending_in_red_drums_from_the_strips_first_cell_widens_the_span_before_it() -> None:
    positions = [100.0 + 30 * i for i in range(6)]  # four drums read, a red one, a cell after
    start, end = wider_span((85.0, 280.0), [_read(positions, 0, 5, 1)])
    assert start == pytest.approx(100 - 15 - (MOST_DRUMS - 5) * 30) and end == 280


def test_upside_down_the_span_widens_beyond_its_other_end() -> None:
    positions = [250.0 - 30 * i for i in range(6)]
    start, end = wider_span((85.0, 265.0), [_read(positions, 0, 5, 1)])
    assert start == 85 and end == pytest.approx(250 + 15 + (MOST_DRUMS - 5) * 30)


@pytest.mark.parametrize(
    ("first", "decimals"),
    [(1, 1), (0, 0)],  # a cell before the run (the strip holds its start); no red drums
)
def test_a_run_inside_the_strip_or_without_red_drums_keeps_the_span(
    first: int, decimals: int
) -> None:
    positions = [100.0 + 30 * i for i in range(7)]
    assert wider_span((85.0, 310.0), [_read(positions, first, 5, decimals)]) == (85.0, 310.0)


def _cells(values: list[int | None], red: list[float]) -> tuple[Cells, np.ndarray]:
    """Cells the model reads as `values` (None: no digit) at a pitch of 30."""
    probs = np.array([np.eye(11)[NO_DIGIT if v is None else v] * 0.98 + 0.002 for v in values])
    positions = [100.0 + 30 * i for i in range(len(values))]
    n = len(values)
    cells = Cells([], red, [True] * n, False, np.zeros((1, 1), np.uint8), [], 8, positions)
    return cells, probs


def _bridged(values: list[int | None], red_cells: int = 1) -> Candidate | None:
    red = [2.0] * (len(values) - red_cells) + [40.0] * red_cells
    cells, probs = _cells(values, red)
    read = from_reading((ROW, cells, probs))
    assert read is not None
    return bridged(read)


def test_a_counters_run_broken_at_one_drum_is_bridged_and_that_drum_named_lost() -> None:
    read = _bridged([0, 8, None, 9, 8, 1])  # 08?98 and a red tenth drum: the 4 under a stroke
    assert read is not None
    assert [d.value for d in read.digits][:2] == [0, 8] and len(read.digits) == 6
    assert read.run.start == 0 and read.run.decimals == 1 and read.lost == (160.0,)


@pytest.mark.parametrize(
    "values",
    [
        [0, 8, None, None, 9, 8, 1],  # two cells without a digit: not one lost drum
        [None, 9, 8, 1],  # nothing before the gap
        [1, 2, 3, 4, 5, None, 0, 8, 9, 1],  # more drums than a counter has
    ],
)
def test_no_bridge_over_more_than_one_cell_to_nothing_or_beyond_a_counters_drums(
    values: list[int | None],
) -> None:
    assert _bridged(values) is None


def test_a_run_without_red_drums_is_not_bridged() -> None:
    assert _bridged([0, 8, None, 9, 8, 1], red_cells=0) is None


def test_a_digit_on_a_bridged_drum_keeps_its_value_and_is_doubted() -> None:
    read = _bridged([0, 8, 4, 9, 8, 1])
    assert read is None  # no gap: nothing to bridge
    cells, probs = _cells([0, 8, None, 9, 8, 1], [2.0] * 5 + [40.0])
    probs[2] = np.eye(11)[4] * 0.3 + np.eye(11)[NO_DIGIT] * 0.7  # a 4 the model half sees
    plain = from_reading((ROW, cells, probs))
    assert plain is not None
    read = bridged(plain)
    assert read is not None and [d.value for d in read.digits][:5] == [0, 8, 4, 9, 8]
    integer, fraction = read.digits[:5], read.digits[5:]
    best = Described(read, integer, fraction, None, 1.0, True)
    assert lost_digits(best) == [2]


def test_a_run_of_as_many_drums_as_a_counter_has_keeps_the_span() -> None:
    positions = [100.0 + 30 * i for i in range(MOST_DRUMS + 1)]
    read = _read(positions, 0, MOST_DRUMS, 3)
    assert wider_span((85.0, 355.0), [read]) == (85.0, 355.0)


def _read_render(seed: int) -> tuple[str, MeterRead]:
    sample = random_meter("ferraris", seed)
    result = read_meter(
        sample.image,
        integer_digits=sample.integer_digits,
        display="drum",
        decimal_digits=1,
        meter_number=False,
    )
    return sample.reading, result


@pytest.mark.parametrize("seed", [74, 189])
def test_a_rendered_counter_cut_short_by_pen_strokes_is_read_whole_and_not_accepted(
    seed: int,
) -> None:
    """Ferraris renders (tuning seeds) with marker strokes across the drums, where the plate's
    meter number was read instead of the counter. Seed 74: the strip cut again wider; seed 189:
    the run bridged over the drum under the stroke. Every drum but the one under the stroke is
    read right, and the read is not accepted."""
    truth, result = _read_render(seed)
    assert result.reading is not None and len(result.reading) == len(truth)
    wrong = sum(a != b for a, b in zip(result.reading, truth, strict=True))
    assert wrong <= 1 and not result.accepted


def test_a_bridged_run_is_weighed_only_under_the_count_it_makes_whole() -> None:
    read = _bridged([0, 8, None, 9, 8, 1])
    assert read is not None
    assert offered(read, 5) and not offered(read, 6) and not offered(read, None)
