"""7-segment reading on drawn ink: digits, decimal point, and the faults seen on real displays."""

from __future__ import annotations

import numpy as np

from ocr import sevenseg
from ocr.digits import NO_DIGIT
from tests.sevenseg_drawing import DigitShape, draw_text

H, W, PITCH, T = 60, 30, 44, 6  # digit height, width, pitch and stroke in px
TOP, LEFT = 18, 20  # where the first digit starts in the panel
SHAPE = DigitShape(H, W, T, TOP)


def _draw(text: str, *, seam: bool = False, shape: DigitShape = SHAPE) -> np.ndarray:
    return draw_text(text, shape, pitch=PITCH, left=LEFT, seam=seam)


def _text(digits: sevenseg.Digits) -> str:
    read = "".join(str(int(p.argmax())) if p.argmax() != NO_DIGIT else "-" for p in digits.probs)
    if digits.point:
        read = read[: -digits.point] + "." + read[-digits.point :]
    return read


def _read(ink: np.ndarray) -> str:
    digits = sevenseg.read_digits(ink)
    assert digits is not None
    return _text(digits)


def test_reads_digits_and_point() -> None:
    assert _read(_draw("305.28")) == "305.28"


def test_a_one_is_read_on_the_pitch() -> None:
    assert _read(_draw("213.00")) == "213.00"


def test_the_two_sides_of_a_pale_zero_are_one_digit() -> None:
    profile = np.zeros(160)
    profile[[*range(108, 114), *range(132, 138)]] = 40  # the two sides of a "0" ...
    profile[114:132] = 2  # ... and its pale top and bottom
    assert sevenseg._joined([(108, 113), (132, 137)], 30.0, profile) == [(108, 137)]


def test_two_ones_are_not_joined() -> None:
    profile = np.zeros(160)
    profile[[*range(108, 114), *range(152, 158)]] = 40
    assert sevenseg._joined([(108, 113), (152, 157)], 30.0, profile) == [(108, 113), (152, 157)]


def test_a_speck_beyond_a_digit_does_not_hide_the_point() -> None:
    ink = _draw("13.00")
    x = LEFT + PITCH + W  # right of the "3", at the top, up to the point's column
    ink[TOP : TOP + 4, x : x + 9] = 1
    assert _read(ink) == "13.00"


def test_a_point_both_finders_see_is_confirmed() -> None:
    """A free point is both a blob at the baseline and ink at the foot of its gap; a point that
    touches the next digit is that ink only: read, but on one finder's word."""
    free = sevenseg.read_digits(_draw("55.00"))
    assert free is not None and (free.point, free.point_confirmed) == (2, True)
    ink = _draw("55.00")
    x = LEFT + 2 * PITCH  # where the first "0" starts
    ink[TOP + H - T : TOP + H, x - 11 : x + 1] = 1  # the point runs into the "0"
    touching = sevenseg.read_digits(ink)
    assert touching is not None and (touching.point, touching.point_confirmed) == (2, False)


def test_digits_split_at_their_middle_are_one_row() -> None:
    assert _read(_draw("170.1", seam=True)) == "170.1"


def test_digits_run_together_are_cut_at_the_width_of_a_free_digit() -> None:
    ink = _draw("5600")
    ink[TOP + 38 : TOP + 42, LEFT + PITCH : LEFT + 4 * PITCH] = 1  # a reflection along them
    assert _read(ink) == "5600"


def test_a_letter_t_is_not_cut_to_its_stem() -> None:
    stems = np.zeros(100, bool)
    stems[40:46] = True  # the stem of a "T" whose bar runs from 30 to 56
    assert sevenseg._to_stem((30, 56), stems, narrow=24.0) == (30, 56)
    assert sevenseg._to_stem((30, 49), stems, narrow=12.0) == (30, 45)  # a speck after a digit
    assert sevenseg._to_stem((36, 49), stems, narrow=12.0) == (36, 49)  # a "2" on a drum


def test_a_frame_edge_under_the_digits_is_not_their_lower_half() -> None:
    assert sevenseg._halves([(10, 40), (43, 70)], seam=4) == [(10, 70)]
    assert sevenseg._halves([(10, 70), (73, 80)], seam=4) == [(10, 70), (73, 80)]


def test_a_frame_line_touching_the_digits_feet_is_not_part_of_them() -> None:
    ink = _draw("147.0")
    rows = np.arange(ink.shape[1]) * 4 // ink.shape[1]  # tilted by 4 px across the panel
    for x, dy in enumerate(rows):
        ink[TOP + H + dy : TOP + H + 6 + dy, x] = 1  # along the feet, touching them
    assert _read(ink) == "147.0"  # not "143.0": the line is no bottom segment of the "7"


