"""Digital displays: the synthetic display renderer, light segments, frame edges, and reading
the value with its OBIS code and unit."""

from __future__ import annotations

import io
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from ocr import read_meter, sevenseg
from ocr.cli import run_read
from ocr.display_labels import unit_of
from ocr.panel import light_ink
from ocr.synth import encode_jpeg
from ocr.synth_display import KINDS, random_display, render_display
from tests.sevenseg_drawing import DigitShape


def test_the_renderer_is_deterministic_and_varies() -> None:
    assert np.array_equal(
        render_display(random_display("heat", 3)), render_display(random_display("heat", 3))
    )
    specs = [random_display(kind, seed) for kind in KINDS for seed in range(12)]
    assert len({s.look for s in specs}) >= 5
    assert len({len(s.reading + s.fraction) for s in specs}) >= 3
    assert {len(s.fraction) for s in specs} >= {0, 1, 2, 3}
    assert all(5 <= len(s.reading + s.fraction) <= 8 for s in specs)
    assert {s.unit for s in specs} >= {"kWh", "MWh", "GJ", "m³"}
    assert {s.obis for s in specs if s.kind == "electricity"} >= {"1.8.0", "1.8.1"}
    assert all(s.obis is None for s in specs if s.kind != "electricity")


@pytest.mark.parametrize(
    ("kind", "seed"), [("electricity", 8), ("electricity", 17), ("heat", 3), ("water", 2)]
)
def test_a_display_is_read_with_its_point_obis_code_and_unit(kind: str, seed: int) -> None:
    spec = random_display(kind, seed)
    photo = encode_jpeg(render_display(spec))
    result = read_meter(photo, integer_digits=len(spec.reading), display="lcd")
    assert (result.reading, result.fraction or "") == (spec.reading, spec.fraction)
    assert (result.obis, result.unit) == (spec.obis, spec.unit)
    assert result.display == "lcd"


def test_obis_code_and_unit_are_in_the_json_line(tmp_path: Path) -> None:
    spec = random_display("electricity", 6)
    photo = tmp_path / "strom.jpg"
    photo.write_bytes(encode_jpeg(render_display(spec)))
    out = io.StringIO()
    run_read([str(photo)], integer_digits=None, display="lcd", as_json=True, out=out)
    record = json.loads(out.getvalue())
    assert (record["obis"], record["unit"]) == ("1.8.1", "kWh")


@pytest.mark.parametrize(
    ("text", "unit"),
    [("kWh", "kWh"), ("KWh", "kWh"), ("MWh", "MWh"), ("GJ", "GJ"), ("m3", "m³"), ("hh 8", None)],
)
def test_units_from_tesseract_text(text: str, unit: str | None) -> None:
    assert unit_of(text) == unit


def test_light_segments_on_a_dark_panel_are_told_from_dark_ones() -> None:
    shape = DigitShape(50, 26, 6, 23)
    dark = np.full((96, 200), 200, np.uint8)
    for i, ch in enumerate("508"):
        for y0, y1, x0, x1 in shape.lit_boxes(ch, 30 + 45 * i):
            dark[y0:y1, x0:x1] = 40
    assert not light_ink(dark)
    assert light_ink(255 - dark)


def test_a_frame_edge_beside_the_digits_is_no_one() -> None:
    """A vertical frame line that runs on above the digits would read as a leading "1"."""
    shape = DigitShape(60, 30, 6, 18)
    ink = np.zeros((96, 220), np.uint8)
    ink[5:90, 10:14] = 1  # the frame's edge
    for i, ch in enumerate("342"):
        for y0, y1, x0, x1 in shape.lit_boxes(ch, 40 + 44 * i):
            ink[y0:y1, x0:x1] = 1
    digits = sevenseg.read_digits(ink)
    assert digits is not None
    assert [int(p.argmax()) for p in digits.probs] == [3, 4, 2]


@pytest.mark.parametrize(
    ("kind", "seed"),
    [
        ("heat", 0),  # a light panel in a dark case: the case is found, the panel by its edges
        ("water", 32),  # a black panel in a light case on a dark background
        ("heat", 25),  # no decimals; the serial printed under it read as digits with a point
        ("water", 17),  # the window's edges run on above and below the digits
        ("water", 21),  # a frame drawn around the digits
    ],
)
def test_displays_in_cases_and_frames_are_read(kind: str, seed: int) -> None:
    spec = random_display(kind, seed)
    result = read_meter(render_display(spec), integer_digits=len(spec.reading), display="lcd")
    assert (result.reading, result.fraction or "") == (spec.reading, spec.fraction)


def test_the_wide_draw_varies_more_and_keeps_the_value() -> None:
    narrow = [random_display(kind, seed) for kind in KINDS for seed in range(20)]
    wide = [random_display(kind, seed, wide=True) for kind in KINDS for seed in range(20)]
    assert [(s.reading, s.fraction, s.obis, s.unit) for s in narrow] == [
        (s.reading, s.fraction, s.obis, s.unit) for s in wide
    ]
    assert len({s.look for s in wide}) > len({s.look for s in narrow})
    assert any(s.streak for s in wide) and any(s.jpeg for s in wide) and any(s.label for s in wide)
    assert not any(s.streak or s.jpeg or s.label or s.shade for s in narrow)
    assert max(s.perspective for s in wide) > max(s.perspective for s in narrow)


def test_some_displays_leave_their_leading_zeros_unlit() -> None:
    plain = [random_display(kind, seed) for kind in KINDS for seed in range(20)]
    drawn = [random_display(kind, seed, blanks=True) for kind in KINDS for seed in range(20)]
    assert [replace(s, blank=False) for s in drawn] == plain  # nothing else drawn otherwise
    blank = [s for s in drawn if s.blank and s.reading.startswith("0")]
    assert blank and not any(s.blank for s in plain)
    for s in blank:
        assert s.lit.replace(" ", "0") == s.shown and s.lit.startswith(" ")
    assert all(s.lit == s.shown for s in drawn if not s.blank)


def test_the_worn_draw_adds_wear_and_leaves_the_plain_draw_alone() -> None:
    plain = [random_display(kind, seed) for kind in KINDS for seed in range(20)]
    worn = [random_display(kind, seed, worn=True) for kind in KINDS for seed in range(20)]
    assert all(s.fade == s.patchy == 0.0 and s.point_scale == 1.0 for s in plain)
    assert any(s.patchy > 0 for s in worn) and any(s.point_scale < 1.0 for s in worn)
    assert any(len(s.reading) <= 3 for s in worn) and all(len(s.reading) >= 4 for s in plain)
    spec = next(s for s in worn if s.patchy > 0.3 and s.fade > 0.15)
    spotless = replace(spec, fade=0.0, segment_fade=0.0, patchy=0.0)
    assert not np.array_equal(render_display(spec), render_display(spotless))


def test_a_display_among_larger_dark_regions_is_still_read() -> None:
    """The case, and dark patches of the background, are larger than the display's window."""
    spec = random_display("electricity", 39, wide=True)
    result = read_meter(render_display(spec), integer_digits=len(spec.reading), display="lcd")
    assert (result.reading, result.fraction or "") == (spec.reading, spec.fraction)
