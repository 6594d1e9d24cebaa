"""Reading a drum counter whose digit count master data does not give (a sender with several
meters, or an unknown one): one read per digit count, each weighed by what the photo shows of
the drum window.

The counter is searched once. Its candidate reads are then split and chosen under each count in
COUNTS by the counted ranker (locate once, decode per hypothesis). What tells the counts apart
is the drum window: the red drums end the integer digits, and the window's frame ends them on
the left, where the digit model sees no digit. For a count k the evidence is the digit model's
log-probability that the k cells before the red drums hold digits and the cell before them does
not (`window_evidence`); its softmax over the counts weighs them. Counts that read the same
integer value (they differ in leading zeros) add up: the chosen reading is the value with the
most weight times ranker probability, and that sum is its probability of being right. Without
red drums nothing tells the counts apart: they weigh alike, and where they read different
values none gets a sure probability.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from core.types import DigitCountHypothesis, Display
from ocr import candidates, digits_logic, display_confidence, ranking, trust
from ocr.choice import Found, choose, complete, display_disagrees, may_be_the_display, vetted
from ocr.digits import NO_DIGIT
from ocr.reads import Candidate, Described
from ocr.search import Memo, Search, Stage
from ocr.tuning import EARLY_EXIT

# integer drums of the drum counters read without a count: water meters 4-6, gas meters 5,
# electricity drum counters 5-7, large meters 8
COUNTS = (4, 5, 6, 7, 8)
# how much the drum window's evidence counts against the ranker's scores (see `pooled`)
WINDOW_WEIGHT = 0.5
# the least probability a cell is given of holding a digit or not: one cell the model is sure
# about must not outweigh the rest of the window
CELL_FLOOR = 0.02


@dataclass(frozen=True)
class CountRead:
    """The read chosen under one digit count."""

    count: int
    best: Described
    likely: float  # the counted ranker's probability that this read is right
    evidence: float  # log-likelihood of the drum window under this count (0: none seen)
    weight: float  # the count's share of the evidence (softmax over COUNTS)

    @property
    def value(self) -> int | None:
        return int(self.best.text) if self.best.text.isdigit() else None


@dataclass(frozen=True)
class Counted:
    """Every count's read, surest first, the stage they come from and the chosen reading's
    probability (the summed weight times probability of the counts reading its value)."""

    reads: list[CountRead]
    likely: float
    stage: Stage
    # do the counts whose own choice reads the chosen value hold at least half the weight? (a
    # value found only by summing reads across counts is left to a clerk)
    agreed: bool = True

    @property
    def best(self) -> CountRead:
        return self.reads[0]


def order_count(first: list[Candidate]) -> int | None:
    """The count the search orders its rows by (the promise model is fitted with a count): the
    black drums before the red ones of the most promising row read with red drums, if any."""
    if not first:
        return None
    tallest = max(c.row.height for c in first)
    ranked = sorted(first, key=lambda c: -candidates.promise(c, None, tallest))
    for c in ranked:
        if c.run.decimals and c.probs is not None:
            return int(np.clip(len(c.run.integer), COUNTS[0], COUNTS[-1]))
    return None


def window_evidence(c: Candidate, count: int) -> float | None:
    """Log-likelihood that the drum window of `c` holds `count` integer drums: the `count`
    cells before its red drums are digits, the cell before them is not (the window's frame).
    None where `c` shows no red drums (nothing marks where the integer digits end)."""
    if c.probs is None or not c.run.decimals:
        return None
    none = np.clip(c.probs[:, NO_DIGIT], CELL_FLOOR, 1 - CELL_FLOOR)
    red = c.run.start + len(c.run.cells) - c.run.decimals
    first = red - count
    inside = none[max(first, 0) : red]
    evidence = float(np.log(1 - inside).sum()) + max(0, -first) * math.log(0.5)
    if first >= 1:
        evidence += float(np.log(none[first - 1]))
    return evidence


def read_counts(
    search: Search,
    model: ranking.Model,
    image: np.ndarray,
    display: Display | None,
    memo: Memo,
) -> Counted | None:
    """The reads under every count of COUNTS, from the first stage of the search at which the
    chosen reading is sure (or from the last)."""
    found = None
    order = order_count(search.first(image, memo))
    for stage in search.stages(image, order, display, memo):
        if not stage.reads:
            continue
        found = counted(stage, image.shape, model)
        if any(complete(r.best) and r.likely >= EARLY_EXIT["counted"] for r in found.reads):
            break
    return found


def counted(stage: Stage, shape: tuple[int, ...], model: ranking.Model) -> Counted:
    """Each count's reads of the stage, weighed as one choice (`pooled`), surest reading first."""
    per_count = scored(stage, shape, model)
    return pooled(per_count, evidence(per_count), WINDOW_WEIGHT, stage)


Scored = tuple[int, list[Described], np.ndarray]  # a count, its reads, the ranker's scores


def scored(stage: Stage, shape: tuple[int, ...], model: ranking.Model) -> list[Scored]:
    """The stage's candidate reads split under each count (as `candidates.all_described`, the
    red drums looked for once), with the counted ranker's scores."""
    if not stage.reads:
        return []
    tallest = max(c.row.height for c in stage.reads)
    red = [digits_logic.red_block(c.cells.red) is not None for c in stage.reads]
    out = []
    for count in COUNTS:
        described = [
            Described(c, *candidates.split(c, count), candidates.fit(c, count, tallest), r)
            for c, r in zip(stage.reads, red, strict=True)
            if candidates.offered(c, count)
        ]
        described += [z for z in map(candidates.zero_led, described) if z is not None]
        scores = ranking.features(described, shape) @ model.weights + model.bias
        out.append((count, described, scores))
    return out


def evidence(per_count: list[Scored]) -> list[float]:
    """Per count, the log-likelihood of the drum window of the surest read with red drums
    among the counts' own choices (0 for every count where none shows red drums)."""
    windows = []
    for _, described, scores in per_count:
        probs = _softmax(scores)
        best = described[int(np.argmax(probs))]
        if best.candidate.run.decimals:
            windows.append((float(probs.max()), best.candidate))
    if not windows:
        return [0.0] * len(per_count)
    window = max(windows, key=lambda pc: pc[0])[1]
    return [window_evidence(window, count) or 0.0 for count, _, _ in per_count]


def pooled(per_count: list[Scored], window: list[float], weight: float, stage: Stage) -> Counted:
    """One conditional logit over the reads under every count, each count's scores shifted by
    its log prior (the softmax of `weight` times the window's evidence): a reading's
    probability is the sum over the (count, read) pairs reading its integer value, against
    the outside option (none is right). A count whose reads score well takes the weight from
    counts whose reads score poorly (a frame edge read as a leading 7 under one count more)."""
    prior = weight * np.array(window)
    prior -= np.logaddexp.reduce(prior)
    shifted = [scores + p for (_, _, scores), p in zip(per_count, prior, strict=True)]
    top = max(0.0, max(float(s.max(initial=-np.inf)) for s in shifted))
    outside = float(np.exp(-top))
    mass: dict[int | None, float] = {}
    share = []
    for (_, described, _), s in zip(per_count, shifted, strict=True):
        e = np.exp(s - top)
        share.append(float(e.sum()))
        for d, v in zip(described, e, strict=True):
            key = int(d.text) if d.text.isdigit() else None
            mass[key] = mass.get(key, 0.0) + float(v)
    total = sum(share) + outside
    value = max(mass, key=lambda v: (v is not None, mass[v]))
    reads = []
    for (count, described, scores), s, part, e in zip(
        per_count, shifted, share, window, strict=True
    ):
        own = _softmax(scores)
        texts = [d.text for d in described]
        of_value = [i for i, d in enumerate(described) if _value(d) == value]
        lead = max(of_value, key=lambda i: float(s[i]), default=None)
        k = int(np.argmax(own))
        read = CountRead(
            count, described[k], ranking.reading_probability(texts, own, k), e, part / total
        )
        if lead is None:
            reads.append((-np.inf, read, read))
            continue
        as_value = CountRead(
            count, described[lead], ranking.reading_probability(texts, own, lead), e, part / total
        )
        reads.append((float(s[lead]), as_value, read))
    _, best, _ = max(reads, key=lambda r: r[0])
    agreeing = sum(own.weight for _, _, own in reads if own.value == value)
    agreed = agreeing >= 0.5 * sum(own.weight for _, _, own in reads)
    others = sorted(
        (own for _, chosen, own in reads if chosen is not best), key=lambda r: -r.weight
    )
    likely = mass[value] / total if value is not None else 0.0
    return Counted([best, *others], likely, stage, agreed)


def _value(d: Described) -> int | None:
    return int(d.text) if d.text.isdigit() else None


def _softmax(scores: np.ndarray) -> np.ndarray:
    """As `ranking.probabilities`: each candidate's probability against the outside option."""
    top = max(float(scores.max(initial=0.0)), 0.0)
    e = np.exp(scores - top)
    return np.asarray(e / (e.sum() + np.exp(-top)))


def choose_by_counts(
    search: Search,
    rankers: dict[str, ranking.Model],
    image: np.ndarray,
    display: Display | None,
    memo: Memo,
) -> tuple[Found | None, ranking.Model, bool, Counted | None]:
    """The choice for a meter of unknown digit count that may be a drum counter (`display`
    "drum" or None), as `choice.choose_reading` gives it, and every count's read. Where the
    kind is unknown too, a photo with a display read with a decimal point and no red cells
    along the rows read on their blob grids is read as before (as a display or an unknown
    counter), the drums are taken for the counter only when the chosen read shows red drums
    (else as before), and a display read with a decimal point that gives another value weighs
    against the drums by its segments' evidence (`against_display`): the drum read is flagged
    where that leaves it below the knot. A drum read below the knot gives way to the display
    read where the display ranker is surer of that (as before, unflagged); one from the knot
    on, where it would be accepted with its count known, stands."""
    model = rankers[ranking.mode(COUNTS[0])]
    uncounted = rankers[ranking.mode(None)]
    if display is None and _looks_like_a_display(search, image, memo):
        return choose(search, image, None, uncounted, display, memo), uncounted, False, None
    by_count = read_counts(search, model, image, display, memo)
    drums = by_count is not None and by_count.best.best.candidate.run.decimals > 0
    if by_count is None or (display is None and not drums):
        return choose(search, image, None, uncounted, display, memo), uncounted, False, None
    best = by_count.best.best
    found = (best, by_count.likely, by_count.stage)
    if display is not None or not display_disagrees(best, by_count.stage.described):
        return found, model, False, by_count
    sure = model.knot is not None and by_count.likely >= model.knot
    again = None if sure else choose(search, image, None, uncounted, None, memo)
    if again is not None and may_be_the_display(again[0], best) and again[1] > by_count.likely:
        return again, uncounted, False, None  # the display's read, as without drum counts
    likely = against_display(by_count.likely, display_probability(best, by_count.stage.described))
    doubted = model.knot is None or likely < model.knot
    return (best, likely, by_count.stage), model, doubted, by_count


def display_probability(best: Described, described: list[Described]) -> float:
    """The probability that the surest display read contradicting `best` is right, on its
    segments' evidence (`display_confidence`; 0 where none does)."""
    value = _value(best)
    return max(
        (
            segments_probability(d, described)
            for d in described
            if may_be_the_display(d, best) and d.integer and _value(d) != value
        ),
        default=0.0,
    )


def segments_probability(read: Described, described: list[Described]) -> float:
    """The probability that a display read is right on its segments' evidence (0: none)."""
    e = display_confidence.evidence(read, described)
    return 0.0 if e is None else display_confidence.probability(display_confidence.features(e))


def against_display(drums: float, display: float) -> float:
    """The drum read's probability where a display read of another value contradicts it: both
    cannot be right, so of the three outcomes left (drums right, display right, neither) the
    drums' share, each read's probability taken as independent evidence. A display read whose
    segments barely hold leaves the drums' probability nearly as it is."""
    kept = drums * (1.0 - display)
    return kept / (kept + display * (1.0 - drums) + (1.0 - drums) * (1.0 - display))


def _looks_like_a_display(search: Search, image: np.ndarray, memo: Memo) -> bool:
    """A display read with a decimal point, and no row read on its blob grid with red cells
    anywhere along it (red drums the grid may have cut badly): read as a display, not searched
    for drums under every count first."""
    points = any(c.point for c in memo.displays())
    return points and not any(
        digits_logic.red_block(c.cells.red) is not None for c in search.first(image, memo)
    )


def hypotheses(
    by_count: Counted, knot: float | None, min_confidence: float, image: np.ndarray | None = None
) -> tuple[DigitCountHypothesis, ...]:
    """Every count's read as the pipeline gets it, surest first: its own confidence and reason
    (as if master data gave that count; `image`: the work image, see `choice.vetted`) and the
    count's share of the window's evidence."""
    out = []
    for r in by_count.reads:
        calibrated = trust.calibrated(r.likely, knot)
        confidence, reason = vetted(r.best, calibrated, min_confidence, image)
        out.append(
            DigitCountHypothesis(
                integer_digits=r.count,
                reading=r.best.text or None,
                fraction=digits_logic.as_text(r.best.fraction) or None,
                confidence=confidence,
                accepted=reason is None and confidence >= min_confidence,
                evidence=r.weight,
                reason=reason,
            )
        )
    return tuple(out)
