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


def calibrated(probability: float, knot: float | None) -> float:
    """Monotone piecewise-linear map with knot -> `KNOT_CONFIDENCE`, 0 -> 0, 1 -> 1."""
    p = min(1.0, max(0.0, probability))
    if knot is None:
        return KNOT_CONFIDENCE * NEVER * p
    if p <= knot:
        return KNOT_CONFIDENCE * p / knot
    return KNOT_CONFIDENCE + (1 - KNOT_CONFIDENCE) * (p - knot) / (1 - knot)


def weakest_digit(integer: list[DigitRead]) -> int:
    """1-based position of the least certain integer digit (for the reason code)."""
    return 1 + min(range(len(integer)), key=lambda i: integer[i].confidence)
