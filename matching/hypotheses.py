"""Which meter and register one photo shows, from the evidence, and whether to book its value.

Every (meter, register) of the candidate meters is a hypothesis, judged on the photo as read for
that meter (its digit count and display kind): the meter number on the photo, the value's fit to
the register's expected band, whether the meter can show the value at all, the OCR's confidence.
One hypothesis wins only when it clearly does:
- a meter number on the photo names exactly one candidate meter: that meter;
- meters whose counter the photo cannot show (another display kind, more red drums than the
  meter has, a value too large for its digits, another unit or register code on the display:
  `matching.display_evidence`) are out, unless that leaves none; a meter whose unit or register
  the display contradicts is never booked unseen (`other_counter_shown`: a heat meter's volume
  screen, an electricity meter's feed-in register);
- else exactly one hypothesis fits its band and no other could (a meter without history could);
- else the meter that makes the value at least `MIN_METER_ODDS` times as likely as every other
  meter does (`matching.meter_likelihood`: its history's consumption model, the kind's default
  use for a meter without readings), the value fitting its band;
  a meter the histories chose (either of the two above, among other meters) books a read the OCR
  did not accept only when the doubt among every meter in question is small
  (`matching.meter_doubt`: the histories have chosen the meter, so the OCR's doubts are weighed
  on all of them, not on the chosen one's alone);
- a single candidate (one meter, one register) wins by default; its own codes then decide.
Otherwise the photo goes to a clerk with every hypothesis and why none won. Pure: no database.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Literal

from core.types import (
    Display,
    Expectation,
    Hypothesis,
    MeterHint,
    MeterProfile,
    MeterRead,
    ReadingItem,
)
from matching import reasons
from matching.decoding import (
    FAR_RIVALS_FACE_MIN_CONFIDENCE,
    FAR_RIVALS_MAX_DOUBT,
    FAR_RIVALS_MAX_FACE,
    FAR_RIVALS_MIN_CONFIDENCE,
    HISTORY_MAX_DOUBT,
    MAX_METER_DOUBT,
    MIN_METER_ODDS,
    MIN_PHOTO_CONFIDENCE,
    confident,
    decode,
)
from matching.display_evidence import EXCLUDES, label_evidence
from matching.meter_doubt import joint_doubt
from matching.meter_kind import kind_evidence, kind_likelihood, photo_dials
from matching.meter_likelihood import likelihood
from matching.meters import spec_of
from matching.red_drums import missed_red_drums, red_drums_likelihood
from matching.values import normalize_meter_number

Fit = Literal["in_band", "out_of_band", "unknown", "unreadable"]
# evidence that the photo does not show this meter's counter: another kind of display, more red
# drums than the meter has, a value the counter cannot hold, another unit or register shown
PHOTO_EXCLUDES = (
    frozenset({"display_differs", "display_elsewhere", "decimals_differ", "cannot_show_value"})
    | EXCLUDES
)
# notes of a meter chosen by how likely each meter makes the value
_BY_LIKELIHOOD = frozenset({reasons.METER_BY_HISTORY, reasons.METER_BY_OTHERS_HISTORY})


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
    shows: Display | None = None,
    dials: int = 0,
) -> tuple[Hypothesis, bool]:
    """One hypothesis, and whether its value could be booked unseen (`shows`: the kind of counter
    the photo shows for sure, `accepted_display`; `dials`: the pointer dials found on the photo,
    `matching.meter_kind.photo_dials`)."""
    profile, exp = candidate.profile, candidate.expectations[register]
    spec = spec_of(profile)
    decoded = decode(read, exp, profile.kind, spec, display=profile.display)
    evidence = _evidence(profile, read, numbers) + label_evidence(profile, register, read)
    evidence += kind_evidence(read, profile, dials)
    if shows and profile.display and profile.display != shows and "display_differs" not in evidence:
        evidence.append("display_elsewhere")
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
    elif missed_red_drums(read, profile):
        found.append("fewer_decimals")  # weighed in `_likeliest` (matching.red_drums)
    if read is not None and read.reading is not None:
        found.append("ocr_accepted" if read.accepted else "ocr_unsure")
    return found


def accepted_display(reads: Mapping[MeterHint, MeterRead]) -> Display | None:
    """The kind of counter the photo shows for sure: the one its accepted reads show, when the
    OCR accepted it read as that kind only (a read told to look for drums finds drums on a
    display, unsure of the digits; the read as a display is the sure one)."""
    shown = {read.display for read in reads.values() if read.accepted and read.display}
    return shown.pop() if len(shown) == 1 else None


def decide_photo(
    photo_index: int,
    candidates: list[Candidate],
    reads: Mapping[MeterHint, MeterRead],
    numbers: frozenset[str],
    *,
    min_confidence: float,
    blocking: tuple[str, ...] = (),
    min_meter_odds: float = MIN_METER_ODDS,
    max_meter_doubt: float = MAX_METER_DOUBT,
    far_rivals_max_doubt: float = FAR_RIVALS_MAX_DOUBT,
    far_rivals_min_confidence: float = FAR_RIVALS_MIN_CONFIDENCE,
    far_rivals_max_face: float = FAR_RIVALS_MAX_FACE,
    far_rivals_face_min_confidence: float = FAR_RIVALS_FACE_MIN_CONFIDENCE,
) -> ReadingItem:
    """The outcome for one photo among `candidates` (the meters still in question;
    `max_meter_doubt`: the most doubt among all of them a read the OCR did not accept may carry
    on a meter the histories chose, negative: none; `far_rivals_min_confidence`: the OCR
    confidence such a read needs where the other meters hold at most `far_rivals_max_doubt` of
    the doubt, or
    `far_rivals_face_min_confidence` where the photo's face makes each of them at most
    `far_rivals_max_face` as likely)."""
    known = {normalize_meter_number(c.profile.number) for c in candidates}
    named = frozenset(numbers & known)  # numbers on the photo that name a candidate
    shows, dials = accepted_display(reads), photo_dials(reads.values())
    judged = [
        judge(c, register, read, named, min_confidence=min_confidence, shows=shows, dials=dials)
        for c in candidates
        for read in [read_for(reads, c.profile)]
        for register in c.profile.registers
    ]
    profiles = {c.profile.meter_id: c.profile for c in candidates}
    face = {
        c.profile.meter_id: _face(read_for(reads, c.profile), c.profile, dials) for c in candidates
    }
    winner, codes = _choose([h for h, _ in judged], profiles, min_meter_odds, face)
    if winner is None:
        hypotheses = tuple(h for h, _ in judged)
        best = max(hypotheses, key=_proposal_rank, default=None)
        return ReadingItem(
            photo_index=photo_index, outcome="review", meter_id=_single_meter(hypotheses),
            register=None, value=best.value if best else None, value_source="photo",
            reason_codes=reasons.blocking([*blocking, *codes]), hypotheses=hypotheses,
        )  # fmt: skip
    bookable = dict((id(h), ok) for h, ok in judged)[id(winner)]
    if EXCLUDES.intersection(winner.evidence):  # chosen for want of a meter the display fits
        codes = [*codes, reasons.OTHER_COUNTER_SHOWN]  # blocks on its own: the read may be sure
    profile = profiles[winner.meter_id]
    if bookable and not (_BY_LIKELIHOOD.isdisjoint(codes) or winner.ocr_accepted):
        judged_only = [h for h, _ in judged]
        read = read_for(reads, profile)
        limits = (
            max_meter_doubt, far_rivals_max_doubt, far_rivals_min_confidence,
            far_rivals_max_face, far_rivals_face_min_confidence,
        )  # fmt: skip
        bookable = _settled(winner, profile, judged_only, profiles, read, limits, face)
    return _winner_item(photo_index, winner, judged, codes, bookable, blocking, profile.hint)


def _face(read: MeterRead | None, profile: MeterProfile, dials: int = 0) -> float:
    """How likely the meter makes what the photo shows besides the value: its red drums
    (`matching.red_drums`) and the marks of its kind (`matching.meter_kind`; `dials`: the
    photo's)."""
    return red_drums_likelihood(read, profile) * kind_likelihood(read, profile, dials)


def _settled(
    winner: Hypothesis,
    profile: MeterProfile,
    hypotheses: list[Hypothesis],
    profiles: Mapping[int, MeterProfile],
    read: MeterRead | None,
    limits: tuple[float, float, float, float, float],
    face: Mapping[int, float],
) -> bool:
    """Whether a read the OCR did not accept, on a meter the histories chose, leaves at most
    `limit` doubt among every register the photo leaves in question (`matching.meter_doubt`): the
    histories have chosen the meter, so the OCR's doubts are weighed on every meter at once.
    Where the other registers hold little of it, the chosen meter's own doubt was judged as for
    a customer's only meter (`judge`), and a read the OCR was fairly sure of is booked, and a
    less sure one where the photo's face makes every other register unlikely (`limits`: the
    doubt, the share of it the other registers may hold then, the confidence needed then, the
    face's odds that make another register unlikely and the confidence needed with them: another
    meter's photo misread into the chosen meter's band is what the confidence guards against)."""
    limit, far, floor, unlikely, face_floor = limits
    if read is None or winner.value is None or winner.expectation is None or limit < 0:
        return False
    pool = _in_question(hypotheses)
    own_face = face.get(winner.meter_id, 1.0)
    others = [
        (profiles[h.meter_id], h.expectation, face.get(h.meter_id, 1.0) / own_face)
        for h in pool
        if h is not winner
    ]
    doubt = joint_doubt(read, winner.value, profile, winner.expectation, others)
    if doubt <= limit:
        return True
    own = joint_doubt(read, winner.value, profile, winner.expectation, [])
    if doubt - own > far:
        return False
    shown_elsewhere = any(odds > unlikely for _, _, odds in others)
    return read.confidence >= (floor if shown_elsewhere else face_floor)


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
    elif not winner.codes and not bookable:
        codes.append(reasons.LOW_CONFIDENCE)
    if winner.fit == "unknown":
        notes.append(reasons.NO_HISTORY)
    if winner.expectation is not None and winner.expectation.basis == "predecessor":
        notes.append(reasons.METER_CHANGE)
    hypotheses = tuple(
        _marked(h, winner, likeliest=not _BY_LIKELIHOOD.isdisjoint(notes)) for h, _ in judged
    )
    block = reasons.blocking(codes)
    return ReadingItem(
        photo_index=photo_index, outcome="review" if block else "accept",
        meter_id=winner.meter_id, register=winner.register, value=winner.value,
        value_source="photo", reason_codes=block, notes=tuple(notes),
        expectation=winner.expectation, hypotheses=hypotheses,
        hint=hint,
    )  # fmt: skip


def _marked(h: Hypothesis, winner: Hypothesis, *, likeliest: bool) -> Hypothesis:
    if h is not winner:
        return h
    evidence = (*h.evidence, "likeliest_history") if likeliest else h.evidence
    return replace(h, chosen=True, evidence=evidence)


def _choose(
    hypotheses: list[Hypothesis],
    profiles: Mapping[int, MeterProfile],
    min_meter_odds: float = MIN_METER_ODDS,
    face: Mapping[int, float] | None = None,
) -> tuple[Hypothesis | None, list[str]]:
    """The winning hypothesis (or None) and codes saying why it is not clear-cut (`face`: per
    meter, how likely it makes what the photo shows besides the value, `_face`; 1.0 where not
    given)."""
    if not hypotheses:
        return None, [reasons.NO_METER]
    if len(hypotheses) == 1:
        return hypotheses[0], []
    pool = _in_question(hypotheses)
    if len(pool) == 1:
        return pool[0], []
    if all(h.fit == "unreadable" for h in pool):  # no meter read a value: which one is moot
        return None, [reasons.UNREADABLE_PHOTO]
    fitting = [h for h in pool if h.fit == "in_band"]
    open_ = [h for h in pool if h.fit == "unknown"]
    if len(fitting) == 1 and not open_:  # the other meters' histories rule the value out
        others = len({h.meter_id for h in pool}) > 1
        return fitting[0], [reasons.METER_BY_HISTORY] if others else []
    likeliest = _likeliest(pool, min_meter_odds, profiles, face or {})
    if likeliest is not None:
        known = likeliest.fit == "in_band"
        return likeliest, [reasons.METER_BY_HISTORY if known else reasons.METER_BY_OTHERS_HISTORY]
    if not fitting and len(open_) == 1 and len({h.meter_id for h in pool}) > 1:
        return open_[0], [reasons.METER_BY_EXCLUSION]
    rivals = fitting + open_ or [h for h in pool if h.fit != "unreadable"] or pool
    if len({h.meter_id for h in rivals}) == 1:
        return (rivals[0], []) if len(rivals) == 1 else (None, [reasons.REGISTER_UNCLEAR])
    return None, [reasons.AMBIGUOUS_METER]


def _in_question(hypotheses: list[Hypothesis]) -> list[Hypothesis]:
    """The hypotheses the photo leaves in question: the meter its meter number names, else every
    meter whose counter it can show (every one when it can show none)."""
    named = {h.meter_id for h in hypotheses if "meter_number_photo" in h.evidence}
    pool = [h for h in hypotheses if h.meter_id in named] if len(named) == 1 else hypotheses
    shown = [h for h in pool if not PHOTO_EXCLUDES.intersection(h.evidence)]
    return shown or pool


def _likeliest(
    pool: list[Hypothesis],
    min_odds: float,
    profiles: Mapping[int, MeterProfile],
    face: Mapping[int, float],
) -> Hypothesis | None:
    """The one hypothesis whose meter makes its value at least `min_odds` times as likely as
    any other meter makes its own (`matching.meter_likelihood`: a meter's history, or its kind's
    default without one; times how likely it makes the red drums and the marks of its kind
    shown, `_face`);
    None when no meter wins so clearly, a likelihood is undefined, the
    winner's value does not fit its band, or the winning meter has several registers that could
    show the value."""
    by_meter: dict[int, list[tuple[float, Hypothesis]]] = {}
    for h in pool:
        if h.fit == "unreadable":
            continue
        density = likelihood(h, profiles[h.meter_id])
        if density is None:
            return None
        density *= face.get(h.meter_id, 1.0)
        by_meter.setdefault(h.meter_id, []).append((density, h))
    if len(by_meter) < 2:
        return None
    ranked = sorted(by_meter.values(), key=lambda group: -max(d for d, _ in group))
    best, runner_up = max(d for d, _ in ranked[0]), max(d for d, _ in ranked[1])
    possible = [h for _, h in ranked[0] if h.fit in ("in_band", "unknown")]
    if len(possible) != 1 or best < min_odds * runner_up or best <= 0:
        return None
    winner = max(ranked[0], key=lambda item: item[0])[1]
    return winner if winner is possible[0] else None


def _proposal_rank(h: Hypothesis) -> tuple[int, bool, float]:
    order = {"in_band": 3, "unknown": 2, "out_of_band": 1, "unreadable": 0}
    return order[h.fit], h.ocr_accepted, h.confidence


def _single_meter(hypotheses: tuple[Hypothesis, ...]) -> int | None:
    meters = {h.meter_id for h in hypotheses}
    return next(iter(meters)) if len(meters) == 1 else None
