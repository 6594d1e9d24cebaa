"""The decision policy: accept automatically, send to a clerk, or reject. A pure function."""

from __future__ import annotations

from core.types import Decision, MatchResult, MeterRead
from matching import reasons
from matching.values import photo_value as _photo_value


def decide(match: MatchResult, read: MeterRead | None, *, min_confidence: float) -> Decision:
    """Decide what becomes of one submission.

    **accept** only when all of these hold:
    - the meter is matched unambiguously (`match.meter` set, no blocking reason code from matching,
      which also carries the plausibility codes);
    - there is a value, and it is confident: a photo read that OCR itself accepted with
      `confidence >= min_confidence`, or a photo value confirmed by the value the customer typed
      (`typed_matches_photo`). A typed value without a photo is never auto-accepted: nothing
      backs it up, and a typo would go straight to billing.

    **review** for everything else, with the reason codes that explain why; the clerk sees the
    photo, the candidates and the proposed value.

    **reject** only for a mail with no usable content: no photo at all (`read is None`) and no
    typed value. Nothing can be booked from it and a clerk could only ask the customer to try again,
    which the rejection reply ("please send a photo of your meter") does at once. The mail itself is
    not lost: it stays in the ledger and the `Rejected` folder. The price is that a free-text
    question sent to the meter address gets that reply instead of a clerk, so the reply should name
    the customer-service address.
    A photo that OCR could not read is *not* rejected: a person can often read what OCR cannot.

    **ignore** (auto-replies, bounces) is decided by intake before matching and never returned here.
    """
    if read is None and match.value is None:
        return Decision(outcome="reject", reason_codes=(reasons.NO_CONTENT,))
    codes = list(reasons.blocking(match.reason_codes))
    if match.meter is None and not codes:
        codes.append(reasons.NO_METER)
    codes.extend(_value_codes(match, read, min_confidence))
    blocking = reasons.blocking(codes)
    return Decision(
        outcome="review" if blocking else "accept",
        reason_codes=blocking,
        value=match.value,
        meter_id=match.meter.meter_id if match.meter else None,
    )


def _value_codes(match: MatchResult, read: MeterRead | None, min_confidence: float) -> list[str]:
    """Why the value is not good enough to book unseen (empty when it is)."""
    photo_value = _photo_value(read)
    if match.value is None:
        return [reasons.UNREADABLE_PHOTO if read is not None else reasons.NO_VALUE]
    if match.value_source == "typed" or photo_value is None:
        return [reasons.UNREADABLE_PHOTO if read is not None else reasons.TYPED_WITHOUT_PHOTO]
    if reasons.TYPED_MATCHES_PHOTO in match.reason_codes:
        return []
    assert read is not None  # photo_value is set
    if read.accepted and read.confidence >= min_confidence:
        return []
    return [reasons.LOW_CONFIDENCE]
