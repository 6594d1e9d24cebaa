"""Figures for the dashboard: mails per day by outcome, the share booked automatically, open tasks
by age and reason, the median time to a decision, and decisions per clerk."""

from __future__ import annotations

import datetime as dt
import json
import statistics
from collections import Counter
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Date, String, and_, case, cast, func, select
from sqlalchemy.orm import Session

from core.context import BERLIN
from core.models import InboundMessage, Reading, ReviewTask

DAYS = 14
AUTO = "auto"  # a task the new photo's booking closed (matching.new_photo)
OUTCOMES = ("accepted", "review", "rejected", "ignored", "duplicate", "failed")
AGE_BUCKETS = ((0, 1), (1, 3), (3, 7), (7, None))  # days


@dataclass(frozen=True)
class HBar:
    label: str
    value: int
    width: float  # 0..1 of the longest bar


@dataclass(frozen=True)
class DayColumn:
    day: dt.date
    counts: dict[str, int]
    total: int


@dataclass(frozen=True)
class Dashboard:
    days: list[DayColumn]
    busiest_day: int
    auto_share: float | None
    open_total: int
    open_by_age: list[HBar]
    open_by_reason: list[HBar]
    median_minutes: float | None
    per_clerk: list[HBar]


def dashboard(session: Session, now: dt.datetime) -> Dashboard:
    days = _mails_per_day(session, now)
    ages = _open_by_age(session, now)
    return Dashboard(
        days=days,
        busiest_day=max([d.total for d in days] or [0]),
        auto_share=_auto_share(session, now),
        open_total=sum(b.value for b in ages),
        open_by_age=ages,
        open_by_reason=_open_by_reason(session),
        median_minutes=_median_minutes(session, now),
        per_clerk=_per_clerk(session, now),
    )


def _day_of(session: Session) -> ColumnElement[Any]:
    if session.get_bind().dialect.name == "sqlite":
        return func.date(InboundMessage.received_at)
    return cast(func.timezone("Europe/Berlin", InboundMessage.received_at), Date)


def _mails_per_day(session: Session, now: dt.datetime) -> list[DayColumn]:
    since = now - dt.timedelta(days=DAYS)
    day = _day_of(session)
    stmt = (
        select(day, InboundMessage.status, func.count())
        .where(InboundMessage.received_at >= since)
        .group_by(day, InboundMessage.status)
    )
    counts: dict[dt.date, Counter[str]] = {}
    for raw_day, status, count in session.execute(stmt):
        key = raw_day if isinstance(raw_day, dt.date) else dt.date.fromisoformat(str(raw_day))
        counts.setdefault(key, Counter())[status] += int(count)
    today = now.astimezone(BERLIN).date()
    columns = []
    for offset in range(DAYS - 1, -1, -1):
        day_date = today - dt.timedelta(days=offset)
        found = counts.get(day_date, Counter())
        columns.append(DayColumn(day_date, dict(found), sum(found.values())))
    return columns


def _auto_share(session: Session, now: dt.datetime) -> float | None:
    since = now - dt.timedelta(days=30)
    stmt = (
        select(Reading.accepted_by, func.count())
        .where(Reading.created_at >= since, Reading.source != "import")
        .group_by(Reading.accepted_by)
    )
    counts = {who: int(n) for who, n in session.execute(stmt)}
    total = sum(counts.values())
    return counts.get("auto", 0) / total if total else None


def _bars(items: list[tuple[str, int]]) -> list[HBar]:
    top = max([v for _, v in items] or [0])
    return [HBar(label, value, value / top if top else 0.0) for label, value in items]


def _open_by_age(session: Session, now: dt.datetime) -> list[HBar]:
    """One pass over the open tasks, counted into the age buckets."""
    buckets = []
    for low, high in AGE_BUCKETS:
        condition = InboundMessage.received_at <= now - dt.timedelta(days=low)
        if high is not None:
            condition = and_(condition, InboundMessage.received_at > now - dt.timedelta(days=high))
        buckets.append(func.sum(case((condition, 1), else_=0)))
    stmt = (
        select(*buckets)
        .select_from(ReviewTask)
        .join(InboundMessage, InboundMessage.id == ReviewTask.inbound_message_id)
        .where(ReviewTask.status == "open")
    )
    counts = session.execute(stmt).one()
    labels = [f"{low}–{high}" if high is not None else f"> {low}" for low, high in AGE_BUCKETS]
    return _bars([(label, int(n or 0)) for label, n in zip(labels, counts, strict=True)])


def _open_by_reason(session: Session) -> list[HBar]:
    """Grouped by the stored code list in SQL (few distinct lists), then split per code."""
    codes_text = cast(ReviewTask.reason_codes, String)
    stmt = select(codes_text, func.count()).where(ReviewTask.status == "open").group_by(codes_text)
    counts: Counter[str] = Counter()
    for raw, n in session.execute(stmt):
        for code in json.loads(raw or "[]"):
            counts[str(code)] += int(n)
    return _bars(counts.most_common(8))


def _median_minutes(session: Session, now: dt.datetime) -> float | None:
    stmt = select(ReviewTask.created_at, ReviewTask.decided_at).where(
        ReviewTask.status == "done", ReviewTask.decided_at >= now - dt.timedelta(days=30),
        ReviewTask.decided_by != AUTO,
    )  # fmt: skip
    waits = [(d - c).total_seconds() / 60 for c, d in session.execute(stmt) if c and d]
    return statistics.median(waits) if waits else None


def _per_clerk(session: Session, now: dt.datetime) -> list[HBar]:
    stmt = (
        select(ReviewTask.decided_by, func.count())
        .where(ReviewTask.status == "done", ReviewTask.decided_at >= now - dt.timedelta(days=7))
        .where(ReviewTask.decided_by != AUTO)  # closed by the new photo's booking: no clerk
        .group_by(ReviewTask.decided_by)
        .order_by(func.count().desc())
        .limit(20)
    )
    return _bars([(str(who or "–"), int(n)) for who, n in session.execute(stmt)])
