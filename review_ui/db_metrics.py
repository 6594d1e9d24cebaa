"""What any process can see of the service, read from the database: health facts and the
gauges `serve` exposes on /metrics (the worker's own counters are on the worker's port)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from core.heartbeat import latest_beat, live_workers
from core.models import InboundMessage, Outbox, Reading
from review_ui.queries import count_open_tasks

PENDING_MAIL = ("new", "processing")
MAIL_STATUSES = (
    *("new", "processing", "accepted", "review"),
    *("rejected", "ignored", "duplicate", "failed"),
)
OUTBOX_STATUSES = ("pending", "sent", "failed")
READING_SOURCES = ("import", "photo", "typed", "clerk")


@dataclass(frozen=True)
class Health:
    up: bool
    problem: str | None
    open_tasks: int
    oldest_pending_mail_age_seconds: int | None
    worker_heartbeat_age_seconds: int | None
    live_workers: int

    def details(self) -> dict[str, Any]:
        return {
            "status": "up" if self.up else "down",
            "problem": self.problem,
            "db": "ok",
            "open_tasks": self.open_tasks,
            "oldest_pending_mail_age_seconds": self.oldest_pending_mail_age_seconds,
            "worker_heartbeat_age_seconds": self.worker_heartbeat_age_seconds,
            "live_workers": self.live_workers,
        }


def check_health(
    session: Session,
    *,
    now: dt.datetime,
    max_age: dt.timedelta,
    serving_since: dt.datetime,
    grace: dt.timedelta,
) -> Health:
    """Up while a worker is live (beat within `max_age`, and not a process on this host that is
    gone); with no beat ever seen, `serve` grants the worker `grace` from its own start."""
    beat = latest_beat(session)
    age = None if beat is None else _seconds(now - beat)
    live = live_workers(session, now=now, max_age=max_age)
    if live:
        problem = None
    elif beat is None:
        problem = None if now - serving_since <= grace else "no worker heartbeat"
    elif now - beat > max_age:
        problem = "worker heartbeat stale"
    else:
        problem = "no live worker"  # beat recently, but its process on this host is gone
    return Health(
        up=problem is None,
        problem=problem,
        open_tasks=count_open_tasks(session),
        oldest_pending_mail_age_seconds=_oldest_pending_age(session, now),
        worker_heartbeat_age_seconds=age,
        live_workers=live,
    )


def _seconds(delta: dt.timedelta) -> int:
    return max(int(delta.total_seconds()), 0)


def _oldest_pending_age(session: Session, now: dt.datetime) -> int | None:
    """Seconds since the oldest mail still waiting to be processed arrived (None: none waiting)."""
    stmt = (
        select(InboundMessage.received_at)
        .where(InboundMessage.status.in_(PENDING_MAIL))
        .order_by(InboundMessage.received_at)
        .limit(1)
    )
    oldest = session.scalar(stmt)
    return None if oldest is None else _seconds(now - oldest)


def _grouped(session: Session, column: Any, *where: Any) -> dict[str, int]:
    stmt = select(column, func.count()).where(*where).group_by(column)
    return {str(key): int(count) for key, count in session.execute(stmt)}


def _family(
    name: str, help_text: str, label: str, values: dict[str, int], known: tuple[str, ...]
) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, help_text, labels=[label])
    for key in sorted(set(known) | set(values)):
        family.add_metric([key], values.get(key, 0))
    return family


class DatabaseCollector(Collector):
    """Gauges computed from the database at each scrape."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        clock: Callable[[], dt.datetime],
        max_age: dt.timedelta,
    ) -> None:
        self._sessions, self._clock, self._max_age = sessions, clock, max_age

    def collect(self) -> Iterator[GaugeMetricFamily]:
        now = self._clock()
        with self._sessions() as session:
            yield _family(
                "meter_intake_mails", "Mails in the intake ledger by status.", "status",
                _grouped(session, InboundMessage.status), MAIL_STATUSES,
            )  # fmt: skip
            yield GaugeMetricFamily(
                "meter_intake_review_tasks_open", "Open review tasks.",
                value=count_open_tasks(session),
            )  # fmt: skip
            yield _family(
                "meter_intake_outbox", "Outbox mails by status.", "status",
                _grouped(session, Outbox.status), OUTBOX_STATUSES,
            )  # fmt: skip
            yield _family(
                "meter_intake_readings_accepted", "Accepted readings by source.", "source",
                _grouped(session, Reading.source, Reading.status == "accepted"), READING_SOURCES,
            )  # fmt: skip
            yield from self._liveness(session, now)

    def _liveness(self, session: Session, now: dt.datetime) -> Iterator[GaugeMetricFamily]:
        oldest = _oldest_pending_age(session, now)
        yield GaugeMetricFamily(
            "meter_intake_oldest_pending_mail_age_seconds",
            "Seconds the oldest mail waiting to be processed has waited (0: none waiting).",
            value=oldest or 0,
        )
        beat = latest_beat(session)
        yield GaugeMetricFamily(
            "meter_intake_worker_last_heartbeat_timestamp_seconds",
            "Unix time of the newest worker heartbeat (0: none ever).",
            value=beat.timestamp() if beat else 0,
        )
        yield GaugeMetricFamily(
            "meter_intake_workers_live",
            "Live workers: heartbeat younger than worker_heartbeat_max_age_seconds, process not "
            "gone (same host).",
            value=live_workers(session, now=now, max_age=self._max_age),
        )


def render_database_metrics(
    sessions: sessionmaker[Session], clock: Callable[[], dt.datetime], max_age: dt.timedelta
) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(DatabaseCollector(sessions, clock, max_age))
    return generate_latest(registry)
