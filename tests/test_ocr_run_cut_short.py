"""A counter's run of digits broken at one drum (a pen stroke across it) is bridged over it
(`ocr.candidates.bridged`), the drum doubted as a lost one."""

from __future__ import annotations

import numpy as np
import pytest

from core.types import MeterRead
from ocr import read_meter
from ocr.candidates import bridged, from_reading, offered
from ocr.counter import Cells
from ocr.digits import NO_DIGIT
from ocr.locate import Blob, Row
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


def test_a_rendered_counter_whose_run_a_pen_stroke_broke_is_read_whole_and_not_accepted() -> None:
    """Ferraris seed 189 (tuning seeds) with a marker stroke across one drum: the plate's meter
    number was read instead of the counter. Bridged over that drum, the counter is read, every
    drum but the one under the stroke right, and the read is not accepted."""
    truth, result = _read_render(189)
    assert result.reading is not None and len(result.reading) == len(truth)
    wrong = sum(a != b for a, b in zip(result.reading, truth, strict=True))
    assert wrong <= 1 and not result.accepted


def test_a_bridged_run_is_weighed_only_under_the_count_it_makes_whole() -> None:
    read = _bridged([0, 8, None, 9, 8, 1])
    assert read is not None
    assert offered(read, 5) and not offered(read, 6) and not offered(read, None)
