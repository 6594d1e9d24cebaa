"""Display panels: which boxes are read, and which of two reads of one display is kept."""

from __future__ import annotations

import numpy as np

from ocr.candidates import lcd_candidate
from ocr.counter import Cells
from ocr.digits import NO_DIGIT
from ocr.locate import Blob, Row
from ocr.panel import LcdRead, _dwarfed, _outvoted, _padded, _part_of, _read
from tests.sevenseg_drawing import DigitShape

H, W, PITCH, T = 120, 60, 85, 12  # digit height, width, pitch and stroke in px
LEFT, TOP = 50, 90
SHAPE = DigitShape(H, W, T, TOP)


def _display(text: str) -> np.ndarray:
    """A light display with dark 7-segment digits (no point) and nothing around them."""
    gray = np.full((300, LEFT + PITCH * len(text) + 50), 200, np.uint8)
    for i, ch in enumerate(text):
        for y0, y1, x0, x1 in SHAPE.lit_boxes(ch, LEFT + i * PITCH):
            gray[y0:y1, x0:x1] = 40
    return gray


def _text(read: LcdRead | None) -> str:
    assert read is not None
    return "".join(str(int(p.argmax())) if p.argmax() != NO_DIGIT else "-" for p in read.probs)


def test_a_display_filling_its_box_is_read_from_the_box_with_a_margin() -> None:
    """The frame blanked along a panel's edges must not take the digits' outer segments."""
    text = "342"
    width = PITCH * (len(text) - 1) + W
    box = ((LEFT + width / 2, TOP + H / 2), (float(width), float(H)), 0.0)
    assert _text(_read(_display(text), _padded(box))) == text


def _lcd_read(digits: int, decimals: int, *, confirmed: bool = False) -> LcdRead:
    blobs = tuple(Blob(100 + 40 * i, 100, 60, 30, 0.0, 0) for i in range(digits))
    row = Row(blobs, (100.0, 100.0), (1.0, 0.0), 60.0, 40.0, 0.0, lcd=True)
    cells = Cells([], [0.0] * digits, [True] * digits, False, np.zeros((1, 1), np.uint8), [], 8, [])
    probs = np.tile(np.eye(NO_DIGIT + 1)[3] * 0.98 + 0.002, (digits, 1))
    box = ((160.0, 100.0), (300.0, 80.0), 0.0)
    return LcdRead(box, row, cells, probs, decimals, confirmed)


def test_a_read_with_a_point_is_not_dropped_for_a_longer_one_without() -> None:
    short_with_point, long_without = _lcd_read(3, 1), _lcd_read(4, 0)
    assert not _part_of(short_with_point, long_without)
    assert _part_of(_lcd_read(3, 0), long_without)
    assert _part_of(short_with_point, _lcd_read(4, 2))


def test_two_sure_digits_without_a_point_are_a_display_but_not_with_one() -> None:
    """Glare over the decimals leaves a display's integer part ("64" of "64.00"); a point after
    one digit ("3.4") is more often part of a longer display than a display."""
    assert lcd_candidate(_lcd_read(2, 0)) is not None
    assert lcd_candidate(_lcd_read(2, 1)) is None
    assert lcd_candidate(_lcd_read(3, 1)) is not None


def test_a_point_both_finders_confirm_outvotes_one_finder_elsewhere() -> None:
    """Two crops of one display (`55.00`) read the same digits; a speck at the baseline in one
    of them put its point after the third digit. The read whose point both finders saw wins."""
    confirmed, speck = _lcd_read(4, 2, confirmed=True), _lcd_read(4, 1)
    assert _outvoted(speck, confirmed)
    assert not _outvoted(confirmed, speck)
    assert not _outvoted(speck, _lcd_read(4, 2))  # neither confirmed: the ranker decides
    assert not _outvoted(speck, _lcd_read(4, 1, confirmed=True))  # the same point
    assert not _outvoted(_lcd_read(3, 1), confirmed)  # other digits


def _unclean(read: LcdRead, height: float) -> LcdRead:
    """`read` with shorter digits, one box read as no digit (print matched in part)."""
    probs = read.probs.copy()
    probs[1] = np.eye(NO_DIGIT + 1)[NO_DIGIT]
    row = Row(read.row.blobs, (100.0, 300.0), (1.0, 0.0), height, 40.0, 0.0, lcd=True)
    return LcdRead(read.box, row, read.cells, probs, 1, False)


def test_print_beside_a_display_with_much_taller_digits_is_dropped() -> None:
    """A serial number printed under a display matches 7-segment patterns in part."""
    display = _lcd_read(6, 0)  # 60 px digits, all sure
    assert _dwarfed(_unclean(display, 20.0), display)
    assert not _dwarfed(_unclean(display, 50.0), display)  # a second display of about its size
    assert not _dwarfed(display, _lcd_read(6, 0))
