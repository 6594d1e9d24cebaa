"""Worker heartbeats in the database, where `/health` of a separate `serve` process sees them."""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket

from sqlalchemy import delete, func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from core.context import AppContext
from core.db import transaction
from core.models import WorkerHeartbeat

log = logging.getLogger(__name__)
BEAT_EVERY = dt.timedelta(seconds=10)  # at most one write per worker per 10 s
_last_written: dict[tuple[str, str], dt.datetime] = {}  # (database, worker) -> last write
_started: dict[str, dt.datetime] = {}


def beat(ctx: AppContext, worker: str) -> None:
    """Record that `worker` is alive now (throttled to one write per `BEAT_EVERY`). A database
    outage skips the beat: the stages report the outage, and a missing beat is the point."""
    now = ctx.clock()
    key = (ctx.engine.url.render_as_string(), worker)
    last = _last_written.get(key)
    if last is not None and dt.timedelta(0) <= now - last < BEAT_EVERY:
        return
    started = _started.setdefault(worker, now)
    try:
        with transaction(ctx.sessions) as session:
            row = session.get(WorkerHeartbeat, worker)
            if row is None:
                row = WorkerHeartbeat(
                    worker=worker, host=socket.gethostname(), pid=os.getpid(), started_at=started
                )
                session.add(row)
            row.beat_at = now
    except SQLAlchemyError as exc:
        log.debug("Herzschlag nicht geschrieben: %s", exc)
        return
    _last_written[key] = now


def stopped(ctx: AppContext, worker: str) -> None:
    """A worker that ends on purpose (SIGTERM, stop) takes its heartbeat with it, so that `/health`
    and `meter_intake_workers_live` count it gone at once, not after the maximum age."""
    _last_written.pop((ctx.engine.url.render_as_string(), worker), None)
    _started.pop(worker, None)
    try:
        with transaction(ctx.sessions) as session:
            session.execute(delete(WorkerHeartbeat).where(WorkerHeartbeat.worker == worker))
    except SQLAlchemyError as exc:
        log.debug("Herzschlag nicht entfernt: %s", exc)


def latest_beat(session: Session) -> dt.datetime | None:
    return session.scalar(select(func.max(WorkerHeartbeat.beat_at)))


def live_workers(session: Session, *, now: dt.datetime, max_age: dt.timedelta) -> int:
    stmt = select(func.count()).where(WorkerHeartbeat.beat_at >= now - max_age)
    return int(session.scalar(stmt) or 0)


def forget_dead(session: Session, *, before: dt.datetime) -> int:
    """Drop the heartbeats of workers silent since `before` (ended or crashed long ago)."""
    result = session.execute(delete(WorkerHeartbeat).where(WorkerHeartbeat.beat_at < before))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
