"""The digit models' training cells (scripts/digit_strips.py): the recipe options must leave the
shipped recipe's cells as they were and do what they say."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
import digit_strips


def _state(rng: np.random.Generator) -> object:
    return rng.bit_generator.state


def test_default_cutting_draws_no_random_numbers() -> None:
    rng = np.random.default_rng(3)
    before = _state(rng)
    assert digit_strips.Cutting().cell_width(40.0, rng) == pytest.approx(0.62 * 40.0)
    assert _state(rng) == before  # the shipped recipe's random stream is untouched


def test_jittered_cells_vary_in_width_within_their_range() -> None:
    rng = np.random.default_rng(3)
    widths = [digit_strips.JITTERED.cell_width(40.0, rng) for _ in range(200)]
    assert min(widths) >= 0.5 * 40 and max(widths) <= 0.75 * 40
    assert max(widths) - min(widths) > 0.2 * 40
    assert digit_strips.JITTERED.jitter > digit_strips.Cutting().jitter


def test_drum_renderer_without_flagged_ones_draws_no_random_numbers() -> None:
    renderer = digit_strips.DrumRenderer([])
    rng = np.random.default_rng(3)
    before = _state(rng)
    assert renderer._one(30.0, rng) is None
    assert _state(rng) == before


def test_flagged_one_has_a_flag_left_of_its_stem_and_nothing_low_left() -> None:
    one = digit_strips.FlaggedOne(height=40.0, stroke=4, flag_dx=14.0, flag_dy=12.0, foot=0.0)
    image = Image.new("RGB", (60, 60), (255, 255, 255))
    one.draw(ImageDraw.Draw(image), (30.0, 30.0), (0, 0, 0))
    ink = np.asarray(image)[..., 0] < 128
    stem_x = 30 + 4  # 0.1 of the height right of the centre
    assert ink[10:50, stem_x].all()  # the stem, top to bottom
    assert ink[12:24, stem_x - 14 : stem_x - 3].any()  # the flag, up and to the left
    assert not ink[35:52, : stem_x - 4].any()  # no foot


def test_flagged_ones_are_drawn_on_the_share_asked_for() -> None:
    renderer = digit_strips.DrumRenderer([], flagged_ones=0.3)
    rng = np.random.default_rng(5)
    ones = [renderer._one(40.0, rng) for _ in range(1000)]
    drawn = [o for o in ones if o is not None]
    assert 250 <= len(drawn) <= 350
    assert all(0.2 * 40 <= o.flag_dx <= 0.45 * 40 for o in drawn)
    assert 0.1 < np.mean([o.foot > 0 for o in drawn]) < 0.4  # mostly without a foot


def test_thin_ones_reach_down_to_the_thinnest_stroke_asked_for() -> None:
    def strokes(thinnest: float) -> list[int]:
        renderer = digit_strips.DrumRenderer([], flagged_ones=1.0, thinnest_one=thinnest)
        rng = np.random.default_rng(8)
        return [one.stroke for one in (renderer._one(100.0, rng) for _ in range(500)) if one]

    shipped, thin = strokes(0.09), strokes(0.04)
    assert min(shipped) >= 9 and max(shipped) <= 17
    assert min(thin) <= 5 and max(thin) <= 17


def _plain_drums(n: int) -> list[digit_strips.Drum]:
    face = np.full((digit_strips.DRUM_H, 40, 3), 230, np.uint8)
    return [digit_strips.Drum(face, digit_strips.soft_target(0.0), 40.0) for _ in range(n)]


@pytest.mark.parametrize(
    ("painter", "option"), [("_drum_windows", "windows"), ("_pen_strokes", "strokes")]
)
def test_strips_without_an_option_draw_no_more_random_numbers(
    monkeypatch: pytest.MonkeyPatch, painter: str, option: str
) -> None:
    monkeypatch.setattr(digit_strips, painter, lambda *args: None)
    without, asked = np.random.default_rng(9), np.random.default_rng(9)
    digit_strips.render_strip(_plain_drums(4), without, scale=0.5, **{option: 0.0})
    digit_strips.render_strip(_plain_drums(4), asked, scale=0.5, **{option: 1.0})
    assert _state(without) != _state(asked)
    without.random()  # the one draw that decides whether a strip gets the option
    assert _state(without) == _state(asked)  # so the shipped recipe's stream is untouched


def test_drum_windows_outline_each_drum_darker_than_its_frame() -> None:
    image = np.full((100, 200, 3), 200, np.uint8)  # the frame
    faces = [(20, 40), (90, 40)]
    top = 18
    image[top : top + digit_strips.DRUM_H, 20:60] = 240
    image[top : top + digit_strips.DRUM_H, 90:130] = 240
    digit_strips._drum_windows(image, faces, top, (200, 200, 200), np.random.default_rng(4))
    gray = image[..., 0].astype(int)
    middle = top + digit_strips.DRUM_H // 2
    for x, w in faces:
        left, right = gray[middle, x - 4 : x + 4], gray[middle, x + w - 4 : x + w + 4]
        assert left.min() < 125 and right.min() < 125  # a rim on either side of the drum
        assert gray[middle, x + w // 2] == 240  # the drum's face shows through
    assert gray[middle, 75] == 200  # the frame between the windows


@pytest.mark.parametrize("seed", range(6))
def test_pen_strokes_ink_the_drums_and_keep_most_of_each_face(seed: int) -> None:
    image = np.full((200, 400, 3), 128, np.uint8)  # every ink stands out on grey
    drums = (50, 60, 350, 124)
    digit_strips._pen_strokes(image, drums, np.random.default_rng(seed))
    changed = np.abs(image.astype(int) - 128).max(axis=2) > 20
    x0, y0, x1, y1 = drums
    assert changed[y0:y1, x0:x1].any()
    assert changed[y0:y1, x0:x1].mean() < 0.5  # the digits under the ink stay readable


def test_rolling_share_sets_how_many_rendered_drums_sit_between_two_digits() -> None:
    renderer = digit_strips.DrumRenderer(digit_strips.find_fonts())
    shares = []
    for rolling in (0.0, 0.6):
        rng = np.random.default_rng(3)
        _, targets = digit_strips.counter_cells(400, rng, renderer, None, rolling=rolling)
        digits = targets[targets[:, -1] == 0]
        shares.append(float((digits.max(axis=1) < 1).mean()))
    assert shares[0] == 0.0 and shares[1] > 0.4
