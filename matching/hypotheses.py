"""Which meter and register one photo shows, from the evidence, and whether to book its value.

Every (meter, register) of the candidate meters is a hypothesis, judged on the photo as read for
that meter (its digit count and display kind): the meter number on the photo, the value's fit to
the register's expected band, whether the meter can show the value at all, the OCR's confidence.
One hypothesis wins only when it clearly does:
- a meter number on the photo names exactly one candidate meter: that meter;
- meters whose counter the photo cannot show (another display kind, more red drums than the
  meter has, a value too large for its digits) are out, unless that leaves none;
- else exactly one hypothesis fits its band and no other could (a meter without history could);
- else, when several meters' bands hold the value and each has a history, the meter whose history
  makes the value at least `MIN_METER_ODDS` times as likely as every other meter's does
  (`matching.decoding.value_density`: the same consumption model that weighs the OCR's doubts),
  booked only when the OCR accepted the read on its own (the history has chosen the meter and
  cannot also settle the OCR's doubts);
- a single candidate (one meter, one register) wins by default; its own codes then decide.
Otherwise the photo goes to a clerk with every hypothesis and why none won. Pure: no database.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Literal

from core.types import Expectation, Hypothesis, MeterHint, MeterProfile, MeterRead, ReadingItem
from matching import reasons
from matching.decoding import (
    HISTORY_MAX_DOUBT,
    MIN_METER_ODDS,
    MIN_PHOTO_CONFIDENCE,
    confident,
    decode,
    value_density,
)
from matching.meters import spec_of
from matching.values import normalize_meter_number

Fit = Literal["in_band", "out_of_band", "unknown", "unreadable"]
# evidence that the photo does not show this meter's counter: another kind of display, more red
# drums than the meter has, a value the counter cannot hold
PHOTO_EXCLUDES = frozenset({"display_differs", "decimals_differ", "cannot_show_value"})


@dataclass(frozen=True)
class Candidate:
    """A candidate meter with the expectation of each of its registers."""

    profile: MeterProfile
    expectations: Mapping[str, Expectation]


def read_for(reads: Mapping[MeterHint, MeterRead], profile: MeterProfile) -> MeterRead | None:
    """The photo as read for this meter, else the read without a hint (else any read)."""
    return reads.get(profile.hint) or reads.get(MeterHint()) or next(iter(reads.values()), None)


def judge(
    candidate: Candidate,
    register: str,
    read: MeterRead | None,
    numbers: frozenset[str],
    *,
    min_confidence: float,
) -> tuple[Hypothesis, bool]:
    """One hypothesis, and whether its value could be booked unseen."""
    profile, exp = candidate.profile, candidate.expectations[register]
    spec = spec_of(profile)
    decoded = decode(read, exp, profile.kind, spec, display=profile.display)
    evidence = _evidence(profile, read, numbers)
    fit: Fit
    if decoded.value is None or read is None:
        fit, bookable = "unreadable", False
        evidence.append("unreadable")
    else:
        fit = "unknown" if exp.basis == "none" else "out_of_band" if decoded.codes else "in_band"
        if decoded.codes and set(decoded.codes) & {reasons.TOO_MANY_DIGITS, reasons.NEGATIVE_VALUE}:
            evidence.append("cannot_show_value")
        evidence.append(
            {"unknown": "no_history", "in_band": "fits_history"}.get(fit, "outside_history")
        )
        shown = profile.display or read.display  # master data knows the counter better
        bookable = confident(
            read, decoded, exp, min_confidence=min_confidence,
            max_doubt=HISTORY_MAX_DOUBT.get(shown),
            min_photo_confidence=MIN_PHOTO_CONFIDENCE.get(shown, 1.0),
            drums=profile.integer_digits if profile.display == "drum" else None,
        )  # fmt: skip
    used = None
    if decoded.value is not None and exp.last_value is not None and decoded.value >= exp.last_value:
        used = decoded.value - exp.last_value
    hypothesis = Hypothesis(
        meter_id=profile.meter_id, meter_number=profile.number, register=register,
        integer_digits=profile.integer_digits, display=profile.display, value=decoded.value,
        confidence=read.confidence if read else 0.0, ocr_accepted=bool(read and read.accepted),
        fit=fit, consumption=used, evidence=tuple(evidence), codes=decoded.codes, expectation=exp,
    )  # fmt: skip
    return hypothesis, bookable


def _evidence(profile: MeterProfile, read: MeterRead | None, numbers: frozenset[str]) -> list[str]:
    found: list[str] = []
    if normalize_meter_number(profile.number) in numbers:
        found.append("meter_number_photo")
    elif numbers:
        found.append("other_meter_number")
    if read is not None and read.display and profile.display:
        found.append("display_matches" if read.display == profile.display else "display_differs")
    drums = profile.display == "drum"  # a display shows no unlit leading digits
    if drums and read is not None and read.reading and len(read.reading) != profile.integer_digits:
        found.append("digit_count_differs")
    if drums and read is not None and len(read.fraction or "") > profile.decimal_digits:
        found.append("decimals_differ")  # more red drums on the photo than the meter has
    if read is not None and read.reading is not None:
        found.append("ocr_accepted" if read.accepted else "ocr_unsure")
    return found


def decide_photo(
    photo_index: int,
    candidates: list[Candidate],
    reads: Mapping[MeterHint, MeterRead],
    numbers: frozenset[str],
    *,
    min_confidence: float,
    blocking: tuple[str, ...] = (),
    min_meter_odds: float = MIN_METER_ODDS,
) -> ReadingItem:
    """The outcome for one photo among `candidates` (the meters still in question)."""
    known = {normalize_meter_number(c.profile.number) for c in candidates}
    named = frozenset(numbers & known)  # numbers on the photo that name a candidate
    judged = [
        judge(c, register, read_for(reads, c.profile), named, min_confidence=min_confidence)
        for c in candidates
        for register in c.profile.registers
    ]
    winner, codes = _choose([h for h, _ in judged], min_meter_odds)
    if winner is None:
        hypotheses = tuple(h for h, _ in judged)
        best = max(hypotheses, key=_proposal_rank, default=None)
        return ReadingItem(
            photo_index=photo_index, outcome="review", meter_id=_single_meter(hypotheses),
            register=None, value=best.value if best else None, value_source="photo",
            reason_codes=reasons.blocking([*blocking, *codes]), hypotheses=hypotheses,
        )  # fmt: skip
    bookable = dict((id(h), ok) for h, ok in judged)[id(winner)]
    hint = next(c.profile.hint for c in candidates if c.profile.meter_id == winner.meter_id)
    return _winner_item(photo_index, winner, judged, codes, bookable, blocking, hint)


def _winner_item(
    photo_index: int,
    winner: Hypothesis,
    judged: list[tuple[Hypothesis, bool]],
    codes: list[str],
    bookable: bool,
    blocking: tuple[str, ...],
    hint: MeterHint,
) -> ReadingItem:
    notes = [reasons.METER_CHOSEN] if len(judged) > 1 else []
    notes += [c for c in codes if c in reasons.NOTES]
    codes = [*blocking, *codes, *winner.codes]
    if winner.value is None:
        codes.append(reasons.UNREADABLE_PHOTO)
    elif not winner.codes and not (bookable and _photo_alone(winner, notes)):
        codes.append(reasons.LOW_CONFIDENCE)
    if winner.fit == "unknown":
        notes.append(reasons.NO_HISTORY)
    if winner.expectation is not None and winner.expectation.basis == "predecessor":
        notes.append(reasons.METER_CHANGE)
    hypotheses = tuple(
        _marked(h, winner, likeliest=reasons.METER_BY_HISTORY in notes) for h, _ in judged
    )
    block = reasons.blocking(codes)
    return ReadingItem(
        photo_index=photo_index, outcome="review" if block else "accept",
        meter_id=winner.meter_id, register=winner.register, value=winner.value,
        value_source="photo", reason_codes=block, notes=tuple(notes),
        expectation=winner.expectation, hypotheses=hypotheses,
        hint=hint,
    )  # fmt: skip


def _photo_alone(winner: Hypothesis, notes: list[str]) -> bool:
    """Whether the photo supports the value without the history's help where the history has
    already chosen the meter (it cannot vouch for the meter and for the OCR's doubts at once)."""
    return reasons.METER_BY_HISTORY not in notes or winner.ocr_accepted


def _marked(h: Hypothesis, winner: Hypothesis, *, likeliest: bool) -> Hypothesis:
    if h is not winner:
        return h
    evidence = (*h.evidence, "likeliest_history") if likeliest else h.evidence
    return replace(h, chosen=True, evidence=evidence)


def _choose(
    hypotheses: list[Hypothesis], min_meter_odds: float = MIN_METER_ODDS
) -> tuple[Hypothesis | None, list[str]]:
    """The winning hypothesis (or None) and codes saying why it is not clear-cut."""
    if not hypotheses:
        return None, [reasons.NO_METER]
    if len(hypotheses) == 1:
        return hypotheses[0], []
    named = {h.meter_id for h in hypotheses if "meter_number_photo" in h.evidence}
    pool = [h for h in hypotheses if h.meter_id in named] if len(named) == 1 else hypotheses
    shown = [h for h in pool if not PHOTO_EXCLUDES.intersection(h.evidence)]
    if shown:  # meters whose counter the photo cannot show are out (unless that is every one)
        pool = shown
    if len(pool) == 1:
        return pool[0], []
    fitting = [h for h in pool if h.fit == "in_band"]
    open_ = [h for h in pool if h.fit == "unknown"]
    if len(fitting) == 1 and not open_:
        return fitting[0], []
    if not fitting and len(open_) == 1 and len({h.meter_id for h in pool}) > 1:
        return open_[0], [reasons.METER_BY_EXCLUSION]
    likeliest = None if open_ else _likeliest(fitting, min_meter_odds)
    if likeliest is not None:
        return likeliest, [reasons.METER_BY_HISTORY]
    rivals = fitting + open_ or [h for h in pool if h.fit != "unreadable"] or pool
    if len({h.meter_id for h in rivals}) == 1:
        return (rivals[0], []) if len(rivals) == 1 else (None, [reasons.REGISTER_UNCLEAR])
    return None, [reasons.AMBIGUOUS_METER]


def _likeliest(fitting: list[Hypothesis], min_odds: float) -> Hypothesis | None:
    """The one hypothesis whose meter's history makes its value at least `min_odds` times as
    likely as any other meter's history makes its own; None when no meter wins so clearly, a
    density is undefined, or the winning meter has several fitting registers."""
    by_meter: dict[int, list[tuple[float, Hypothesis]]] = {}
    for h in fitting:
        density = _density(h)
        if density is None:
            return None
        by_meter.setdefault(h.meter_id, []).append((density, h))
    if len(by_meter) < 2:
        return None
    ranked = sorted(by_meter.values(), key=lambda group: -max(d for d, _ in group))
    best, runner_up = max(d for d, _ in ranked[0]), max(d for d, _ in ranked[1])
    if len(ranked[0]) > 1 or best < min_odds * runner_up or best <= 0:
        return None
    return ranked[0][0][1]


def _density(h: Hypothesis) -> float | None:
    if h.value is None or h.expectation is None:
        return None
    return value_density(h.value, h.expectation)


def _proposal_rank(h: Hypothesis) -> tuple[int, bool, float]:
    order = {"in_band": 3, "unknown": 2, "out_of_band": 1, "unreadable": 0}
    return order[h.fit], h.ocr_accepted, h.confidence


def _single_meter(hypotheses: tuple[Hypothesis, ...]) -> int | None:
    meters = {h.meter_id for h in hypotheses}
    return next(iter(meters)) if len(meters) == 1 else None
