"""Photo reuse: a photo mailed before, a near copy of one, or a photo taken long ago is never booked
unseen and never confirmed again; it goes to a clerk with a link to the earlier mail.

Three findings, strongest first:
- `photo_reused`: the same bytes (sha256) as any earlier photo, whoever sent it;
- `photo_similar`: a perceptual hash (dHash) within `near_bits` differing bits of one of the
  customer's or the meter's earlier photos (re-compressed, resized, screenshotted copies);
- `photo_old`: the camera's EXIF time lies more than `max_age_days` before the mail arrived, or
  on a day before the meter's last reading.

`judge_photo` is pure; `find_reuse` gathers the earlier photos from the database.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import Session

from core.context import BERLIN
from core.models import ContractAccount, Customer, InboundMessage, Meter, Photo, Reading, ReviewTask
from core.types import Decision
from matching import reasons

MAX_EARLIER_PHOTOS = 500  # the customer's and meter's most recent photos compared by hash


@dataclass(frozen=True)
class SeenPhoto:
    """What is stored about one photo, enough to compare it with another."""

    photo_id: int
    ledger_id: int
    sha256: str
    phash: str | None = None
    exif_time: dt.datetime | None = None


@dataclass(frozen=True)
class ReuseFinding:
    code: str
    photo: SeenPhoto
    earlier: SeenPhoto | None = None
    distance: int | None = None
    last_reading_on: dt.date | None = None

    def details(self) -> dict[str, Any]:
        """The review task's details (keys in matching/task_details.py)."""
        kind = {reasons.PHOTO_REUSED: "exact_copy", reasons.PHOTO_SIMILAR: "similar"}
        found: dict[str, Any] = {
            "reuse": kind.get(self.code, "old"),
            "photo_id": self.photo.photo_id,
        }
        if self.earlier is not None:
            found["earlier_ledger_id"] = self.earlier.ledger_id
            found["earlier_photo_id"] = self.earlier.photo_id
        if self.distance is not None:
            found["phash_distance"] = self.distance
        if self.photo.exif_time is not None:
            found["exif_time"] = self.photo.exif_time.isoformat()
        if self.last_reading_on is not None:
            found["last_reading_on"] = self.last_reading_on.isoformat()
        return found


def phash_distance(first: str, second: str) -> int:
    """Differing bits of two 64-bit hashes written as hex."""
    return (int(first, 16) ^ int(second, 16)).bit_count()


def judge_photo(
    photo: SeenPhoto,
    earlier: Sequence[SeenPhoto],
    *,
    received_at: dt.datetime,
    last_reading_on: dt.date | None,
    max_age_days: int,
    near_bits: int,
) -> ReuseFinding | None:
    """The strongest finding for `photo` against `earlier` photos of other mails (None: fresh)."""
    others = sorted(
        (e for e in earlier if e.ledger_id != photo.ledger_id), key=lambda e: e.photo_id
    )
    copy = next((e for e in others if e.sha256 == photo.sha256), None)
    if copy is not None:
        return ReuseFinding(reasons.PHOTO_REUSED, photo, copy, distance=0)
    similar = _nearest(photo, others)
    if similar is not None and similar[1] <= near_bits:
        return ReuseFinding(reasons.PHOTO_SIMILAR, photo, similar[0], distance=similar[1])
    if photo.exif_time is not None:
        too_old = received_at - photo.exif_time > dt.timedelta(days=max_age_days)
        taken_on = photo.exif_time.astimezone(BERLIN).date()
        before_last = last_reading_on is not None and taken_on < last_reading_on
        if too_old or before_last:
            return ReuseFinding(
                reasons.PHOTO_OLD, photo, last_reading_on=last_reading_on if before_last else None
            )
    return None


def _nearest(photo: SeenPhoto, others: Iterable[SeenPhoto]) -> tuple[SeenPhoto, int] | None:
    if photo.phash is None:
        return None
    scored = [(e, phash_distance(photo.phash, e.phash)) for e in others if e.phash]
    return min(scored, key=lambda item: (item[1], item[0].photo_id), default=None)


def _with(code: str, codes: tuple[str, ...]) -> tuple[str, ...]:
    return reasons.blocking([code, *codes])


