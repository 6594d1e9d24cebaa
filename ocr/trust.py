"""How much to trust a read: one confidence in 0..1, calibrated on the dev photos.

The ranker (`ocr/ranking.py`) gives the chosen reading's probability of being right. It is
mapped so that the setting `auto_accept_min_confidence` (default 0.9) sits at the ranker's knot:
the probability from which cross-validated reads of the dev photos were right >= 99.5 % by the
lower Wilson bound, a margin for photos the knot was not set on (`bench/fit_ranker.py`;
docs/ocr.md has the figures with the held-out one, `bench/ocr.py` re-measures).
"""

from __future__ import annotations

from core.types import DigitRead

KNOT_CONFIDENCE = 0.9  # the knot is mapped to the default `auto_accept_min_confidence`
NEVER = 0.99  # without a knot (no precision point reached): confidence stays below the knot
# A digit the digit model gives less than this is likelier misread than right: the ranker, fitted
# on water drums, may still be sure of the read (a pen stroke or glare streak across a drum of
# another make), so the read is no surer than that digit.
TORN_DIGIT = 0.5


def calibrated(probability: float, knot: float | None) -> float:
    """Monotone piecewise-linear map with knot -> `KNOT_CONFIDENCE`, 0 -> 0, 1 -> 1."""
    p = min(1.0, max(0.0, probability))
    if knot is None:
        return KNOT_CONFIDENCE * NEVER * p
    if p <= knot:
        return KNOT_CONFIDENCE * p / knot
    return KNOT_CONFIDENCE + (1 - KNOT_CONFIDENCE) * (p - knot) / (1 - knot)


def torn_digit(integer: list[DigitRead]) -> DigitRead | None:
    """The least certain integer digit after the leading zeros where the digit model gives it
    less than TORN_DIGIT, unless a 1 is among its two likeliest digits: a thin 1 on a worn drum
    is the model's commonest doubt, which the ranker weighs by itself (`one_doubt`). Leading
    zeros are left to the ranker too (a meter's leading drums mostly show 0)."""
    significant = integer[next((i for i, d in enumerate(integer) if d.value != 0), len(integer)) :]
    torn = [
        d
        for d in significant
        if d.confidence < TORN_DIGIT and 1 not in (a for a, _ in d.alternatives[:2])
    ]
    return min(torn, key=lambda d: d.confidence, default=None)


def weakest_digit(integer: list[DigitRead]) -> int:
    """1-based position of the least certain integer digit (for the reason code)."""
    return 1 + min(range(len(integer)), key=lambda i: integer[i].confidence)
