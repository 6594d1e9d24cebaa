"""The decision for a whole mail: one item per photo (meter, register, value, book or review),
reconciled across photos, summed up for the reply.

- Photos are read for each candidate meter (`candidate_hints`); `decide_mail` then takes each
  photo on its own (`matching.hypotheses`): a mail with the cold- and the warm-water meter books
  two readings, two photos of a two-register meter book both registers.
- Two photos of the same register: the same value books once; different values go to a clerk.
- An unreadable extra photo is dropped when the readable photos already cover every meter it
  could show; otherwise it goes to a clerk.
A mail without photos takes the single-value path (`match_submission` + `decide`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal

from sqlalchemy.orm import Session

from core.types import (
    Decision,
    MatchResult,
    MeterHint,
    MeterRead,
    ReadingItem,
    Submission,
)
from matching import reasons
from matching.decide import decide
from matching.hypotheses import Candidate, decide_photo
from matching.meters import expectation_for, profile_of
from matching.plausibility import daily_limit
from matching.resolve import MeterPool, match_submission, photo_numbers, resolve_pool
from matching.values import agrees, normalize_meter_number

PhotoReads = Mapping[MeterHint, MeterRead]  # one photo, read once per distinct hypothesis
# codes from the pool that the hypotheses settle themselves
_SETTLED = frozenset({reasons.AMBIGUOUS_METER, reasons.MULTIPLE_REGISTERS, reasons.NO_METER})


@dataclass(frozen=True)
class MailDecision:
    match: MatchResult  # summary for the reply (the first item needing a clerk, else the first)
    decision: Decision  # outcome for the whole mail; `items` holds each photo's
    reads: tuple[MeterRead | None, ...] = ()  # per item: the read its value comes from


def candidate_hints(session: Session, submission: Submission, *, today: dt.date) -> list[MeterHint]:
    """How to read the mail's photos: once per distinct (digit count, display) of the meters the
    sender and the typed numbers point at; once without a hint when none is known."""
    pool = resolve_pool(session, submission, (), today=today)
    hints = dict.fromkeys(profile_of(meter).hint for meter in pool.meters)
    return list(hints) or [MeterHint()]


def further_hints(
    session: Session, submission: Submission, photos: Sequence[PhotoReads], *, today: dt.date
) -> list[list[MeterHint]]:
    """Per photo, the hints still to read it with: those of meters that only the meter number
    read on it brought into question (e.g. from an unknown sender)."""
    missing = []
    for reads in photos:
        numbers = tuple(n for read in reads.values() for n in photo_numbers(read))
        pool = resolve_pool(session, submission, numbers, today=today) if numbers else None
        hints = dict.fromkeys(profile_of(m).hint for m in pool.meters) if pool else {}
        missing.append([hint for hint in hints if hint not in reads])
    return missing


def decide_mail(
    session: Session,
    submission: Submission,
    photos: Sequence[PhotoReads],
    *,
    today: dt.date,
    min_confidence: float,
    max_daily_consumption: float,
) -> MailDecision:
    """Decide each photo (`photos`: its reads per hint, in the mail's order) on its own, then the
    mail; `today` is the reading date (the Berlin day the mail arrived)."""
    if not photos:
        match = match_submission(
            session, submission, None, today=today, max_daily_consumption=max_daily_consumption
        )
        return MailDecision(match, decide(match, None, min_confidence=min_confidence))
    pools: list[MeterPool] = []
    items: list[ReadingItem] = []
    for index, reads in enumerate(photos):
        numbers = tuple(n for read in reads.values() for n in photo_numbers(read))
        pool = resolve_pool(session, submission, numbers, today=today)
        candidates = [
            Candidate(
                profile_of(meter),
                {r: expectation_for(session, meter, r, today) for r in profile_of(meter).registers},
            )
            for meter in pool.meters
        ]
        blocking = tuple(c for c in reasons.blocking(pool.codes) if c not in _SETTLED)
        item = decide_photo(
            index, candidates, reads, frozenset(normalize_meter_number(n) for n in numbers),
            min_confidence=min_confidence, blocking=blocking,
        )  # fmt: skip
        item = _ceiling(item, candidates, max_daily_consumption)
        items.append(_typed(item, submission.hints.readings))
        pools.append(pool)
    items = reconcile(items, [_covers(pool) for pool in pools])
    items = _typed_instead(items, submission.hints.readings)
    return _summary(items, pools, photos)


def _ceiling(item: ReadingItem, candidates: list[Candidate], max_daily: float) -> ReadingItem:
    """The hard safety net: no household uses more than `max_daily_consumption` per day."""
    exp = item.expectation
    if item.value is None or exp is None or exp.last_value is None or exp.last_read_on is None:
        return item
    unit = next((c.profile.unit for c in candidates if c.profile.meter_id == item.meter_id), "kWh")
    days = max((exp.read_on - exp.last_read_on).days, 1)
    if item.value - exp.last_value <= daily_limit(unit, max_daily) * days:
        return item
    return _block(item, reasons.CONSUMPTION_TOO_HIGH)


def _typed(item: ReadingItem, typed: tuple[Decimal, ...]) -> ReadingItem:
    """A typed value that agrees with the photo confirms it; one that does not is a doubt."""
    if not typed or item.value is None:
        return item
    if any(agrees(value, item.value) for value in typed):
        codes = tuple(c for c in item.reason_codes if c != reasons.LOW_CONFIDENCE)
        return replace(
            item, reason_codes=codes, outcome="review" if codes else "accept",
            notes=(*item.notes, reasons.TYPED_MATCHES_PHOTO),
        )  # fmt: skip
    return _block(item, reasons.TYPED_PHOTO_MISMATCH)


def _typed_instead(items: list[ReadingItem], typed: tuple[Decimal, ...]) -> list[ReadingItem]:
    """When no photo gave a value, the clerk starts from the typed one."""
    if not typed or any(item.value is not None for item in items):
        return items
    first = replace(items[0], value=typed[0], value_source="typed")
    if len(set(typed)) > 1:
        first = _block(first, reasons.AMBIGUOUS_TYPED_VALUE)
    return [first, *items[1:]]


def _block(item: ReadingItem, code: str) -> ReadingItem:
    return replace(
        item, outcome="review", reason_codes=reasons.blocking([*item.reason_codes, code])
    )


def _covers(pool: MeterPool) -> frozenset[tuple[int, str]]:
    return frozenset(
        (meter.id, register) for meter in pool.meters for register in profile_of(meter).registers
    )


def reconcile(
    items: list[ReadingItem], could_show: list[frozenset[tuple[int, str]]]
) -> list[ReadingItem]:
    """Drop repeats of a reading and unreadable extras; flag photos that disagree."""
    kept: list[ReadingItem] = []
    for item in items:
        same = [k for k in kept if _key(k) is not None and _key(k) == _key(item)]
        if not same:
            kept.append(item)
        elif all(k.value == item.value for k in same):
            kept[kept.index(same[0])] = replace(
                same[0], notes=tuple(dict.fromkeys((*same[0].notes, reasons.SAME_READING_TWICE)))
            )
        else:
            kept = [_block(k, reasons.CONFLICTING_PHOTOS) if k in same else k for k in kept]
            kept.append(_block(item, reasons.CONFLICTING_PHOTOS))
    readable = [k for k in kept if k.value is not None]
    if not readable:
        return kept[:1]  # one task for the clerk is enough
    covered = {_key(k) for k in readable}
    return [k for k in kept if k.value is not None or not could_show[k.photo_index or 0] <= covered]


def _key(item: ReadingItem) -> tuple[int, str] | None:
    if item.meter_id is None or item.register is None:
        return None
    return item.meter_id, item.register


def _summary(
    items: list[ReadingItem], pools: list[MeterPool], photos: Sequence[PhotoReads]
) -> MailDecision:
    review = [item for item in items if item.outcome == "review"]
    lead = review[0] if review else items[0]
    pool = pools[lead.photo_index or 0]
    codes = reasons.blocking([c for item in review for c in item.reason_codes])
    notes = [n for item in items for n in item.notes]
    meter = next((c for c in pool.candidates if c.meter_id == lead.meter_id), None)
    reads = tuple(_read_of(item, photos) for item in items)
    match = MatchResult(
        customer_id=pool.customer_id, meter=meter, candidates=pool.candidates, value=lead.value,
        value_source=lead.value_source if lead.value is not None else None,
        reason_codes=tuple(dict.fromkeys([*codes, *notes])),
    )  # fmt: skip
    decision = Decision(
        outcome="review" if review else "accept", reason_codes=codes, value=lead.value,
        meter_id=lead.meter_id, items=tuple(items),
    )  # fmt: skip
    return MailDecision(match, decision, reads)


def _read_of(item: ReadingItem, photos: Sequence[PhotoReads]) -> MeterRead | None:
    if item.photo_index is None:
        return None
    reads = photos[item.photo_index]
    if item.hint is not None and item.hint in reads:
        return reads[item.hint]
    return next(iter(reads.values()), None)
