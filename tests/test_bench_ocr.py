"""The OCR benches' figures and helpers (bench/ocr.py, bench/early_exit.py, bench/fit_ranker.py)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from bench import early_exit, fit_ranker
from bench import ocr as bench_ocr
from core.types import MeterHint


def outcome(label: str, reading: str | None, confidence: float, accepted: bool = False):
    return bench_ocr.Outcome(
        "f.jpg", "water", label, reading, None, confidence, accepted, None, 0.1
    )


def test_reachable_stops_before_the_first_confident_mistake() -> None:
    right = [outcome("42", "00042", 0.99 - i / 1000) for i in range(100)]
    wrong = outcome("42", "10042", 0.9505)
    unread = outcome("42", None, 0.0)
    coverage, threshold = bench_ocr.reachable([*right, wrong, unread])
    # 40 right reads above the mistake; fewer than 200 reads cannot absorb one mistake at 99.5 %
    assert threshold == pytest.approx(0.951)
    assert coverage == pytest.approx(40 / 102)


def test_reachable_absorbs_a_mistake_among_enough_right_reads() -> None:
    rows = [outcome("42", "42", 0.9)] * 250 + [outcome("42", "43", 0.95)]
    assert bench_ocr.reachable(rows) == (1.0, 0.9)


def test_reachable_is_zero_when_even_the_surest_read_is_wrong() -> None:
    rows = [outcome("7", "8", 0.9), outcome("7", "7", 0.5)]
    assert bench_ocr.reachable(rows) == (0.0, 1.0)


def test_report_counts_leading_zeros_as_exact() -> None:
    rows = [
        outcome("92", "00092", 0.95, accepted=True),
        outcome("92", "00093", 0.2),
    ]
    header, water = bench_ocr.report(rows)
    assert header.split()[:3] == ["group", "n", "exact"]
    n, exact, digits, coverage, precision = water.split()[1:6]
    assert (n, exact, digits, coverage, precision) == ("2", "50.0%", "90.0%", "50.0%", "100.0%")


@pytest.mark.parametrize(
    ("group", "label", "reading", "fraction", "right"),
    [
        ("lcd", "229", "228", "27", True),  # the label rounded the display's decimals up
        ("lcd", "139", "139", "57", True),  # ... or cut them off
        ("lcd", "48", "47", "00", False),  # nothing after the point to round up
        ("lcd", "48", "47", None, False),
        ("lcd", "80", "73", "5", False),
        ("water", "93", "00092", "5", False),  # drum labels are the integer part as shown
        ("water", "92", "00092", "5", True),
        ("lcd", "92", None, None, False),
    ],
)
def test_a_read_matches_its_label(
    group: str, label: str, reading: str | None, fraction: str | None, right: bool
) -> None:
    assert bench_ocr.matches(group, label, reading, fraction) is right


def test_early_stops_count_reads_that_differ_from_the_whole_search() -> None:
    searched = early_exit.Searched
    photos = [
        # sure after one row, and the whole search agrees
        searched("counted", "42", [(1, "00042", 0.93, True), (5, "00042", 0.8, True)]),
        # sure after one row, but the whole search found the counter elsewhere
        searched("counted", "33", [(1, "55306", 0.87, True), (5, "00033", 0.7, True)]),
        # sure only at the end: never stops early
        searched("counted", "7", [(1, "00007", 0.5, True), (5, "00007", 0.99, True)]),
        # sure but incomplete (no decimals found): does not stop
        searched("counted", "8", [(1, "00008", 0.97, False), (5, "00008", 0.9, True)]),
    ]
    at_085 = early_exit.stops(photos, 0.85)
    assert (at_085.stopped, at_085.differ, at_085.wrong, at_085.by_rows) == (2, 1, 1, {1: 2})
    at_090 = early_exit.stops(photos, 0.9)
    assert (at_090.stopped, at_090.differ, at_090.wrong) == (1, 0, 0)


def test_rows_with_digits_in_the_labelled_counter_box_are_the_counter() -> None:
    from ocr.locate import Blob, Row

    def row(y: float) -> Row:
        blobs = tuple(Blob(100 + 20 * i, y, 10, 5, 0.0, 0) for i in range(5))
        return Row(blobs, (140.0, y), (1.0, 0.0), 10, 20, 0)

    # the box in the photo's pixels; the rows in the work image's, half as large
    right = fit_ranker.on_counter([row(50), row(200), row(70)], "180 80 300 120", 0.5)
    assert right.tolist() == [1.0, 0.0, 0.0]  # the last one runs just below the box


def test_each_photo_is_searched_with_a_promise_model_that_did_not_see_it() -> None:
    """The promise model each photo is searched with is fitted on the other folds only (the
    shipped one saw every labelled box, as it never will on a customer's photo); a photo
    without rows gets the one fitted on all photos."""
    from ocr.ranking import FEATURES

    rng = np.random.default_rng(3)

    def photo(rows: int) -> fit_ranker.Photo:
        x = rng.normal(size=(rows, len(FEATURES)))
        right = np.zeros(rows)
        right[: min(rows, 1)] = 1.0
        return fit_ranker.Photo("water", x, right, [])

    photos = [photo(3) for _ in range(20)] + [photo(0)]
    model, held = fit_ranker._promise(photos, 0.1)
    assert len(held) == len(photos)
    everyone = model["weights"]
    assert isinstance(everyone, list)
    folds = {json.dumps(h) for h in held[:20]}
    assert len(folds) == fit_ranker.FOLDS  # one model per fold, none of them the shipped one
    assert not any(np.allclose(h[0], everyone, atol=1e-6) for h in held[:20])
    assert np.allclose(held[20][0], everyone, atol=1e-6)


def test_the_spread_over_fold_assignments_starts_with_the_scripts_own_folds() -> None:
    """The first assignment is the one the knot is set on; the others assign the photos to the
    folds differently, so their counts may differ."""
    rng = np.random.default_rng(5)

    def photo() -> fit_ranker.Photo:
        x = rng.normal(size=(3, 2))
        right = np.zeros(3)
        right[int(np.argmax(x[:, 0] + rng.normal(scale=1.5, size=3)))] = 1.0
        return fit_ranker.Photo("water", x, right, ["00100", "00700", "00400"])

    photos = [photo() for _ in range(60)]
    counts = fit_ranker.spread(photos, 0.1, 4)
    own = fit_ranker.cross_validated(photos, 0.1)
    assert len(counts) == 4
    assert counts[0] == (sum(ok for ok, _ in own), round(fit_ranker.knot([own])[1]))
    assert len({tuple(fit_ranker.cross_validated(photos, 0.1, seed)) for seed in range(4)}) > 1
    assert fit_ranker._spread_line([(10, 4), (12, 6)]) == (
        "  over 2 fold assignments: exact 11.0 (10-12), accepted 5.0 (4-6)"
    )


def test_the_knot_holds_the_precision_with_a_margin() -> None:
    """Right reads only: the knot needs enough of them that the lower Wilson bound reaches
    99.5 % (199 at z = 1), not just 20 with none wrong."""
    right = [(True, 0.99 - i / 1000) for i in range(250)]
    at, accepted = fit_ranker.knot([right])
    assert (at, accepted) == (pytest.approx(0.99 - 249 / 1000), 250)
    assert fit_ranker.knot([right[:150]]) == (None, 0.0)
    # one confident mistake among them: the bound never reaches 99.5 %
    assert fit_ranker.knot([[*right[:10], (False, 0.985), *right[10:]]])[0] is None


def test_the_knot_averages_the_counts_over_fold_assignments() -> None:
    right = [(True, 0.99 - i / 1000) for i in range(250)]
    # another assignment of the photos to folds gives one of them a low, wrong read
    wrong_low = [*right, (False, 0.5)]
    at, accepted = fit_ranker.knot([right, wrong_low])
    assert (at, accepted) == (pytest.approx(0.99 - 249 / 1000), 250)
    # the same wrong read near the top in that assignment: 0.5 of an error on average is too many
    wrong_high = [*right[:5], (False, 0.9849), *right[5:]]
    assert fit_ranker.knot([right, wrong_high]) == (None, 0.0)
    assert fit_ranker.wilson_lower(200, 200) == pytest.approx(200 / 201)


def test_a_photo_has_a_right_candidate_when_any_of_its_candidates_is_right() -> None:
    def photo(*right: float) -> fit_ranker.Photo:
        return fit_ranker.Photo("water", np.zeros((len(right), 2)), np.array(right), [])

    photos = [photo(0.0, 1.0), photo(0.0, 0.0), photo(), photo(1.0, 1.0)]
    assert fit_ranker.with_right_candidate(photos) == 2


def test_lcd_photos_get_a_digit_count_only_when_asked() -> None:
    water = MeterHint(bench_ocr.WATER_DIGITS, "drum")
    assert bench_ocr.meter_hint("water", "92", "unknown") == water
    assert bench_ocr.meter_hint("lcd", "228") == MeterHint()
    assert bench_ocr.meter_hint("lcd", "228", "lcd") == MeterHint(3, "lcd")
    assert bench_ocr.meter_hint("lcd", "228", "unknown") == MeterHint(3, None)


def test_the_electricity_drum_photos_are_a_group_of_their_own() -> None:
    """Measured apart from the water meters (and never fitted on), read as drum counters."""
    assert bench_ocr.group_of("anhkhoi-emic__a.jpg") == "emic"
    assert bench_ocr.group_of("toloka__a.jpg") == "water"
    assert bench_ocr.group_of("sacha-7seg__a.jpg") == "lcd"
    assert bench_ocr.meter_hint("emic", "7137") == MeterHint(bench_ocr.WATER_DIGITS, "drum")


def test_compare_names_every_photo_whose_result_changed(tmp_path: Path) -> None:
    before = [
        outcome("42", "00042", 0.912345678, accepted=True),
        bench_ocr.Outcome("g.jpg", "lcd", "7", "00007", None, 0.5, False, "x", 0.1),
    ]
    path = tmp_path / "before.csv"
    bench_ocr.dump(before, path)
    assert bench_ocr.compare(before, path) == (2, [])
    nudged = bench_ocr.Outcome("f.jpg", "water", "42", "00042", None, 0.9123458, True, None, 0.2)
    changed = bench_ocr.Outcome("g.jpg", "lcd", "7", "00001", None, 0.5, False, "x", 0.1)
    compared, differences = bench_ocr.compare([nudged, changed], path)
    assert compared == 2
    assert differences == ["g.jpg: reading '00007' -> '00001'"]
    moved = bench_ocr.Outcome("f.jpg", "water", "42", "00042", None, 0.9133, True, None, 0.2)
    assert bench_ocr.compare([moved], path)[1][0].startswith("f.jpg: confidence 0.912345678")


def test_the_emic_group_is_read_as_master_data_gives_it_and_never_fitted_on(tmp_path: Path) -> None:
    rows = [
        ("toloka__a.jpg", "92", "drum"),
        ("sacha-7seg__b.jpg", "120", "lcd"),
        ("anhkhoi-emic__c.jpg", "7137", "drum"),
    ]
    lines = ["file,reading,display"] + [",".join(row) for row in rows]
    (tmp_path / "labels.csv").write_text("\n".join(lines) + "\n")
    groups = [t[2] for t in bench_ocr.photo_tasks(tmp_path, None, None, False)]
    assert groups == ["water", "lcd"]  # what the fitting benches read
    every = [t[2] for t in bench_ocr.photo_tasks(tmp_path, None, None, False, every=True)]
    assert every == ["water", "lcd", "emic"]
    assert bench_ocr.meter_hint("emic", "7137") == MeterHint(5, "drum")
    emic = bench_ocr.Outcome("c.jpg", "emic", "7137", "07137", "8", 0.9, True, None, 0.1)
    assert emic.exact and emic.digit_hits() == (5, 5)
