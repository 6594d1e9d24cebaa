"""Synthetic drum counters of many makes (ocr/synth_drums.py), their bench, and reading them:
Ferraris counters with a red-framed decimal drum, gas meters with three red drums."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from bench import synthetic_drums
from ocr import read_meter, read_meter_hypotheses
from ocr.counter import _framed, _red_sums
from ocr.digits import NO_DIGIT
from ocr.digits_logic import find_run
from ocr.synth_drums import (
    KINDS,
    counter_window,
    random_meter,
    random_style,
    render_counter_meter,
)


def test_the_same_seed_gives_the_same_photo_and_another_seed_another() -> None:
    a, b, c = random_meter("gas", 7), random_meter("gas", 7), random_meter("gas", 8)
    assert np.array_equal(a.image, b.image) and (a.reading, a.fraction) == (b.reading, b.fraction)
    assert not np.array_equal(a.image, c.image)


def test_styles_cover_the_makes_of_each_kind() -> None:
    rng = np.random.default_rng(0)
    styles = {kind: [random_style(kind, rng) for _ in range(60)] for kind in KINDS}
    ferraris = styles["ferraris"]
    assert {s.integer_digits for s in ferraris} == {5, 6, 7}
    assert {s.decimals for s in ferraris} == {1} and {s.unit for s in ferraris} == {"kWh"}
    assert {s.red_frame for s in ferraris} == {s.white_drums for s in ferraris} == {True, False}
    assert {bool(s.drum_frame) for s in ferraris} == {s.scale for s in ferraris} == {True, False}
    assert {s.metallic for s in ferraris} == {s.bezel[0] > 150 for s in ferraris} == {True, False}
    assert {s.dark_face > 50 for s in ferraris} == {True, False}
    assert {(s.integer_digits, s.decimals, s.unit) for s in styles["gas"]} == {(5, 3, "m3")}
    assert min(s.dials for s in styles["water"]) >= 3
    assert {s.decimals for s in styles["water"]} == {0, 1, 2, 3}


def test_a_reading_must_fill_the_styles_drums() -> None:
    style = random_style("gas", np.random.default_rng(1))
    with pytest.raises(ValueError, match="drum counts"):
        render_counter_meter("1234", "567", style)


def test_a_red_frame_around_a_drum_makes_it_red_and_a_mark_beside_one_does_not() -> None:
    strip = np.full((48, 150, 3), 30, np.uint8)
    strip[:, 90:92] = strip[:, 118:120] = (40, 40, 200)  # a frame around the cell at 90..120
    strip[:, 28:30] = (40, 40, 200)  # a red mark between the first two cells
    sums = _red_sums(strip)
    framed = _framed(sums, 90, 30, 30)
    beside_mark, beside_frame = _framed(sums, 30, 30, 30), _framed(sums, 60, 30, 30)
    plain = _framed(sums, 0, 30, 30)
    assert framed > 15 and max(beside_mark, beside_frame) < 5 and plain < 5


def test_a_drum_framed_in_red_is_the_decimal_only_where_no_drum_is_red() -> None:
    probs = np.zeros((7, NO_DIGIT + 1))
    probs[:, 3] = 1.0  # seven sure digit cells
    black, red = [2.0] * 7, [2.0] * 4 + [40.0] * 3
    one = (2.0,) * 6 + (30.0,)
    two = (2.0,) * 5 + (30.0, 30.0)
    framed_run, red_run = find_run(probs, black, one), find_run(probs, red, one)
    assert framed_run is not None and framed_run.decimals == 1
    assert red_run is not None and red_run.decimals == 3  # red drums speak first
    around_two = find_run(probs, black, two)
    assert around_two is not None and around_two.decimals == 0  # a frame holds one drum


def test_red_just_right_of_a_framed_drum_is_the_frame_and_the_framed_drum_the_decimal() -> None:
    """A cell cut half a drum right of a red-framed decimal drum sees the frame's right side in
    its middle: the framed drum is the decimal, not the last integer drum."""
    probs = np.zeros((8, NO_DIGIT + 1))
    probs[:, 3] = 1.0
    spill = [1.0] * 7 + [8.0]
    framed = (0.3,) * 6 + (36.0, 8.0)
    run = find_run(probs, spill, framed)
    assert run is not None and (len(run.cells), run.decimals) == (7, 1)
    red_drums = find_run(probs, [1.0] * 5 + [40.0] * 3, (0.3,) * 4 + (6.0, 8.0, 8.0, 8.0))
    assert red_drums is not None and (len(red_drums.cells), red_drums.decimals) == (8, 3)


def test_a_ferraris_counter_whose_frame_spills_into_the_next_cell_reads_its_tenth_drum() -> None:
    """Held-out seed 1008: seven drums and a red-framed tenth drum; the frame's right side once
    made the framed drum the last integer drum (`0008611`, accepted)."""
    sample = random_meter("ferraris", 1008, extras=False)
    result = read_meter(
        sample.image,
        integer_digits=sample.integer_digits,
        display="drum",
        decimal_digits=1,
        meter_number=False,
    )
    assert (result.reading, result.fraction) == (sample.reading, sample.fraction)


@pytest.mark.parametrize(("kind", "seed"), [("gas", 0), ("ferraris", 2), ("ferraris", 7)])
def test_drum_counters_of_other_makes_are_read_with_their_decimals(kind: str, seed: int) -> None:
    """Ferraris seeds 2 and 7: black drums, the decimal drum black too and framed in red (seed
    7 also with light frames around the drums, a bright bezel and the place values below)."""
    sample = random_meter(kind, seed, extras=False)  # type: ignore[arg-type]
    result = read_meter(
        sample.image, integer_digits=sample.integer_digits, display="drum", meter_number=False
    )
    assert (result.reading, result.fraction) == (sample.reading, sample.fraction)


def test_the_bench_reports_exact_digits_fraction_and_acceptance_per_set() -> None:
    def outcome(
        truth: str, reading: str | None, fraction: str | None, accepted: bool
    ) -> synthetic_drums.Outcome:
        return synthetic_drums.Outcome("gas", 0, truth, "123", reading, fraction, 0.5, accepted)

    rows = [outcome("00042", "00042", "123", True), outcome("00042", "00043", "123", True)]
    rows.append(outcome("00042", "00042", "124", False))
    header, gas = synthetic_drums.report(rows)
    assert header.split() == [
        "set", "n", "exact", "digits", "fraction", "accepted", "precision", "median", "s"
    ]  # fmt: skip
    assert gas.split()[1:8] == ["3", "66.7%", "93.3%", "33.3%", "66.7%", "50.0%", "0.500"]


def test_small_light_digits_on_metallic_grey_drums_are_found() -> None:
    """White digits on grey drums, the meter photographed from afar: the local thresholds fill
    the digits solid, and only the stroke pass on light strokes at full size finds them
    (without it the meter number is read)."""
    style = random_style("ferraris", np.random.default_rng([24, 0]))
    assert (style.dark_face, style.drum_frame, style.integer_digits) == (104, 0, 6)
    image = render_counter_meter(
        "010238",
        "7",
        style,
        angle=-6.704,
        perspective=0.0567,
        glare=True,
        noise=3.856,
        seed=63312635,
        meter_number="44484848",
        distance=1.4818,
    )
    result = read_meter(image, integer_digits=6, display="drum", meter_number=False)
    assert (result.reading, result.fraction) == ("010238", "7")


def test_one_decimal_from_master_data_makes_a_single_red_drum_no_doubt() -> None:
    """A Ferraris meter's single red drum is its tenth drum where master data says so: the read
    is surer than without the hint, through `read_meter` and `read_meter_hypotheses` alike."""
    sample = random_meter("ferraris", 1, extras=False)
    digits = sample.integer_digits
    plain = read_meter(sample.image, integer_digits=digits, display="drum", meter_number=False)
    told = read_meter(
        sample.image, integer_digits=digits, display="drum", meter_number=False, decimal_digits=1
    )
    (both,) = read_meter_hypotheses(
        sample.image, [(digits, "drum")], meter_number=False, decimal_digits=1
    )
    assert plain.reading == told.reading == both.reading == sample.reading
    assert told.fraction == sample.fraction
    assert told.confidence > plain.confidence and both.confidence == told.confidence


def _ink_height(a: np.ndarray, b: np.ndarray) -> int:
    """Height of the band where two photos differ (what changed between them)."""
    rows = np.nonzero((np.abs(a.astype(int) - b.astype(int)).max(axis=2) > 60).any(axis=1))[0]
    return int(rows.max() - rows.min() + 1) if rows.size else 0


@pytest.mark.parametrize("seed", range(4))
def test_a_ferraris_plate_prints_its_meter_number_in_digits_about_the_drums_size(seed: int) -> None:
    """Real plates print the meter number (and ratings, constants, the year) about as large as
    the counter's digits: the reader has to tell the counter from a print by more than size."""
    style = random_style("ferraris", np.random.default_rng(seed))
    zeros = "0" * style.integer_digits

    def photo(reading: str, number: str) -> np.ndarray:
        return render_counter_meter(reading, "0", style, seed=seed, meter_number=number)

    plain = photo(zeros, "11111111")
    counter = _ink_height(plain, photo("4" * style.integer_digits, "11111111"))
    number = _ink_height(plain, photo(zeros, "44444444"))
    assert counter > 0 and 0.6 * counter <= number <= 1.2 * counter


