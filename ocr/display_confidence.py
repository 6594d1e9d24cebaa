"""How likely a display's read is right, from the evidence its 7-segment digits rest on.

The segment decoder gives nearly every digit the same probability, so the ranker's probability
cannot tell a confident misread of a display from a right read. This model looks at what the
digits rest on instead: how clearly each segment is on or off, how far the measured pattern lies
from the nearest other digit's (an `8` with a faint middle bar is nearly a `0`), whether the
digit boxes have like widths, whether the read is long enough to be a whole display, and
whether other crops of the display read the same value. A logistic model of these features
gives the probability; the read is accepted from `KNOT` on (the lowest probability from which
cross-validated reads were right >= 99.5 % by the lower Wilson bound). `bench/fit_display.py`
fits WEIGHTS, BIAS and KNOT and writes them here; re-run it after any change to the display
reader (ocr/panel.py, ocr/sevenseg.py) or to the features.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ocr import trust
from ocr.locate import same_place
from ocr.reads import Described
from ocr.sevenseg import Segments, misfits

FEATURES = (
    "weakest_margin",  # the segment nearest the on/off threshold: its distance from it, 0..1
    "ambiguity",  # 2 minus the smallest misfit gap from a digit's pattern to another digit's
    "uneven_width",  # the largest digit box width off the median, share of it
    "few_digits",  # at most FEW_DIGITS digits read: a part of a display as often as a whole one
    "agreeing",  # other 7-segment reads of the photo with the same value (other crops), at most 5
    "beside",  # digit boxes of the display left out of the read (it reads a part of it)
    "unconfirmed_point",  # a decimal point seen as a free blob or at a gap's foot, not both
)
# which way each feature may move the probability (the fit drops a feature that would go the
# other way on its data: evidence of doubt never makes a read surer)
DIRECTIONS = (1, -1, -1, -1, 1, -1, -1)

# fitted by bench/fit_display.py (begin)
WEIGHTS = (0.438740, -5.495745, -14.209508, -0.091684, 1.096851, -7.266677, -1.423994)
BIAS = 11.284419
KNOT: float | None = 0.992294
# fitted by bench/fit_display.py (end)

SEGMENTS = 7  # a..g; the two holes after them only count in the misfits
ON, RAMP = 0.5, 0.2  # coverage at the on/off threshold, and from it to plainly on or off
FEW_DIGITS = 3
MOST_AGREEING = 5


@dataclass(frozen=True)
class Evidence:
    """What the chosen display read rests on: its digits' segments, how many other 7-segment
    reads of the photo (other crops of the display) read the same value, and the digits it
    reads after a decimal point (0: none)."""

    segments: Segments
    agreeing: int
    point: int = 0


def supporting(best: Described, described: list[Described]) -> Segments | None:
    """The segment evidence for the chosen read: its own, or that of a 7-segment read of the
    same row with the same value (the digit model's read of a display's cells)."""
    if best.candidate.segments is not None:
        return best.candidate.segments
    for d in described:
        c = d.candidate
        if c.segments is not None and d.text == best.text and same_place(c.row, best.candidate.row):
            return c.segments
    return None


def evidence(best: Described, described: list[Described]) -> Evidence | None:
    """The chosen read's evidence (None: no 7-segment read supports it)."""
    segments = supporting(best, described)
    if segments is None or not len(segments.boxes):
        return None
    agreeing = sum(
        d.candidate.segments is not None
        and d.text == best.text
        and d.candidate is not best.candidate
        for d in described
    )
    return Evidence(segments, agreeing, best.candidate.point)


def features(e: Evidence) -> np.ndarray:
    """FEATURES of a read's evidence."""
    coverage = e.segments.coverage
    return np.array(
        [
            weakest_margin(coverage),
            ambiguity(coverage),
            uneven_width(e.segments.boxes),
            float(len(e.segments.boxes) <= FEW_DIGITS),
            float(min(e.agreeing, MOST_AGREEING)),
            float(e.segments.beside > 0),
            float(e.point > 0 and not e.segments.point_confirmed),
        ]
    )


def weakest_margin(coverage: np.ndarray) -> float:
    """How far the segment nearest the on/off threshold lies from it, over all digits: 1 when
    every segment is plainly on or off, 0 when one sits on the threshold."""
    margin = np.abs(coverage[:, :SEGMENTS] - ON).min() / RAMP
    return float(np.clip(margin, 0.0, 1.0))


def ambiguity(coverage: np.ndarray) -> float:
    """2 minus the smallest gap, over the digits, between the misfit of the digit's best pattern
    and of the next best digit pattern: 1 for a plain digit one segment from another (an `8`
    and a `0`), more where a half-lit segment leaves the two nearly alike."""
    off = np.array([misfits(c)[:10] for c in coverage])
    ranked = np.sort(off, axis=1)
    return float(np.clip(2.0 - (ranked[:, 1] - ranked[:, 0]).min(), 0.0, 2.0))


def uneven_width(boxes: list[tuple[int, int]]) -> float:
    """The largest width of a digit box off the median width, as a share of it, at most 1."""
    widths = np.array([b - a + 1 for a, b in boxes], dtype=float)
    middle = float(np.median(widths))
    return float(np.clip(np.abs(widths - middle).max() / middle, 0.0, 1.0))


def probability(x: np.ndarray) -> float:
    """The fitted model's probability that a read with features `x` is right."""
    score = float(np.dot(WEIGHTS, x)) + BIAS
    return float(1.0 / (1.0 + np.exp(-score)))


def confidence(best: Described, described: list[Described], otherwise: float) -> float:
    """The chosen display read's confidence: its probability mapped through KNOT (`trust`),
    never up to the knot without one; where no 7-segment read supports it, `otherwise` kept
    below the knot (a display is accepted on its segments' evidence only)."""
    e = evidence(best, described)
    if e is None:
        return min(otherwise, trust.KNOT_CONFIDENCE * trust.NEVER)
    return trust.calibrated(probability(features(e)), KNOT)
