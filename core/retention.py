"""Retention: raw mails, photos and OCR results are deleted a set time after the mail was
settled (its reading booked, or the mail rejected/ignored, or its review task decided).
Readings, the ledger rows and the audit log stay.

Rows go first, in one transaction; blobs are deleted after the commit, and only when no row
still names them (content addressing: two mails may share one photo). A crash in between
leaves an unreferenced blob behind, never a row naming a missing blob.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import Select, delete, exists, or_, select, update
from sqlalchemy.orm import Session

from core.context import AppContext
from core.db import try_named_lock
from core.heartbeat import forget_dead
from core.models import AuditLog, InboundMessage, OcrResult, Photo, Reading, ReviewTask
from core.settings import Settings

log = logging.getLogger(__name__)
SETTLED = ("accepted", "rejected", "ignored", "duplicate")
HEARTBEATS_KEPT = dt.timedelta(days=7)
LOCK = "retention-purge"
LOCK_SECONDS = 600.0  # SQLite lease: the other workers skip their purge for this long
_last_run: dict[str, dt.datetime] = {}


@dataclass
class PurgeReport:
    raw_mails: int = 0
    photos: int = 0
    ocr_results: int = 0
    blobs: int = 0
    dry_run: bool = False

    def summary(self) -> str:
        verb = "würden gelöscht" if self.dry_run else "gelöscht"
        return (
            f"Aufbewahrung: {self.raw_mails} Mails, {self.photos} Fotos, {self.ocr_results} "
            f"Texterkennungen, {self.blobs} Dateien {verb}."
        )


def settled_before(cutoff: dt.datetime) -> Select[int]:
    """Ids of the mails settled before `cutoff` (failed and still open ones never are)."""
    decided = exists().where(
        ReviewTask.inbound_message_id == InboundMessage.id,
        ReviewTask.status == "done",
        ReviewTask.decided_at < cutoff,
    )
    return select(InboundMessage.id).where(
        or_(
            InboundMessage.status.in_(SETTLED) & (InboundMessage.updated_at < cutoff),
            (InboundMessage.status == "review") & decided,
        )
    )


def purge(ctx: AppContext, *, dry_run: bool = False, holder: str | None = None) -> PurgeReport:
    """Delete what the retention settings no longer allow to keep; log and audit the counts.
    With `holder` (a worker), skip when another worker purges right now (empty report)."""
    report = PurgeReport(dry_run=dry_run)
    with ctx.sessions() as session, session.begin():
        if holder and not try_named_lock(session, LOCK, holder, seconds=LOCK_SECONDS):
            log.debug("Ein anderer Worker wendet die Aufbewahrungsfristen gerade an")
            return report
        unreferenced = _drop_expired(session, ctx.settings, ctx.clock(), report)
        if dry_run:
            session.rollback()
            return report
        if any(_counts(report).values()):
            session.add(AuditLog(actor="retention", action="purge", entity="retention",
                                 details=_counts(report)))  # fmt: skip
    delete_blobs(ctx, unreferenced)
    log.info("%s", report.summary())
    return report


def _drop_expired(
    session: Session, settings: Settings, now: dt.datetime, report: PurgeReport
) -> list[str]:
    """Delete the expired rows, count them in `report`; the blobs no row names any more."""
    released: set[str] = set()
    if settings.retain_ocr_days:
        report.ocr_results += _drop_ocr(session, _cutoff(now, settings.retain_ocr_days))
    if settings.retain_photo_days:
        mails = settled_before(_cutoff(now, settings.retain_photo_days))
        photo_ids = list(session.scalars(select(Photo.id).where(Photo.message_id.in_(mails))))
        digests, ocr_results = drop_photos(session, photo_ids)
        report.photos, report.ocr_results = len(photo_ids), report.ocr_results + ocr_results
        released |= digests
    if settings.retain_raw_mail_days:
        mails = settled_before(_cutoff(now, settings.retain_raw_mail_days))
        ids = list(session.scalars(mails.where(InboundMessage.purged_at.is_(None))))
        released |= drop_raw_mails(session, ids, now=now)
        report.raw_mails = len(ids)
    unreferenced = unreferenced_blobs(session, released)
    report.blobs = len(unreferenced)
    forget_dead(session, before=now - HEARTBEATS_KEPT)
    return unreferenced


def purge_if_due(ctx: AppContext, holder: str) -> PurgeReport | None:
    """The worker's schedule: purge once per `purge_interval_hours` (per process; of several
    workers, one purges at a time)."""
    hours = ctx.settings.purge_interval_hours
    key, now = ctx.engine.url.render_as_string(), ctx.clock()
    last = _last_run.get(key)
    if not hours or (
        last is not None and dt.timedelta(0) <= now - last < dt.timedelta(hours=hours)
    ):
        return None
    _last_run[key] = now
    return purge(ctx, holder=holder)


def _cutoff(now: dt.datetime, days: int) -> dt.datetime:
    return now - dt.timedelta(days=days)


def _counts(report: PurgeReport) -> dict[str, int]:
    return {"raw_mails": report.raw_mails, "photos": report.photos,
            "ocr_results": report.ocr_results, "blobs": report.blobs}  # fmt: skip


def _drop_ocr(session: Session, cutoff: dt.datetime) -> int:
    photos = select(Photo.id).where(Photo.message_id.in_(settled_before(cutoff)))
    result = session.execute(delete(OcrResult).where(OcrResult.photo_id.in_(photos)))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def drop_photos(session: Session, photo_ids: list[int]) -> tuple[set[str], int]:
    """Delete photo rows and their OCR results; the digests they named and the OCR count."""
    if not photo_ids:
        return set(), 0
    digests = set(session.scalars(select(Photo.sha256).where(Photo.id.in_(photo_ids))))
    for model in (ReviewTask, Reading):  # the task and the reading stay, without their photo
        session.execute(update(model).where(model.photo_id.in_(photo_ids)).values(photo_id=None))
    ocr = session.execute(delete(OcrResult).where(OcrResult.photo_id.in_(photo_ids)))
    session.execute(delete(Photo).where(Photo.id.in_(photo_ids)))
    return digests, int(ocr.rowcount or 0)  # type: ignore[attr-defined]


def drop_raw_mails(session: Session, mail_ids: list[int], *, now: dt.datetime) -> set[str]:
    """Mark raw mails purged (the ledger row stays); the digests they named."""
    if not mail_ids:
        return set()
    rows = InboundMessage.id.in_(mail_ids)
    digests = set(session.scalars(select(InboundMessage.sha256).where(rows)))
    # updated_at is when the mail was settled: the purge must not move it
    keep = InboundMessage.updated_at
    session.execute(update(InboundMessage).where(rows).values(purged_at=now, updated_at=keep))
    return digests


def unreferenced_blobs(session: Session, digests: Iterable[str]) -> list[str]:
    """The digests no photo row and no unpurged mail names any more."""
    found = sorted(set(digests))
    if not found:
        return []
    photos = set(session.scalars(select(Photo.sha256).where(Photo.sha256.in_(found))))
    kept = select(InboundMessage.sha256).where(
        InboundMessage.sha256.in_(found), InboundMessage.purged_at.is_(None)
    )
    mails = set(session.scalars(kept))
    return [d for d in found if d not in photos and d not in mails]


def delete_blobs(ctx: AppContext, digests: Iterable[str]) -> int:
    deleted = 0
    for digest in digests:
        try:
            deleted += ctx.blobs.delete(digest)
        except Exception:
            log.exception("Datei %s nicht gelöscht (bleibt unbenutzt liegen)", digest)
    return deleted
