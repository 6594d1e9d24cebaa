"""How much to trust a read: one confidence in 0..1, calibrated on the dev photos.

The raw score is the weakest integer digit's confidence, lowered when the layout is uncertain
(no red decimal drums or decimal point seen), when no second reading of the counter (another
cell size, another row through the same digits) agrees, and when another row of the photo that
reads differently scored almost as well (printed numbers on the dial, a second meter). The raw
score is then mapped so that the setting `auto_accept_min_confidence` (default 0.9) sits where
the dev photos reach 99.5 % precision; see docs/ocr.md for the figures and `bench/ocr.py` to
re-measure.
"""

from __future__ import annotations

from core.types import DigitRead

# raw score from which accepted reads were right >= 99.5 % of the time on the dev photos
# (bench/ocr.py, docs/ocr.md). 7-segment reads never reached that precision on the dev photos
# (decimal points and labels rounded to whole litres), so they are never accepted for now:
# their knot lies above the highest possible raw score.
KNOTS = {"drum": 0.881, "lcd": 1.05}
KNOT_CONFIDENCE = 0.9  # ... mapped to the default `auto_accept_min_confidence`
NO_LAYOUT = 0.8  # factor when neither red drums nor a decimal point split the digits
ALONE = 0.85  # factor when no other reading of the photo agrees
MARGIN_BASE = 0.1  # a rival reading as good as the chosen one cuts the score to 10 %
COUNT_UNKNOWN = 0.85  # factor when master data gave no digit count to check the read against
COUNT_UNSEEN = 0.9  # factor when the black drums seen are not that count (some cut off or added)


def raw_score(
    integer: list[DigitRead],
    *,
    layout_known: bool,
    agreeing: int,
    margin: float,
    count_known: bool = True,
    count_seen: bool = True,
) -> float:
    """`margin`: how much better the chosen row scored than the best row reading otherwise;
    `count_known`: the number of integer digits was checked against master data;
    `count_seen`: exactly that many black drums were found (none read from outside the run of
    digit cells, none dropped on the left: a frame edge read as a digit, a missed drum)."""
    weakest = min(d.confidence for d in integer)
    layout = 1.0 if layout_known else NO_LAYOUT
    support = 1.0 if agreeing else ALONE
    count = (1.0 if count_known else COUNT_UNKNOWN) * (1.0 if count_seen else COUNT_UNSEEN)
    return weakest * layout * support * count * min(1.0, MARGIN_BASE + margin)


def calibrated(raw: float, display: str) -> float:
    """Monotone piecewise-linear map with the display's knot -> `KNOT_CONFIDENCE`, 0 -> 0."""
    knot = KNOTS[display]
    raw = min(1.0, max(0.0, raw))
    if raw <= knot:
        return KNOT_CONFIDENCE * raw / knot
    return KNOT_CONFIDENCE + (1 - KNOT_CONFIDENCE) * (raw - knot) / (1 - knot)


def weakest_digit(integer: list[DigitRead]) -> int:
    """1-based position of the least certain integer digit (for the reason code)."""
    return 1 + min(range(len(integer)), key=lambda i: integer[i].confidence)
