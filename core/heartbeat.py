"""Worker heartbeats in the database, where `/health` of a separate `serve` process sees them.

A worker beats every `BEAT_SECONDS` from a thread of its own (`Heartbeat`), also while its loop
reads a slow photo, so liveness can follow the beat closely (`worker_heartbeat_max_age_seconds`,
a few beats). The thread stops beating when the loop has not moved on (a pass begun, a mail
decided: `beat`) for `worker_stall_seconds`: a hanging worker is not counted as live. A beat of a
worker process on this host that is provably gone (kill -9, OOM) does not count at all.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from sqlalchemy import delete, func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from core.context import AppContext
from core.db import transaction
from core.holders import is_gone
from core.models import WorkerHeartbeat

log = logging.getLogger(__name__)
BEAT_SECONDS = 10.0  # the beat thread writes this often; the loop at most this often
_last_written: dict[tuple[str, str], dt.datetime] = {}  # (database, worker) -> last write
_started: dict[str, dt.datetime] = {}
_moved: dict[str, float] = {}  # worker -> monotonic time its loop last moved on


def beat(ctx: AppContext, worker: str) -> None:
    """The worker's loop moved on (a pass begun, a mail decided): record that it is alive now
    (throttled to one write per `BEAT_SECONDS`)."""
    _moved[worker] = time.monotonic()
    now = ctx.clock()
    last = _last_written.get(_key(ctx, worker))
    if last is not None and dt.timedelta(0) <= now - last < dt.timedelta(seconds=BEAT_SECONDS):
        return
    write_beat(ctx, worker)


def _key(ctx: AppContext, worker: str) -> tuple[str, str]:
    return (ctx.engine.url.render_as_string(), worker)


def write_beat(ctx: AppContext, worker: str) -> None:
    """Write `worker`'s beat now. A database outage skips it: the stages report the outage, and
    a missing beat is the point."""
    now = ctx.clock()
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
    _last_written[_key(ctx, worker)] = now


class Heartbeat:
    """Beats for one worker every `BEAT_SECONDS` from a thread of its own while the worker's loop
    keeps moving (`moved`, or `beat`), and stops beating once it has not moved for
    `stall_after` seconds (a hang; a slow photo takes less)."""

    def __init__(
        self,
        ctx: AppContext,
        worker: str,
        *,
        stall_after: float,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ctx, self.worker, self.stall_after = ctx, worker, stall_after
        self._monotonic = monotonic
        self._stop = threading.Event()
        self._stalled = False

    def moved(self) -> None:
        _moved[self.worker] = self._monotonic()

    def tick(self) -> bool:
        """One beat, unless the loop stalled; True if written."""
        since = self._monotonic() - _moved.get(self.worker, self._monotonic())
        if since > self.stall_after:
            if not self._stalled:
                log.warning("Worker %s hängt seit %d s; kein Herzschlag mehr", self.worker, since)
            self._stalled = True
            return False
        self._stalled = False
        write_beat(self.ctx, self.worker)
        return True

    def _run(self) -> None:
        while True:
            self.tick()
            if self._stop.wait(BEAT_SECONDS):
                return

    @contextmanager
    def running(self) -> Iterator[None]:
        self.moved()
        thread = threading.Thread(target=self._run, name=f"heartbeat-{self.worker}", daemon=True)
        thread.start()
        try:
            yield
        finally:
            self._stop.set()
            thread.join(timeout=30)


def stopped(ctx: AppContext, worker: str) -> None:
    """A worker that ends on purpose (SIGTERM, stop) takes its heartbeat with it, so that `/health`
    and `meter_intake_workers_live` count it gone at once, not after the maximum age."""
    _last_written.pop(_key(ctx, worker), None)
    _started.pop(worker, None)
    _moved.pop(worker, None)
    try:
        with transaction(ctx.sessions) as session:
            session.execute(delete(WorkerHeartbeat).where(WorkerHeartbeat.worker == worker))
    except SQLAlchemyError as exc:
        log.debug("Herzschlag nicht entfernt: %s", exc)


def latest_beat(session: Session) -> dt.datetime | None:
    return session.scalar(select(func.max(WorkerHeartbeat.beat_at)))


def live_workers(session: Session, *, now: dt.datetime, max_age: dt.timedelta) -> int:
    """Workers that beat within `max_age`, less those on this host whose process is gone."""
    stmt = select(WorkerHeartbeat.worker).where(WorkerHeartbeat.beat_at >= now - max_age)
    return sum(1 for worker in session.scalars(stmt) if not is_gone(worker))


def forget_dead(session: Session, *, before: dt.datetime) -> int:
    """Drop the heartbeats of workers silent since `before` (ended or crashed long ago)."""
    result = session.execute(delete(WorkerHeartbeat).where(WorkerHeartbeat.beat_at < before))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
