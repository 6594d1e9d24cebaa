"""A row whose strip ends before the counter's first drums is cut again over a wider span
(`ocr.candidates.wider_span`, `ocr.search.Search`)."""

from __future__ import annotations

import numpy as np
import pytest

from ocr.candidates import wider_span
from ocr.counter import Cells
from ocr.digits_logic import Run
from ocr.locate import MOST_DRUMS, Blob, Row
from ocr.reads import Candidate

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
