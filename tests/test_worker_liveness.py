"""Liveness follows the heartbeat closely: a worker killed with kill -9 stops counting at once on
its own host and after a few missed beats elsewhere; a worker busy with a slow photo keeps beating
(from a thread of its own) and stays live; a worker whose loop hangs stops beating (SQLite and
PostgreSQL)."""

from __future__ import annotations

import datetime as dt
import mailbox
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Sequence

import pytest
from fastapi.testclient import TestClient

from core import heartbeat
from core.context import AppContext
from core.heartbeat import Heartbeat, beat, live_workers
from core.holders import _start_ticks
from core.settings import Settings
from core.types import MeterHint, MeterRead
from intake.worker import run_worker
from tests.conftest import FrozenClock
from tests.fixtures_ui import health_details
from tests.samples import customer_mail, seed_meter

WAIT = 30.0  # seconds; reached only when something hangs


@pytest.fixture
def client(metrics_client: TestClient) -> TestClient:
    return metrics_client


def _live(ctx: AppContext) -> int:
    max_age = dt.timedelta(seconds=ctx.settings.worker_heartbeat_max_age_seconds)
    with ctx.sessions() as session:
        return live_workers(session, now=ctx.clock(), max_age=max_age)


def test_a_worker_killed_on_this_host_is_gone_at_once(ctx: AppContext, client: TestClient) -> None:
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    try:
        holder = f"{socket.gethostname()}:{process.pid}:{_start_ticks(process.pid)}:1"
        beat(ctx, holder)  # as the worker process would
        assert _live(ctx) == 1 and client.get("/health").status_code == 200
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    assert _live(ctx) == 0  # its beat is seconds old, but the process is gone
    response = client.get("/health")
    assert response.status_code == 503
    assert health_details(client)["problem"] == "no live worker"


def test_a_worker_on_another_host_counts_for_a_few_missed_beats_only(
    ctx: AppContext, client: TestClient, clock: FrozenClock
) -> None:
    assert ctx.settings.worker_heartbeat_max_age_seconds == 30  # three beats of 10 s
    beat(ctx, "other-host:4711:123:1")
    clock.advance(seconds=30)
    assert _live(ctx) == 1 and client.get("/health").status_code == 200
    clock.advance(seconds=1)
    assert _live(ctx) == 0 and client.get("/health").status_code == 503
    assert health_details(client)["worker_heartbeat_age_seconds"] == 31


def test_a_worker_reading_a_slow_photo_keeps_beating(
    ctx: AppContext, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The photo takes longer than the liveness window: the worker's beat goes on meanwhile."""
    monkeypatch.setattr(heartbeat, "BEAT_SECONDS", 0.01)
    with ctx.sessions.begin() as session:
        seed_meter(session, email="erika@example.de", account="123456789", meter="12345678")
    path = ctx.settings.effective_maildir
    path.parent.mkdir(parents=True, exist_ok=True)
    mailbox.Maildir(path, create=True).add(
        customer_mail(sender="erika@example.de", photos=[("z.jpg", b"\xff\xd8\xffslow")])
    )
    written = threading.Condition()
    real_write = heartbeat.write_beat

    def observed_write(context: AppContext, worker: str) -> None:
        real_write(context, worker)
        with written:
            written.notify_all()

    monkeypatch.setattr(heartbeat, "write_beat", observed_write)
    live_during_read: list[int] = []

    def slow_reader(data: bytes, hints: Sequence[MeterHint], settings: Settings) -> list[MeterRead]:
        clock.advance(seconds=120)  # the photo takes two minutes
        with written:
            assert written.wait_for(lambda: _live(ctx) == 1, WAIT)
        live_during_read.append(_live(ctx))
        return [MeterRead(reading="04521", confidence=0.99, accepted=True)] * len(hints)

    run_worker(ctx, once=True, reader=slow_reader)
    assert live_during_read == [1]


def test_a_worker_whose_loop_hangs_stops_beating(ctx: AppContext, clock: FrozenClock) -> None:
    now = [0.0]
    pulse = Heartbeat(ctx, "this-host:1:1:1", stall_after=300, monotonic=lambda: now[0])
    pulse.moved()
    now[0] = 300.0
    assert pulse.tick() and _live(ctx) == 1
    clock.advance(seconds=31)
    now[0] = 301.0  # no step of the loop for longer than stall_after: a hang, not a slow photo
    assert not pulse.tick() and _live(ctx) == 0
    pulse.moved()
    assert pulse.tick() and _live(ctx) == 1
