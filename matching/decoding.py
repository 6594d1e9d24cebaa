"""Plausibility-aware decoding: the OCR's value and its per-digit alternatives, judged against
the register's expected reading.

The photo proposes, the history disposes:
- the OCR's best value is kept when it fits the expected band;
- when it does not, the history may pick the one single-digit alternative the OCR itself offered
  that does fit (never a digit the OCR did not see) — proposed to a clerk, never booked unseen;
- a value the OCR did not accept on its own may still be booked when it fits a band that starts
  at the register's own last reading (or the replaced meter's), the photo supports it on its
  own (the OCR's confidence at least `MIN_PHOTO_CONFIDENCE`), and the OCR's doubt that the
  history cannot settle is small (`Decoded.doubt`, at most `HISTORY_MAX_DOUBT`): among the
  integer values the OCR saw (the read with one or two integer digits replaced by their
  alternatives, weighted by the alternatives' probabilities relative to the digits read, and
  again by how likely the history makes each, `prior`) that fit the band, the share of the
  weight on other values than the read. The history thus settles the OCR's doubts on the digits
  whose alternatives it rules out; the OCR must be sure of the ones it cannot
  (`bench/calibrate_decision.py` chooses both constants on held-out folds of the dev photos with
  simulated histories).

A display meter's register may count fewer decimals than its display shows: the value is cut to
the register's decimals (billing books the register, not the display).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal

from core.types import Expectation, MeterRead
from matching import reasons
from matching.expectation import band_codes
from matching.plausibility import MeterSpec, decimal_places, digit_codes
from matching.values import ocr_alternatives, photo_value

# The most doubt (`Decoded.doubt`) a read the OCR did not accept may carry and still be booked on
# the strength of the register's history band, per kind of counter, and the OCR confidence it
# needs at least: more doubt or less confidence books more readings unseen and lets more misreads
# through; None: only reads the OCR accepted are booked. Chosen on held-out folds
# (bench/calibrate_decision.py; docs/decisions.md has the figures).
HISTORY_MAX_DOUBT: dict[str | None, float | None] = {"drum": 0.15, "lcd": None, None: None}
MIN_PHOTO_CONFIDENCE: dict[str | None, float] = {"drum": 0.2, "lcd": 1.0, None: 1.0}
# bases whose band starts at a reading of the register (or of the meter it replaced); with one
# earlier reading the band is the kind's widest, so more of the OCR's doubts fall inside it
HISTORY_BASES = frozenset({"history", "predecessor", "kind_default"})
ALTERNATIVES = 6
# the spread of the log of a period's consumption around the expected one: the band's
# tolerances (a quarter to three times the expected use) lie about 2.5 spreads out
PRIOR_SPREAD = 0.5
MAX_CHANGED_DIGITS = 2  # rivals differ from the read in at most this many integer digits
_FLOOR = 1e-3  # a digit read with (almost) no probability still weighs this much


@dataclass(frozen=True)
class Decoded:
    """The value to propose for one hypothesis and what keeps it from being booked."""

    value: Decimal | None
    codes: tuple[str, ...]  # plausibility codes of the proposed value
    from_alternative: bool = False
    # the OCR's doubt the history cannot settle: the share of the integer values the OCR saw
    # that fit the band, weighted by their probability, that is not the proposed value's
    doubt: float = 0.0


def plausibility_codes(
    value: Decimal, exp: Expectation, kind: str, spec: MeterSpec
) -> tuple[str, ...]:
    return digit_codes(value, spec) or band_codes(value, exp, kind, spec)


def register_value(value: Decimal | None, spec: MeterSpec, display: str | None) -> Decimal | None:
    """A display's value cut to the register's decimals; a drum counter's as read (a red drum
    more than the meter has says something about which meter it is, see `digit_codes`)."""
    if value is None or display != "lcd" or decimal_places(value) <= spec.decimal_digits:
        return value
    step = Decimal(1).scaleb(-spec.decimal_digits)
    return value.quantize(step, rounding=ROUND_DOWN)


def integer_rivals(read: MeterRead | None) -> list[tuple[int, float]]:
    """Other integer parts the OCR saw, each with its probability relative to the read's: the
    read with one or two integer digits replaced by their alternatives (the product, over the
    replaced digits, of the alternative's probability over the read digit's)."""
    if read is None or read.reading is None or not read.reading.isdigit():
        return []
    n = len(read.reading)
    if len(read.digits) < n or any(d.value is None for d in read.digits[:n]):
        return []
    options = [
        [(a, c / max(d.confidence, _FLOOR)) for a, c in d.alternatives[:3] if a != d.value and c]
        for d in read.digits[:n]
    ]
    found: dict[int, float] = {}
    for count in range(1, MAX_CHANGED_DIGITS + 1):
        for positions in itertools.combinations(range(n), count):
            for choice in itertools.product(*(options[p] for p in positions)):
                chars = list(read.reading)
                ratio = 1.0
                for position, (digit, weight) in zip(positions, choice, strict=True):
                    chars[position] = str(digit)
                    ratio *= weight
                value = int("".join(chars))
                found[value] = max(found.get(value, 0.0), ratio)
    best = int(read.reading)
    return sorted(((v, r) for v, r in found.items() if v != best), key=lambda i: -i[1])


def decode(
    read: MeterRead | None,
    exp: Expectation,
    kind: str,
    spec: MeterSpec,
    *,
    display: str | None = None,
) -> Decoded:
    """The value to propose for a meter (`display`: its counter kind) and the doubt about it."""
    best = register_value(photo_value(read), spec, display)
    if best is None:
        return Decoded(None, ())
    codes = plausibility_codes(best, exp, kind, spec)
    if not codes:
        return Decoded(best, (), doubt=band_doubt(read, best, exp, kind, spec))
    others = {
        value: c
        for v, c in ocr_alternatives(read, limit=ALTERNATIVES)
        if (value := register_value(v, spec, display)) is not None and value != best
    }
    fitting = [v for v in others if not plausibility_codes(v, exp, kind, spec)]
    if len(fitting) == 1 and exp.basis != "none":
        return Decoded(fitting[0], (reasons.PRIOR_CHOSE_ALTERNATIVE,), from_alternative=True)
    return Decoded(best, codes)


def band_doubt(
    read: MeterRead | None, best: Decimal, exp: Expectation, kind: str, spec: MeterSpec
) -> float:
    """The share of the probability of the band-fitting values the OCR saw that falls on other
    integer parts than the read's: the OCR's relative probability times the history's (`prior`)."""
    fraction = best - int(best)  # red drums move a value by less than one unit
    own = prior(best, exp)
    if own <= 0:
        return 1.0
    rivals = sum(
        ratio * prior(value + fraction, exp) / own
        for value, ratio in integer_rivals(read)
        if not plausibility_codes(value + fraction, exp, kind, spec)
    )
    return rivals / (1.0 + rivals)