def test_a_faint_unlit_bar_left_of_a_one_does_not_make_it_a_seven() -> None:
    ink = _draw("175.00")
    for y in (TOP, TOP + 1, TOP + T - 1):  # the unlit top segment's outline, shown faintly
        ink[y, LEFT : LEFT + W - T - 5] = 1
    assert _read(ink) == "175.00"


def test_a_one_next_to_a_reflection_is_still_read() -> None:
    ink = _draw("119.02")
    glare = np.indices((H, 30)).sum(axis=0) % 2  # speckled glare, no digit, left of the "1"
    ink[TOP : TOP + H, LEFT - 16 : LEFT + 14] |= glare.astype(np.uint8)
    assert _read(ink) == "119.02"


def test_a_hairline_at_a_digits_foot_is_no_segment() -> None:
    ink = _draw("276.00", shape=DigitShape(H, W, 8, TOP))  # bold strokes
    seven = LEFT + PITCH
    ink[TOP + H - 3 : TOP + H, seven : seven + W] = 1  # a reflection's edge across the "7"
    assert _read(ink) == "276.00"  # not "236.00"


def test_glare_over_the_decimals_leaves_the_point_and_the_integer_part() -> None:
    ink = _draw("230.00")
    decimals = LEFT + 3 * PITCH
    glare = (np.indices((H, 2 * PITCH)).sum(axis=0) % 2).astype(np.uint8)  # speckled, no digits
    ink[TOP : TOP + H, decimals : decimals + 2 * PITCH] = glare
    assert _read(ink).startswith("230.")  # not "230" or "2300": the point says where it ends


def test_glare_over_the_first_decimal_alone_keeps_the_point() -> None:
    seen = [9, 8, NO_DIGIT, 7]  # "98." and a glare-hidden digit before a "7"
    probs = np.eye(NO_DIGIT + 1)[seen] * 0.8 + 0.2 / (NO_DIGIT + 1)
    kept, keep, point = sevenseg._trimmed(probs, point=2)
    assert (keep, point) == (slice(0, 4), 2)
    assert kept[2].argmax() != NO_DIGIT  # read as some digit, so "98" stays one run with its point


def test_a_decimal_cut_off_by_the_photos_edge_keeps_the_point() -> None:
    ink = _draw("23.0")
    zero = LEFT + 2 * PITCH
    ink[:, zero + 12 :] = 0  # the photo ends inside the "0": its left stroke alone, narrow as a 1
    assert _read(ink).startswith("23.")  # not "23": the integer part ends at the point


def test_a_digit_shape_off_the_displays_pitch_left_of_it_is_no_digit() -> None:
    ink = np.hstack([np.zeros((96, 100), np.uint8), _draw("37.90")])
    for y0, y1, x0, x1 in SHAPE.lit_boxes("7", 6):  # a frame corner 2.6 pitches left of the "3"
        ink[y0:y1, x0:x1] = 1
    assert _read(ink) == "37.90"  # not "737.9"


def test_a_first_digit_on_the_pitch_stays_when_the_next_is_hidden() -> None:
    ink = np.hstack([np.zeros((96, 2 * PITCH), np.uint8), _draw("37.90")])
    for y0, y1, x0, x1 in SHAPE.lit_boxes("1", LEFT):  # two pitches left of the "3": a digit
        ink[y0:y1, x0:x1] = 1  # between them lost to glare
    assert _read(ink).startswith("1")


def test_a_frame_drawn_around_the_digits_is_no_part_of_them() -> None:
    ink = _draw("146.9")
    ink[4:7, 8:-8] = ink[89:92, 8:-8] = 1  # the frame's top and bottom
    ink[4:92, 8:14] = ink[4:92, -14:-8] = 1  # ... and its sides: one hollow mark
    assert _read(ink) == "146.9"


def test_frame_edges_running_on_past_the_digits_do_not_widen_their_rows() -> None:
    """Two edges of the display's window ink every row a little; the digits' rows are where
    the ink is."""
    ink = _draw("065.091")
    ink[2:94, 6:13] = ink[2:94, -13:-6] = 1  # the window's sides, inking 14 px of every row
    assert _read(ink) == "065.091"


def test_bold_narrow_digits_are_read() -> None:
    """Strokes of 10 px on digits 24 px wide leave 4 px between them: the bars and holes are
    looked for there, not across the strokes."""
    assert _read(_draw("04567.0", shape=DigitShape(H, 24, 10, TOP))) == "04567.0"
