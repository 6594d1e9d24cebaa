"""Choosing among candidate reads: a drum counter against a 7-segment read elsewhere."""

from __future__ import annotations

import numpy as np

from core.types import DigitRead
from ocr import trust
from ocr.counter import Cells
from ocr.digits_logic import Run
from ocr.locate import Blob, Row
from ocr.reader import Candidate, _display_first


def _row(y: float, height: float, *, lcd: bool = False) -> Row:
    blobs = tuple(Blob(100 + 30 * i, y, height, height / 2, 0.0, 0) for i in range(4))
    return Row(blobs, (145.0, y), (1.0, 0.0), height, 30.0, 0.0, lcd=lcd)


def _candidate(text: str, row: Row, *, decimals: int = 0, point: int = 0) -> Candidate:
    digits = [DigitRead(int(ch), 0.9) for ch in text]
    probs = [np.eye(11)[int(ch)] for ch in text]
    n = len(text)
    cells = Cells([], [0.0] * n, [True] * n, False, np.zeros((1, 1), np.uint8), [], 8, [])
    return Candidate(row, Run(probs, decimals, 0.9, 0), cells, digits, point, [])


def test_a_counter_with_red_drums_is_not_displaced_by_dial_print() -> None:
    counter = _candidate("00499494", _row(300, 40), decimals=3)
    print_with_dot = _candidate("9151", _row(600, 60, lcd=True), point=1)
    ranked = [counter, print_with_dot]
    assert _display_first(ranked, integer_digits=5) is counter


def test_a_sure_display_read_still_wins_when_the_digit_count_is_unknown() -> None:
    counter_like = _candidate("0017508", _row(300, 40), decimals=3)  # a reddish reflection
    display = _candidate("1750", _row(300, 60, lcd=True), point=1)
    assert _display_first([counter_like, display], integer_digits=None) is display


def test_a_display_read_wins_over_a_drum_read_without_red_drums() -> None:
    drum = _candidate("00560", _row(300, 40))
    display = _candidate("5608", _row(300, 60, lcd=True), point=2)
    assert _display_first([drum, display], integer_digits=5) is display


def test_trust_drops_when_the_drums_seen_are_not_the_known_count() -> None:
    integer = [DigitRead(0, 0.97)] * 5
    seen = trust.raw_score(integer, layout_known=True, agreeing=1, margin=1.0, count_seen=True)
    off = trust.raw_score(integer, layout_known=True, agreeing=1, margin=1.0, count_seen=False)
    assert trust.calibrated(seen, "drum") >= 0.9 > trust.calibrated(off, "drum")
