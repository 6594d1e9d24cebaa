"""Plausibility-aware decoding: the OCR's value and its per-digit alternatives, judged against
the register's expected reading.

The photo proposes, the history disposes:
- the OCR's best value is kept when it fits the expected band;
- when it does not, the history may pick the one single-digit alternative the OCR itself offered
  that does fit (never a digit the OCR did not see) — proposed to a clerk, never booked unseen;
- a value the OCR did not accept on its own may still be booked when it fits a band drawn from
  the register's own history, the OCR's confidence is at least `HISTORY_MIN_CONFIDENCE`, and no
  other alternative the OCR saw fits that band as well (`bench/calibrate_decision.py` measures
  this rule on held-out folds of the dev photos with simulated histories).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from core.types import Expectation, MeterRead
from matching import reasons
from matching.expectation import band_codes
from matching.plausibility import MeterSpec, digit_codes
from matching.values import ocr_alternatives, photo_value

# The lowest OCR confidence a read the OCR did not accept needs to be booked on the strength of
# a history band it alone fits. Lower books more readings unseen and lets more misreads through.
HISTORY_MIN_CONFIDENCE: float | None = None
ALTERNATIVES = 6


@dataclass(frozen=True)
class Decoded:
    """The value to propose for one hypothesis and what keeps it from being booked."""

    value: Decimal | None
    codes: tuple[str, ...]  # plausibility codes of the proposed value
    from_alternative: bool = False
    unique_in_band: bool = True  # no other OCR alternative fits the band as well


def plausibility_codes(
    value: Decimal, exp: Expectation, kind: str, spec: MeterSpec
) -> tuple[str, ...]:
    return digit_codes(value, spec) or band_codes(value, exp, kind, spec)


def decode(read: MeterRead | None, exp: Expectation, kind: str, spec: MeterSpec) -> Decoded:
    best = photo_value(read)
    if best is None:
        return Decoded(None, ())
    codes = plausibility_codes(best, exp, kind, spec)
    others = [v for v, _ in ocr_alternatives(read, limit=ALTERNATIVES)]
    fitting = [v for v in others if not plausibility_codes(v, exp, kind, spec)]
    if not codes:
        return Decoded(best, (), unique_in_band=not fitting or exp.basis == "none")
    if len(fitting) == 1 and exp.basis != "none":
        return Decoded(fitting[0], (reasons.PRIOR_CHOSE_ALTERNATIVE,), from_alternative=True)
    return Decoded(best, codes)


def confident(
    read: MeterRead, decoded: Decoded, exp: Expectation, *, min_confidence: float
) -> bool:
    """Whether the photo supports the decoded value enough to book it unseen."""
    if decoded.from_alternative or decoded.codes:
        return False
    if read.accepted and read.confidence >= min_confidence:
        return True
    threshold = HISTORY_MIN_CONFIDENCE
    return (
        threshold is not None
        and exp.basis == "history"
        and decoded.unique_in_band
        and read.confidence >= threshold
    )