def prior(value: Decimal, exp: Expectation) -> float:
    """How likely the history makes a value: log-normal in the consumption since the last
    reading, centred on the expected consumption, `PRIOR_SPREAD` wide (1 without a rate)."""
    expected = exp.expected_consumption
    if exp.last_value is None or expected is None or expected <= 0 or exp.basis == "kind_default":
        return 1.0
    used = float(value - exp.last_value)
    if used <= 0:
        return 1.0 if used == 0 else 0.0
    z = math.log(used / float(expected)) / PRIOR_SPREAD
    return math.exp(-0.5 * z * z) / used


def confident(
    read: MeterRead,
    decoded: Decoded,
    exp: Expectation,
    *,
    min_confidence: float,
    max_doubt: float | None,
    min_photo_confidence: float = 0.0,
    drums: int | None = None,
) -> bool:
    """Whether the photo supports the decoded value enough to book it unseen (`max_doubt` and
    `min_photo_confidence`: `HISTORY_MAX_DOUBT` and `MIN_PHOTO_CONFIDENCE` for the counter the
    photo was read as; `drums`: the integer drums of a drum meter, all of which the read must
    show for the history to vouch for it)."""
    if decoded.from_alternative or decoded.codes:
        return False
    if read.accepted and read.confidence >= min_confidence:
        return True
    measured = bool(read.digits)  # without per-digit alternatives there is no doubt to measure
    whole = drums is None or len(read.reading or "") >= drums  # no drum missing or misplaced
    return (
        measured
        and whole
        and max_doubt is not None
        and exp.basis in HISTORY_BASES
        and read.confidence >= min_photo_confidence
        and decoded.doubt <= max_doubt
    )
