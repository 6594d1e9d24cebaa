"""Plausibility-aware decoding: the OCR's value and its per-digit alternatives, judged against
the register's expected reading.

The photo proposes, the history disposes:
- the OCR's best value is kept when it fits the expected band;
- when it does not, the history may pick the one single-digit alternative the OCR itself offered
  that does fit (never a digit the OCR did not see; over a read the OCR accepted, only an
  alternative the digit model gave some weight) — proposed to a clerk, never booked unseen;
- a value the OCR did not accept on its own may still be booked when it fits a band that starts
  at the register's own last reading (or the replaced meter's), the OCR's confidence is at least
  `MIN_PHOTO_CONFIDENCE`, and the doubt the history cannot settle is small (`Decoded.doubt`, at
  most `HISTORY_MAX_DOUBT`). The doubt is the share, among the integer values that fit the band,
  of the weight on other values than the read, each value weighed by the OCR's probability of it
  and again by how likely the history makes it (`prior`: the consumption since the last reading
  against the expected one, as sure as the meter's history allows). The OCR's probabilities cover
  the values it saw (`integer_rivals`: one or two integer digits replaced by their alternatives)
  and those it did not (`unseen_weight`: a read it is unsure of may be wrong in any digit, most
  likely the one it doubts most). The history thus settles the OCR's doubts on the digits whose
  alternatives it rules out or finds unlikely; the OCR must be sure of the ones it cannot
  (`bench/calibrate_decision.py` chooses the constants on held-out folds of the dev photos with
  simulated histories).

A display meter's register may count fewer decimals than its display shows: the value is cut to
the register's decimals (billing books the register, not the display).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
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
HISTORY_MAX_DOUBT: dict[str | None, float | None] = {"drum": 0.35, "lcd": None, None: None}
MIN_PHOTO_CONFIDENCE: dict[str | None, float] = {"drum": 0.2, "lcd": 1.0, None: 1.0}
# bases whose band starts at a reading of the register (or of the meter it replaced); with one
# earlier reading the band is the kind's widest, so more of the OCR's doubts fall inside it
HISTORY_BASES = frozenset({"history", "predecessor", "kind_default"})
ALTERNATIVES = 6
# A read the OCR accepted is proposed over a digit alternative that fits the band unless the
# digit model gives that alternative at least this much: a sure read outside the band is mostly
# the meter's own story (a leak, an absence, the same photo sent again), not a misread.
MIN_ALTERNATIVE_CONFIDENCE = 0.1
# how much one billing period's use varies around the meter's mean rate (the spread of its log):
# the history's expected use is the mean of the last `Expectation.periods` periods, so a new
# period's use spreads by PERIOD_SPREAD * sqrt(1 + 1/periods) around it, plus the last reading's
# resolution (`consumption_spread`). Chosen on held-out folds (bench/calibrate_decision.py).
PERIOD_SPREAD = 0.15
# How many times likelier one meter's history must make the photo's value than any other
# candidate meter's (`value_density`) before the value is booked on that meter; below it the photo
# goes to a clerk (`ambiguous_meter`). A lower ratio books more photos of customers with several
# meters and puts more on the wrong meter. Chosen on held-out folds
# (bench/calibrate_decision.py --several-meters).
MIN_METER_ODDS = 20.0
# The most doubt among all of a customer's meters (`matching.meter_doubt`) a read the OCR did not
# accept may carry on a drum meter the histories chose among several; above it the photo goes to
# a clerk (`low_confidence`). Chosen on held-out folds with rival meters drawn as households have
# them (bench/calibrate_decision.py --several-meters).
MAX_METER_DOUBT = 0.05
# Where the other meters hold at most this share of that doubt (no value the photo may show is
# likely on any of them: their counts are far away, or their bands hold it at a use far from
# theirs), the chosen meter's read is booked as a customer's only meter's would be
# (`HISTORY_MAX_DOUBT`), if the OCR's confidence in it is at least `FAR_RIVALS_MIN_CONFIDENCE`:
# an unsure read far off the truth may still land in another meter's band. One step below the
# largest share under which no stress set books on a rival (0.02 on seeds 1 and 2 of
# bench/calibrate_decision.py --several-meters; 0.05 books a forced misread on the rival).
FAR_RIVALS_MAX_DOUBT = 0.01
FAR_RIVALS_MIN_CONFIDENCE = 0.8
# That confidence guards against another meter's photo misread into the chosen meter's band. Where
# the photo's face (`matching.hypotheses._face`: red drums, marks of the meter's kind) makes every
# other meter in question at most `FAR_RIVALS_MAX_FACE` as likely as the chosen one, the photo is
# that much less likely another meter's: one kind mark against the other meters does it (pointer
# dials 0.04, another unit 0.09), one red drum the OCR missed does not (0.26); an assumption, not
# fitted. The read then needs `FAR_RIVALS_FACE_MIN_CONFIDENCE`: the lowest under which no misread
# is booked on a rival where the mark was found by mistake on the rival meter's photo (1-2 % of
# them) and every misread lands in the chosen meter's band (bench/calibrate_decision.py
# --several-meters, `wrong_mark`).
FAR_RIVALS_MAX_FACE = 0.1
FAR_RIVALS_FACE_MIN_CONFIDENCE = 0.7
MAX_CHANGED_DIGITS = 2  # rivals differ from the read in at most this many integer digits
_FLOOR = 1e-3  # a digit read with (almost) no probability still weighs this much


@dataclass(frozen=True)
class Decoded:
    """The value to propose for one hypothesis and what keeps it from being booked."""

    value: Decimal | None
    codes: tuple[str, ...]  # plausibility codes of the proposed value
    from_alternative: bool = False
    # the doubt the history cannot settle: the share of the weight of the integer values that fit
    # the band (the OCR's probability times the history's) that is not the proposed value's
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
    replaced digits, of the alternative's probability over the read digit's). An alternative the
    last integer drum shows because it is turning (`rolling_odds`) weighs only as much as the
    red drum's odds of being past its wrap."""
    if read is None or read.reading is None or not read.reading.isdigit():
        return []
    n = len(read.reading)
    if len(read.digits) < n or any(d.value is None for d in read.digits[:n]):
        return []
    options = [
        [
            (a, c / max(d.confidence, _FLOOR) * rolling_odds(read, p, a))
            for a, c in d.alternatives[:3]
            if a != d.value and c
        ]
        for p, d in enumerate(read.digits[:n])
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


def rolling_odds(read: MeterRead, position: int, alternative: int) -> float:
    """How far the turning of the last integer drum explains its `alternative`, as the odds that
    the value really is the alternative's: 1 where it does not. The last integer drum turns to
    its next digit while the first red drum passes from 9 to 0, so while the red drum shows 9 the
    black one may show its next digit too (the value is still the lower one), and just after (red
    0) its previous one. Either alternative is the value only if the red drum is on the other side
    of its wrap: its probability of 0 (or 9) over that of the digit it was read as."""
    n = len(read.reading or "")
    if read.display == "lcd" or position != n - 1 or len(read.digits) <= n or not read.fraction:
        return 1.0  # a display's digits do not turn
    black, red = read.digits[position], read.digits[n]
    if black.value is None or red.value not in (0, 9):
        return 1.0
    turning = (black.value + (1 if red.value == 9 else -1)) % 10
    if alternative != turning:
        return 1.0
    past = 0 if red.value == 9 else 9
    other_side = max((c for a, c in red.alternatives if a == past), default=0.0)
    return min(1.0, max(other_side, _FLOOR) / max(red.confidence, _FLOOR))


def decode(
    read: MeterRead | None,
    exp: Expectation,
    kind: str,
    spec: MeterSpec,
    *,
    display: str | None = None,
    period_spread: float | None = None,
) -> Decoded:
    """The value to propose for a meter (`display`: its counter kind) and the doubt about it."""
    best = register_value(photo_value(read), spec, display)
    if best is None:
        return Decoded(None, ())
    codes = plausibility_codes(best, exp, kind, spec)
    if not codes:
        doubt = band_doubt(read, best, exp, kind, spec, period_spread)
        return Decoded(best, (), doubt=doubt)
    others = {
        value: c
        for v, c in ocr_alternatives(read, limit=ALTERNATIVES)
        if (value := register_value(v, spec, display)) is not None and value != best
    }
    least = MIN_ALTERNATIVE_CONFIDENCE if read is not None and read.accepted else 0.0
    fitting = [
        v for v, c in others.items() if c >= least and not plausibility_codes(v, exp, kind, spec)
    ]
    if len(fitting) == 1 and exp.basis != "none":
        return Decoded(fitting[0], (reasons.PRIOR_CHOSE_ALTERNATIVE,), from_alternative=True)
    return Decoded(best, codes)


def band_doubt(
    read: MeterRead | None,
    best: Decimal,
    exp: Expectation,
    kind: str,
    spec: MeterSpec,
    period_spread: float | None = None,
    elsewhere: Callable[[Decimal], float] | None = None,
) -> float:
    """The share of the probability of the band-fitting values that falls on other integer parts
    than the read's. Each value weighs the OCR's probability of it times the history's (`prior`):
    the values the OCR saw (`integer_rivals`) and those it did not (`unseen_weight`).
    `elsewhere`: the weight of a value on the customer's other meters and registers, relative to
    the read on this one (`matching.meter_doubt`); the read's own value counts there too."""
    fraction = best - int(best)  # red drums move a value by less than one unit
    own = prior(best, exp, period_spread)
    if own <= 0:
        return 1.0

    def weight(value: int) -> float:
        candidate = value + fraction
        other = elsewhere(candidate) if elsewhere else 0.0
        if plausibility_codes(candidate, exp, kind, spec):
            return other
        return prior(candidate, exp, period_spread) / own + other

    seen = sum(ratio * weight(value) for value, ratio in integer_rivals(read))
    rivals = seen + unseen_weight(read, weight) + (elsewhere(best) if elsewhere else 0.0)
    return rivals / (1.0 + rivals)


def unseen_weight(read: MeterRead | None, weight: Callable[[int], float]) -> float:
    """The weight, relative to the read's, of the values the OCR may have misread it for without
    offering them: the read is wrong with the odds (1 - c) / c (c: its calibrated confidence); a
    wrong read is taken to differ in one integer digit, the more likely the less sure the OCR was
    of that digit, any other digit there equally likely, each weighed by the history (`weight`:
    0 outside the band)."""
    if read is None or read.reading is None or not read.reading.isdigit():
        return 0.0
    reading = read.reading
    n = len(reading)
    confidence = min(max(read.confidence, _FLOOR), 1 - _FLOOR)
    doubts = [1 - d.confidence if d.value is not None else 1.0 for d in read.digits[:n]] or [
        1.0
    ] * n
    doubts = [max(d, _FLOOR) for d in doubts] + [_FLOOR] * (n - len(doubts))
    total = sum(doubts)
    spread = 0.0
    for position, doubt in enumerate(doubts):
        others = (
            weight(int(reading[:position] + str(digit) + reading[position + 1 :]))
            for digit in range(10)
            if str(digit) != reading[position]
        )
        spread += doubt / total * sum(others) / 9
    return (1 - confidence) / confidence * spread


def prior(value: Decimal, exp: Expectation, period_spread: float | None = None) -> float:
    """How likely the history makes a value: log-normal in the consumption since the last
    reading, centred on the expected consumption (1 without a rate). Its spread is what the
    history leaves open (`consumption_spread`)."""
    expected = exp.expected_consumption
    if exp.last_value is None or expected is None or expected <= 0 or exp.basis == "kind_default":
        return 1.0
    used = float(value - exp.last_value)
    if used <= 0:
        return 1.0 if used == 0 else 0.0
    spread = consumption_spread(exp, PERIOD_SPREAD if period_spread is None else period_spread)
    z = math.log(used / float(expected)) / spread
    return math.exp(-0.5 * z * z) / used


def value_density(value: Decimal, exp: Expectation) -> float | None:
    """How likely the register's history makes `value`, per unit of the counter, so that it
    compares across meters: the log-normal of `prior` normalised, or evenly spread over the band
    when the history gives no rate (one earlier reading). None where the history bounds nothing
    (no earlier reading) or the value shows no use (a density says nothing there)."""
    if exp.basis == "none" or exp.last_value is None or value <= exp.last_value:
        return None
    if exp.basis == "kind_default" or not exp.expected_consumption:
        if exp.high is None or exp.high <= exp.last_value:
            return None
        return 1.0 / float(exp.high - exp.last_value)
    spread = consumption_spread(exp, PERIOD_SPREAD)
    return prior(value, exp) / (spread * math.sqrt(2 * math.pi))


def consumption_spread(exp: Expectation, period_spread: float) -> float:
    """The spread of the log of the consumption since the last reading: a period's own variation
    around the meter's rate, the rate's uncertainty (a mean over `exp.periods` periods) and the
    last reading's resolution (rounded or cut to its last place, relative to the expected
    consumption; the new read carries its red drums)."""
    assert exp.last_value is not None and exp.expected_consumption is not None
    periods = max(exp.periods, 1)
    relative = period_spread * period_spread * (1 + 1 / periods)
    step = 10.0 ** -decimal_places(exp.last_value)  # billing's resolution of the last reading
    rounding = step * step / 12 / float(exp.expected_consumption) ** 2
    return math.sqrt(relative + rounding)


# OCR reasons for a read whose digits' own confidences do not say what the photo shows: a line
# across a drum or a drum whose digit the row lost (the digit model reads the stroke as a digit,
# sure of it). The history never vouches for such a read.
UNVOUCHED_READS = frozenset({"digit_occluded"})


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
    `min_photo_confidence`: `HISTORY_MAX_DOUBT` and `MIN_PHOTO_CONFIDENCE` for the meter's kind
    of counter, else the one the photo was read as; `drums`: the integer drums of a drum meter,
    all of which the read must show for the history to vouch for it, unless the band is narrower
    than a decade (`within_a_decade`): a drum missing anywhere but among the leading zeros moves
    the value by a factor of ten or more, out of such a band)."""
    if decoded.from_alternative or decoded.codes:
        return False
    if read.accepted and read.confidence >= min_confidence:
        return True
    if read.reason in UNVOUCHED_READS:
        return False
    measured = bool(read.digits)  # without per-digit alternatives there is no doubt to measure
    whole = drums is None or len(read.reading or "") >= drums or within_a_decade(exp)
    return (
        measured
        and whole
        and max_doubt is not None
        and exp.basis in HISTORY_BASES
        and read.confidence >= min_photo_confidence
        and decoded.doubt <= max_doubt
    )


def within_a_decade(exp: Expectation) -> bool:
    """Whether the band starts at a reading of the register, above zero, and ends below ten times
    its start: no value in it is another value in it with a drum more or less."""
    return (
        exp.basis in HISTORY_BASES
        and exp.low is not None
        and exp.high is not None
        and exp.low > 0
        and exp.high < 10 * exp.low
    )
