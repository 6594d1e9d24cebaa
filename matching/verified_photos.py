"""The photos whose reading a person confirmed: what a site model learns from (`meter-intake
train`).

Two kinds: a clerk's decision on a review task with its photo (accepted or corrected; the value
the task was finally decided with, an undone booking's correction included), and a reading the
worker booked by itself from a photo that is still in force (never superseded by a correction).
Left out: rejected tasks, photos mailed before or taken long before (reuse), meters with several
registers (which register a photo shows is not recorded), readings wider than the meter's
counter, photos whose mail was purged.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.models import InboundMessage, Meter, Photo, Reading, ReviewTask, shown_on
from core.types import Display
from matching.reasons import PHOTO_OLD, PHOTO_REUSED, PHOTO_SIMILAR

REUSE = {PHOTO_REUSED, PHOTO_SIMILAR, PHOTO_OLD}


@dataclass(frozen=True)
class VerifiedPhoto:
    photo_id: int
    sha256: str  # the photo's blob
    integer_digits: int
    display: Display | None
    value: int  # the confirmed reading's integer part
    by: str  # "clerk" or "auto"


def verified_photos(session: Session) -> list[VerifiedPhoto]:
    """Every verified photo once (a clerk's word before the worker's), oldest first."""
    found: dict[int, VerifiedPhoto] = {}
    for photo in [*_clerk_decided(session), *_auto_booked(session)]:
        found.setdefault(photo.photo_id, photo)
    return sorted(found.values(), key=lambda p: p.photo_id)


def _clerk_decided(session: Session) -> list[VerifiedPhoto]:
    rows = session.execute(
        select(ReviewTask, Photo, Meter)
        .join(Photo, Photo.id == ReviewTask.photo_id)
        .join(Meter, Meter.id == ReviewTask.meter_id)
        .join(InboundMessage, InboundMessage.id == Photo.message_id)
        .where(
            ReviewTask.status == "done",
            ReviewTask.decision.in_(("accepted", "corrected")),
            ReviewTask.decided_value.is_not(None),
            InboundMessage.purged_at.is_(None),
        )
        .order_by(ReviewTask.id)
    ).all()
    out = []
    for task, photo, meter in rows:
        if REUSE & set(task.reason_codes or []) or (task.details or {}).get("reuse"):
            continue
        verified = _verified(photo, meter, task.decided_value, "clerk")
        if verified is not None:
            out.append(verified)
    return out


def _auto_booked(session: Session) -> list[VerifiedPhoto]:
    rows = session.execute(
        select(Reading, Photo, Meter)
        .join(Photo, Photo.id == Reading.photo_id)
        .join(Meter, Meter.id == Reading.meter_id)
        .join(InboundMessage, InboundMessage.id == Photo.message_id)
        .where(
            Reading.accepted_by == "auto",
            Reading.source == "photo",
            Reading.status == "accepted",
            InboundMessage.purged_at.is_(None),
        )
        .order_by(Reading.id)
    ).all()
    out = []
    for reading, photo, meter in rows:
        verified = _verified(photo, meter, reading.value, "auto")
        if verified is not None:
            out.append(verified)
    return out


def _verified(photo: Photo, meter: Meter, value: Decimal | None, by: str) -> VerifiedPhoto | None:
    if value is None or value < 0 or "," in meter.registers:
        return None
    integer = int(value)
    if len(str(integer)) > meter.integer_digits:
        return None
    display = shown_on(meter.kind, meter.display)
    return VerifiedPhoto(photo.id, photo.sha256, meter.integer_digits, display, integer, by)