def test_marker_letters_are_written_over_the_counter_and_nowhere_else() -> None:
    style = random_style("ferraris", np.random.default_rng(3))
    style = replace(style, white_drums=False, integer_digits=6)
    plain = render_counter_meter("012345", "6", style, seed=5)
    marked = render_counter_meter("012345", "6", style, seed=5, marker="P12")
    changed = np.abs(marked.astype(int) - plain.astype(int)).max(axis=2) > 40
    ys = np.nonzero(changed)[0]
    assert changed.sum() > 300  # strokes, not specks
    assert ys.max() - ys.min() < 0.6 * plain.shape[0]  # about the counter, not the whole photo


def test_extras_drawn_apart_leave_the_other_renders_as_they_were() -> None:
    with_extras = [random_meter("ferraris", seed) for seed in range(12)]
    without = [random_meter("ferraris", seed, extras=False) for seed in range(12)]
    same = [np.array_equal(a.image, b.image) for a, b in zip(with_extras, without, strict=True)]
    assert any(same) and not all(same)
    assert all(
        (a.reading, a.fraction) == (b.reading, b.fraction)
        for a, b in zip(with_extras, without, strict=True)
    )


def test_the_unit_on_the_windows_band_is_printed_light_beside_the_drums() -> None:
    style = replace(random_style("ferraris", np.random.default_rng(4)), white_drums=False)
    plain = counter_window("01234", "5", style, 0.0)
    banded = counter_window("01234", "5", replace(style, unit_in_window=True), 0.0)
    band = banded[:, plain.shape[1] :]
    assert banded.shape[1] > plain.shape[1] + style.drum_w
    assert band.max() > 200 and np.median(band) < 60  # light letters on the dark band
