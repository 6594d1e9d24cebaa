"""The display acceptance: what each piece of a 7-segment read's evidence does to its
probability, and that a display is accepted only on that evidence."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from bench import fit_display
from core.types import DigitRead
from ocr import display_confidence, sevenseg, trust
from ocr.counter import Cells
from ocr.digits_logic import Run
from ocr.display_confidence import Evidence, features, probability
from ocr.locate import Blob, Row
from ocr.reads import Candidate, Described
from tests.sevenseg_drawing import DigitShape, draw_text

H, W, PITCH, T = 60, 30, 44, 6
TOP, LEFT = 18, 20
SHAPE = DigitShape(H, W, T, TOP)
FEATURES = display_confidence.FEATURES


def _ink(text: str) -> np.ndarray:
    return draw_text(text, SHAPE, pitch=PITCH, left=LEFT)


def _segments(ink: np.ndarray) -> sevenseg.Segments:
    digits = sevenseg.read_digits(ink)
    assert digits is not None
    return sevenseg.Segments(digits.coverage, digits.boxes, float(H), light=False)


def _x(segments: sevenseg.Segments, agreeing: int = 1) -> np.ndarray:
    return features(Evidence(segments, agreeing))


def _worse(name: str, value: float) -> tuple[float, float]:
    """The probability of a plain read, and of the same read with one feature set to `value`."""
    x = _x(_segments(_ink("305.28")))
    changed = x.copy()
    changed[FEATURES.index(name)] = value
    return probability(x), probability(changed)


def test_a_plainly_drawn_read_has_every_segment_clear() -> None:
    x = _x(_segments(_ink("305.28")))
    assert x[FEATURES.index("weakest_margin")] == 1.0
    assert x[FEATURES.index("ambiguity")] == 1.0  # each digit one segment from another
    assert x[FEATURES.index("uneven_width")] == 0.0


def test_a_half_lit_middle_bar_makes_an_eight_nearly_a_zero() -> None:
    ink = _ink("305.28")
    eight = LEFT + 4 * PITCH  # the "8" after the point's digit
    y0, y1, x0, x1 = SHAPE.segment_boxes(eight)["g"]
    ink[y0:y1, x0 + (x1 - x0) // 2 : x1] = 0  # half of its middle bar lost (glare)
    clear, weak = _x(_segments(_ink("305.28"))), _x(_segments(ink))
    margin, ambiguity = FEATURES.index("weakest_margin"), FEATURES.index("ambiguity")
    assert weak[margin] < 0.5 < clear[margin]
    assert weak[ambiguity] > clear[ambiguity]
    assert probability(weak) < probability(clear)


def test_a_weak_segment_lowers_the_probability() -> None:
    plain, weak = _worse("weakest_margin", 0.1)
    assert weak < plain


def test_an_ambiguous_digit_lowers_the_probability() -> None:
    plain, ambiguous = _worse("ambiguity", 1.8)
    assert ambiguous <= plain  # the fit leaves the feature out where the data turn it round


def test_uneven_digit_widths_lower_the_probability() -> None:
    plain, uneven = _worse("uneven_width", 0.5)
    assert uneven < plain


def test_a_short_read_is_less_likely_a_whole_display() -> None:
    plain, short = _worse("few_digits", 1.0)
    assert short < plain
    assert _x(_segments(_ink("25.0")))[FEATURES.index("few_digits")] == 1.0
    assert _x(_segments(_ink("225.00")))[FEATURES.index("few_digits")] == 0.0


def test_other_crops_reading_the_same_make_a_read_likelier() -> None:
    segments = _segments(_ink("305.28"))
    assert probability(_x(segments, agreeing=2)) > probability(_x(segments, agreeing=0))


def test_a_read_of_part_of_the_display_counts_the_digits_beside_it() -> None:
    segments = _segments(_ink("305.28"))
    part = segments.part(1, 5)
    assert part.beside == 1 and part.part(0, 3).beside == 2
    beside = FEATURES.index("beside")
    assert _x(segments)[beside] == 0.0 and _x(part)[beside] == 1.0
    plain, cut = _worse("beside", 1.0)
    assert cut <= plain


def test_a_decimal_point_seen_only_one_way_is_unconfirmed() -> None:
    segments = _segments(_ink("305.28"))
    unconfirmed = FEATURES.index("unconfirmed_point")
    assert features(Evidence(segments, 1, point=2))[unconfirmed] == 1.0
    confirmed = replace(segments, point_confirmed=True)
    assert features(Evidence(confirmed, 1, point=2))[unconfirmed] == 0.0
    assert features(Evidence(segments, 1, point=0))[unconfirmed] == 0.0  # no point read


def test_the_fit_keeps_what_the_evidence_rests_on() -> None:
    segments = replace(_segments(_ink("305.28")), point_confirmed=True, beside=1)
    photo = fit_display.Photo("p", fit_display._as_json(Evidence(segments, 2, 2)), True, "305", "")
    assert photo.x is not None
    assert (photo.x == features(Evidence(segments, 2, 2))).all()


def test_a_box_much_wider_than_the_others_is_uneven() -> None:
    assert display_confidence.uneven_width([(0, 29), (44, 73), (88, 132)]) == pytest.approx(0.5)


def _described(text: str, segments: sevenseg.Segments | None, *, model: bool = False) -> Described:
    blobs = tuple(Blob(300 + 30 * i, 200.0, 40.0, 20.0, 0.0, 0) for i in range(len(text)))
    row = Row(blobs, (345.0, 200.0), (1.0, 0.0), 40.0, 30.0, 0.0, lcd=True)
    digits = [DigitRead(int(ch), 0.98) for ch in text]
    probs = np.array([np.eye(11)[int(ch)] for ch in text])
    cells = Cells([], [0.0] * len(text), [True] * len(text), False, np.zeros((1, 1)), [], 8, [])
    candidate = Candidate(
        row,
        Run(list(probs), 0, 0.98, 0),
        cells,
        digits,
        2,
        [],
        probs if model else None,
        segments=segments,
    )
    return Described(candidate, digits[:-2], digits[-2:], None, 1.0, False)


def test_a_display_read_without_segment_evidence_is_never_accepted() -> None:
    read = _described("30528", None, model=True)
    assert display_confidence.confidence(read, [read], 0.99) < trust.KNOT_CONFIDENCE


def test_the_digit_model_read_of_a_display_rests_on_its_segment_read() -> None:
    segments = _segments(_ink("305.28"))
    by_model = _described("30528", None, model=True)
    by_segments = _described("30528", segments)
    other = _described("31528", segments)  # another integer part
    assert display_confidence.supporting(by_model, [by_model, by_segments]) is segments
    assert display_confidence.supporting(by_model, [by_model, other]) is None


def test_confidence_is_the_probability_mapped_through_the_knot(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    segments = _segments(_ink("305.28"))
    read = _described("30528", segments)
    p = probability(features(Evidence(segments, 0)))
    monkeypatch.setattr(display_confidence, "KNOT", p - 0.01)
    assert display_confidence.confidence(read, [read], 0.0) >= trust.KNOT_CONFIDENCE
    monkeypatch.setattr(display_confidence, "KNOT", min(1.0, p + 0.01))
    assert display_confidence.confidence(read, [read], 1.0) < trust.KNOT_CONFIDENCE
    monkeypatch.setattr(display_confidence, "KNOT", None)
    assert display_confidence.confidence(read, [read], 1.0) < trust.KNOT_CONFIDENCE


def test_a_part_of_the_evidence_keeps_its_digits() -> None:
    segments = _segments(_ink("305.28"))
    part = segments.part(1, 4)
    assert part.boxes == segments.boxes[1:4] and (part.coverage == segments.coverage[1:4]).all()
    assert replace(part, light=True).light


def test_a_feature_the_data_would_turn_against_its_direction_is_left_out() -> None:
    rng = np.random.default_rng(1)
    x = rng.random((400, 2))
    right = (rng.random(400) > x[:, 0]).astype(float)  # the first feature makes reads wrong
    free, _ = fit_display.fit(x, right, l2=1.0)
    held, _ = fit_display.fit(x, right, l2=1.0, directions=(1, 0))
    assert free[0] < -1.0 and held[0] == 0.0
    assert display_confidence.DIRECTIONS[FEATURES.index("ambiguity")] == -1


def test_the_fit_finds_the_sign_of_a_doubt_and_writes_the_module(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    x = rng.random((400, 2))
    right = (rng.random(400) > x[:, 0]).astype(float)  # the first feature makes reads wrong
    weights, _ = fit_display.fit(x, right, l2=1.0)
    assert weights[0] < -1.0 and abs(weights[1]) < 1.0
    module = tmp_path / "module.py"
    module.write_text(Path(display_confidence.__file__).read_text())
    fit_display.write_constants(np.array([-1.5, 0.25]), 2.0, 0.97, module)
    text = module.read_text()
    assert "WEIGHTS = (-1.500000, 0.250000)" in text and "KNOT: float | None = 0.970000" in text


def test_photos_of_one_label_share_a_fold() -> None:
    photos = [
        fit_display.Photo(f"p{i}", None, True, None, label)
        for i, label in enumerate(["161", "161", "42", "42", "42", "7", "8", "9"])
    ]
    for seed in range(3):
        folds = fit_display.folds(photos, 3, seed)
        assert sorted(i for fold in folds for i in fold) == list(range(len(photos)))
        fold_of = {i: k for k, fold in enumerate(folds) for i in fold}
        assert fold_of[0] == fold_of[1] and fold_of[2] == fold_of[3] == fold_of[4]


def test_a_synthetic_display_is_read_against_the_value_it_shows() -> None:
    from ocr.synth_display import random_display

    render = fit_display.read_render(("water", 1))
    assert render.file == "water:1" and render.label == random_display("water", 1).reading
    assert render.right and render.evidence is not None
    assert render.x is not None and render.x[FEATURES.index("few_digits")] == 0.0


def _render(file: str, text: str, right: bool, weak: bool) -> fit_display.Photo:
    ink = _ink(text)
    if weak:  # half of the last digit's middle bar lost: nearly another digit
        y0, y1, x0, x1 = SHAPE.segment_boxes(LEFT + (len(text) - 2) * PITCH)["g"]
        ink[y0:y1, x0 + (x1 - x0) // 2 : x1] = 0
    evidence = fit_display._as_json(Evidence(_segments(ink), 0 if weak else 2))
    return fit_display.Photo(file, evidence, right, text, text)


def test_the_synthetic_fit_sets_the_knot_on_tuning_renders_only(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tuning = [_render(f"water:{s}", "305.28", s % 8 != 0, s % 8 == 0) for s in range(400)]
    start = fit_display.HELD_OUT_START
    held = [_render(f"heat:{start + s}", "305.28", s % 8 != 0, s % 8 == 0) for s in range(40)]
    cache = tmp_path / "renders.json"
    cache.write_text(
        fit_display.json.dumps(
            {"tuning": fit_display._as_rows(tuning), "held_out": fit_display._as_rows(held)}
        )
    )
    read, held_read = fit_display.synthetic_reads(300, 20, 1, cache)
    assert len(read) == 300 and len(held_read) == 20  # only the seeds asked for
    real = [_render(f"p{i}", "305.28", True, False) for i in range(30)]
    weights, _, at = fit_display.synthetic_fit(read, held_read, real, l2=1.0)
    assert at is not None
    assert weights[FEATURES.index("weakest_margin")] > 0  # a weak segment: a wrong read
    out = capsys.readouterr().out
    assert "synthetic held out: 20 reads" in out and "0 wrong" in out
    assert "real LCD photos: 30 reads, 100.0% right: accepted 100.0%" in out
    assert (
        fit_display.main(
            [
                "--synthetic",
                "300",
                "--synthetic-features",
                str(cache),
                "--synthetic-held-out",
                "20",
                "--no-real",
                "--dry-run",
            ]
        )
        == 0
    )
    wrong_photos = [_render(f"p{i}", "305.28", False, False) for i in range(2)]
    _, _, refused = fit_display.synthetic_fit(read, held_read, wrong_photos, l2=1.0)
    assert refused is None  # the real photos accepted wrong: no knot written
