"""Plausibility-aware decoding: the OCR's value and its per-digit alternatives, judged against
the register's expected reading.

The photo proposes, the history disposes:
- the OCR's best value is kept when it fits the expected band;
- when it does not, the history may pick the one single-digit alternative the OCR itself offered
  that does fit (never a digit the OCR did not see) — proposed to a clerk, never booked unseen;
- a value the OCR did not accept on its own may still be booked when it fits a band drawn from
  the register's own history and every alternative the OCR saw that would fit that band as well
  had at most `HISTORY_MAX_DOUBT` confidence: the history settles the OCR's doubts on the high
  digits, the OCR must be sure of the ones the band cannot tell apart
  (`bench/calibrate_decision.py` measures this on held-out folds of the dev photos with
  simulated histories).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from core.types import Expectation, MeterRead
from matching import reasons
from matching.expectation import band_codes
from matching.plausibility import MeterSpec, digit_codes
from matching.values import ocr_alternatives, photo_value

# The most doubt (`Decoded.doubt`) a read the OCR did not accept may carry and still be booked
# on the strength of the register's history band, per kind of counter: higher books more
# readings unseen and lets more misreads through; None: only reads the OCR accepted are booked.
# Drums: chosen on held-out folds (14 of 15 folds chose 0.1; bench/calibrate_decision.py).
# Displays: no threshold kept the folds' extra bookings free of errors, so none is used.
HISTORY_MAX_DOUBT: dict[str | None, float | None] = {"drum": 0.1, "lcd": None, None: None}
ALTERNATIVES = 6


@dataclass(frozen=True)
class Decoded:
    """The value to propose for one hypothesis and what keeps it from being booked."""

    value: Decimal | None
    codes: tuple[str, ...]  # plausibility codes of the proposed value
    from_alternative: bool = False
    # the highest confidence the OCR gave an alternative that fits the band as well and changes
    # the integer part: the OCR's doubt that the history cannot settle
    doubt: float = 0.0


def plausibility_codes(
    value: Decimal, exp: Expectation, kind: str, spec: MeterSpec
) -> tuple[str, ...]:
    return digit_codes(value, spec) or band_codes(value, exp, kind, spec)


def decode(read: MeterRead | None, exp: Expectation, kind: str, spec: MeterSpec) -> Decoded:
    best = photo_value(read)
    if best is None:
        return Decoded(None, ())
    codes = plausibility_codes(best, exp, kind, spec)
    others = ocr_alternatives(read, limit=ALTERNATIVES)
    fitting = [(v, c) for v, c in others if not plausibility_codes(v, exp, kind, spec)]
    if not codes:
        rivals = [c for v, c in fitting if int(v) != int(best)]  # red drums move it < 1 unit
        return Decoded(best, (), doubt=max(rivals, default=0.0))
    if len(fitting) == 1 and exp.basis != "none":
        return Decoded(fitting[0][0], (reasons.PRIOR_CHOSE_ALTERNATIVE,), from_alternative=True)
    return Decoded(best, codes)


def confident(
    read: MeterRead,
    decoded: Decoded,
    exp: Expectation,
    *,
    min_confidence: float,
    max_doubt: float | None,
) -> bool:
    """Whether the photo supports the decoded value enough to book it unseen (`max_doubt`:
    `HISTORY_MAX_DOUBT` for the counter the photo was read as)."""
    if decoded.from_alternative or decoded.codes:
        return False
    if read.accepted and read.confidence >= min_confidence:
        return True
    measured = bool(read.digits)  # without per-digit alternatives there is no doubt to measure
    return (
        measured and max_doubt is not None and exp.basis == "history" and decoded.doubt <= max_doubt
    )
