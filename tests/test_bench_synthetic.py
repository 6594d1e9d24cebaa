"""bench/synthetic.py: seeded sets, what counts as exact, and the report's columns."""

from __future__ import annotations

from bench import synthetic
from bench.synthetic import Outcome, Truth


def _outcome(reading: str | None, fraction: str | None, obis: str | None = "1.8.0") -> Outcome:
    truth = Truth("004731", "4", "1.8.0", "kWh", 6, "lcd")
    return Outcome("electricity_lcd", 0, truth, reading, fraction, obis, "kWh", 0.2)


def test_exact_needs_the_integer_value_and_the_decimals() -> None:
    assert _outcome("004731", "4").exact
    assert _outcome("4731", "4").exact  # leading zeros not shown
    assert not _outcome("0047314", None).exact  # the point missed
    assert not _outcome("004731", "41").exact
    assert _outcome("0047314", None).digit_hits() == (7, 7)  # digits right, split wrong
    assert _outcome("804731", "1").digit_hits() == (5, 7)


def test_report_counts_obis_and_unit_per_set() -> None:
    lines = synthetic.report([_outcome("004731", "4"), _outcome("004731", "4", obis=None)])
    assert lines[1].split()[:6] == ["electricity_lcd", "2", "100.0%", "100.0%", "50.0%", "100.0%"]


def test_a_set_renders_the_same_photo_for_a_seed() -> None:
    image, truth = synthetic.SETS["water_lcd"](7)
    again, same = synthetic.SETS["water_lcd"](7)
    assert (image == again).all() and truth == same
    assert truth.display == "lcd" and truth.integer_digits == len(truth.reading)


def test_a_wide_set_draws_another_photo_of_the_same_value() -> None:
    image, truth = synthetic.SETS["heat_lcd"](5)
    wide, same = synthetic.SETS["heat_lcd_wide"](5)
    assert truth == same
    assert image.shape != wide.shape or (image != wide).any()
