"""The choice among candidate reads: the ranker's pick, when the search may stop, the check of a
counted read against a display read, and the `MeterRead` made of the pick."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np

from core.types import DigitRead, Display, MeterRead
from ocr import digits_logic, occluders, ranking, trust
from ocr.reads import Described
from ocr.search import Memo, Search, Stage
from ocr.tuning import EARLY_EXIT

log = logging.getLogger(__name__)

Found = tuple[Described, float, Stage]  # the chosen read, its probability, the search so far
# the reason of a read refused for its confidence only, followed by its weakest digit's position
LOW_CONFIDENCE = "low_confidence_digit_"
# an occluded read's confidence, as a share of the acceptance threshold: below it, yet high
# enough for the decision core to see a read that is likely right but must be looked at
OCCLUDED_CONFIDENCE = trust.NEVER


def choice(
    described: list[Described],
    shape: tuple[int, ...],
    model: ranking.Model,
    decimal_digits: int | None = None,
) -> tuple[Described, float]:
    """The ranker's choice among candidate reads and the probability that its reading is right
    (`decimal_digits`: the meter's decimal drums where master data gives them)."""
    x = ranking.features(described, shape, decimal_digits=decimal_digits)
    probs = ranking.probabilities(x, model)
    chosen = int(np.argmax(probs))
    return described[chosen], ranking.reading_probability(
        [d.text for d in described], probs, chosen
    )


def choose(
    search: Search,
    image: np.ndarray,
    integer_digits: int | None,
    model: ranking.Model,
    display: Display | None = None,
    memo: Memo | None = None,
    decimal_digits: int | None = None,
) -> Found | None:
    """The likeliest read, its probability and the search so far, from the first stage of
    the search at which the read is sure (or from the last)."""
    found = None
    for stage in search.stages(image, integer_digits, display, memo):
        if not stage.described:
            continue
        best, likely = choice(stage.described, image.shape, model, decimal_digits)
        found = (best, likely, stage)
        log.debug("%d rows refined: %s at p %.3f", stage.refined, best.text, likely)
        if sure(best, likely, integer_digits):
            break
    return found


def choose_reading(
    search: Search,
    rankers: dict[str, ranking.Model],
    image: np.ndarray,
    integer_digits: int | None,
    display: Display | None,
    memo: Memo | None = None,
    decimal_digits: int | None = None,
) -> tuple[Found | None, ranking.Model, bool]:
    """The choice, the ranker that made it, and whether the meter's kind was unknown and a
    display read disagreed with the drums. The counted ranker is fitted on drum counters
    only: on a display it can prefer the digit model's read of the display's own digits
    (`00` for `36`). So a display is read as if its digit count were unknown (the display
    ranker chooses; plausibility checks the count). Where the kind is unknown, a counted read
    that a display read with a decimal point contradicts is not accepted, and is read again
    as a display: the display ranker's choice replaces it where that is a display read with
    a decimal point, surer than the counted read (a drum counter's printed digits rarely give
    a sure read with a point). Light-segment reads do not count against a counted read with
    red decimal drums (`may_be_the_display`)."""
    counted = None if display == "lcd" else integer_digits
    model = rankers[ranking.mode(counted)]
    memo = memo or Memo(image)
    found = choose(search, image, counted, model, display, memo, decimal_digits)
    if display is not None or counted is None or found is None:
        return found, model, False
    if not display_disagrees(found[0], found[2].described):
        return found, model, False
    uncounted = rankers[ranking.mode(None)]
    again = choose(search, image, None, uncounted, None, memo, decimal_digits)
    if again is not None and may_be_the_display(again[0], found[0]) and again[1] > found[1]:
        return again, uncounted, True
    return found, model, True


def display_disagrees(best: Described, described: list[Described]) -> bool:
    """Does a 7-segment read with a decimal point give another integer value than `best`?
    On a display the counted ranker may prefer the digit model's read of the display's own
    digits (`00` for `36`). Printed numbers on a drum meter's dial can match 7-segment patterns
    too, so this only withholds acceptance."""
    value = _integer_value(best)
    return any(
        may_be_the_display(d, best) and d.integer and _integer_value(d) != value for d in described
    )


def may_be_the_display(read: Described, counted: Described) -> bool:
    """May a read stand as a display's against the counted read: a 7-segment read with a decimal
    point, and not of light segments where the counted read shows red decimal drums (white
    digits on black drums read as light segments too, and a display has no red drums)."""
    blobs = read.candidate.row.blobs
    light = bool(blobs) and blobs[0].polarity == 1
    return read.candidate.point > 0 and not (light and counted.red_anywhere)


def _integer_value(d: Described) -> int | None:
    return int(d.text) if d.text.isdigit() else None


def complete(best: Described) -> bool:
    """A read the search may stop on: integer digits and no reason code against it."""
    return bool(best.integer) and best.reason is None


def sure(best: Described, likely: float, integer_digits: int | None) -> bool:
    """Is a read sure enough to end the search before its last stage?"""
    return complete(best) and likely >= EARLY_EXIT[ranking.mode(integer_digits)]


def meter_read(
    best: Described,
    confidence: float,
    numbers: tuple[str, ...],
    display: Display,
    min_confidence: float,
    image: np.ndarray | None = None,
) -> MeterRead:
    """The chosen read as the pipeline gets it: accepted at `min_confidence` when no reason
    code speaks against it, else with the reason (the weakest digit when only unsure); the
    confidence and reason as `vetted` leaves them (`image`: the work image it was read from)."""
    confidence, reason = vetted(best, confidence, min_confidence, image)
    accepted = reason is None and confidence >= min_confidence
    if reason is None and not accepted:
        reason = unsure_reason(best.integer)
    return MeterRead(
        reading=best.text,
        fraction=digits_logic.as_text(best.fraction) or None,
        confidence=confidence,
        accepted=accepted,
        meter_number=numbers[0] if numbers else None,
        meter_number_candidates=numbers,
        reason=reason,
        display=display,
        digits=tuple(best.integer + best.fraction),
    )


def vouched(best: Described, confidence: float) -> float:
    """A read's confidence, no higher than a digit the digit model is torn on
    (`trust.torn_digit`; reads by the digit model only, a display's segments are weighed by
    `display_confidence`)."""
    torn = trust.torn_digit(best.integer) if best.candidate.probs is not None else None
    return confidence if torn is None else min(confidence, torn.confidence)


def vetted(
    best: Described, confidence: float, min_confidence: float, image: np.ndarray | None
) -> tuple[float, str | None]:
    """A read's confidence as `vouched` leaves it, and the reason against it: its own, or, for
    a read sure enough to be accepted, a line across one of its drums in `image`
    (`occluders.occluded_digit`; the confidence is then capped below `min_confidence`)."""
    confidence = vouched(best, confidence)
    if best.reason is not None or image is None or confidence < min_confidence:
        return confidence, best.reason
    if occluders.occluded_digit(image, best) is None:
        return confidence, None
    return min(confidence, OCCLUDED_CONFIDENCE * min_confidence), occluders.OCCLUDED


def unsure_reason(integer: Sequence[DigitRead]) -> str:
    """The reason of a read refused for its confidence only: its weakest integer digit."""
    return f"{LOW_CONFIDENCE}{trust.weakest_digit(list(integer))}"