def reuse_decision(decision: Decision, finding: ReuseFinding | None) -> Decision:
    """A mail with a reused or old photo goes to a clerk, whatever else was found."""
    if finding is None or decision.outcome not in ("accept", "review"):
        return decision
    items = tuple(  # every photo's item waits for the clerk, with the decision's working kept
        replace(
            item,
            outcome="review",
            reason_codes=reasons.blocking([finding.code, *item.reason_codes]),
        )
        for item in decision.items
    )
    return Decision(
        outcome="review",
        reason_codes=reasons.blocking([finding.code, *decision.reason_codes]),
        value=decision.value,
        meter_id=decision.meter_id,
        items=items,
    )


def find_reuse(
    session: Session,
    photo_ids: Sequence[int],
    *,
    customer_id: int | None,
    meter_id: int | None,
    received_at: dt.datetime,
    max_age_days: int,
    near_bits: int,
    sender: str | None = None,
) -> ReuseFinding | None:
    """The first finding among the mail's photos `photo_ids` (None: every photo is fresh).

    Near copies are looked for among earlier photos sent from `sender` or the customer's address,
    or booked or reviewed on the customer's meters or on `meter_id`."""
    photos = [_seen(p) for p in session.scalars(select(Photo).where(Photo.id.in_(photo_ids)))]
    if not photos:
        return None
    ledger_id = photos[0].ledger_id
    meter_ids = _meter_ids(session, customer_id, meter_id)
    earlier = [
        *_exact_copies(session, [p.sha256 for p in photos], ledger_id),
        *_neighbourhood(session, _addresses(session, customer_id, sender), meter_ids, ledger_id),
    ]
    last = _last_reading_on(session, meter_id, ledger_id)
    for photo in sorted(photos, key=lambda p: p.photo_id):
        finding = judge_photo(
            photo, earlier, received_at=received_at, last_reading_on=last,
            max_age_days=max_age_days, near_bits=near_bits,
        )  # fmt: skip
        if finding is not None:
            return finding
    return None


def _seen(photo: Photo) -> SeenPhoto:
    return SeenPhoto(photo.id, photo.message_id, photo.sha256, photo.phash, photo.exif_time)


def _meter_ids(session: Session, customer_id: int | None, meter_id: int | None) -> list[int]:
    ids = [meter_id] if meter_id is not None else []
    if customer_id is not None:
        query = (
            select(Meter.id).join(Meter.account).where(ContractAccount.customer_id == customer_id)
        )
        ids.extend(session.scalars(query))
    return sorted(set(ids))


def _exact_copies(session: Session, shas: list[str], ledger_id: int) -> list[SeenPhoto]:
    query = select(Photo).where(Photo.sha256.in_(shas), Photo.message_id != ledger_id)
    return [_seen(p) for p in session.scalars(query.order_by(Photo.id).limit(MAX_EARLIER_PHOTOS))]


def _addresses(session: Session, customer_id: int | None, sender: str | None) -> list[str]:
    email = session.scalar(select(Customer.email).where(Customer.id == customer_id))
    return sorted({a.strip().lower() for a in (email, sender) if a and a.strip()})


def _neighbourhood(
    session: Session, addresses: list[str], meter_ids: list[int], ledger_id: int
) -> list[SeenPhoto]:
    """The most recent earlier photos sent from `addresses` or booked/reviewed on `meter_ids`."""
    conditions: list[ColumnElement[bool]] = []
    if meter_ids:
        booked = select(Reading.inbound_message_id).where(Reading.meter_id.in_(meter_ids))
        reviewed = select(ReviewTask.inbound_message_id).where(ReviewTask.meter_id.in_(meter_ids))
        conditions += [Photo.message_id.in_(booked), Photo.message_id.in_(reviewed)]
    if addresses:
        conditions.append(func.lower(InboundMessage.sender).in_(addresses))
    if not conditions:
        return []
    query = (
        select(Photo)
        .join(InboundMessage, Photo.message_id == InboundMessage.id)
        .where(Photo.message_id != ledger_id, Photo.phash.is_not(None), or_(*conditions))
        .order_by(Photo.id.desc())
        .limit(MAX_EARLIER_PHOTOS)
    )
    return [_seen(p) for p in session.scalars(query)]


def _last_reading_on(session: Session, meter_id: int | None, ledger_id: int) -> dt.date | None:
    if meter_id is None:
        return None
    query = select(func.max(Reading.read_on)).where(
        Reading.meter_id == meter_id,
        Reading.status == "accepted",
        or_(Reading.inbound_message_id.is_(None), Reading.inbound_message_id != ledger_id),
    )
    return session.scalar(query)
