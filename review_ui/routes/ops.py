"""`/health` (public, JSON) and `/metrics` (Prometheus text; clerk session or bearer token)."""

from __future__ import annotations

import datetime as dt
import logging
import secrets
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from core.models import InboundMessage, Outbox, Reading
from review_ui.queries import count_open_tasks
from review_ui.web import Ctx, current_clerk

log = logging.getLogger(__name__)
router = APIRouter()
PENDING_MAIL = ("new", "processing")
PROMETHEUS = "text/plain; version=0.0.4; charset=utf-8"


@router.get("/health")
def health(request: Request, ctx: Ctx) -> Response:
    """Public: only up/down. With the metrics token (or a clerk session): the details too."""
    detailed = _metrics_allowed(request, ctx.settings.metrics_token)
    try:
        with ctx.sessions() as session:
            body: dict[str, Any] = {"status": "up"}
            if detailed:
                body["db"] = "ok"
                body["open_tasks"] = count_open_tasks(session)
                body["oldest_pending_mail_age_seconds"] = _oldest_pending_age(session, ctx.clock())
            else:
                session.execute(select(1))
    except SQLAlchemyError as exc:
        log.error("health check: database error: %s", exc)
        down = {"status": "down", "db": "error"} if detailed else {"status": "down"}
        return JSONResponse(down, status_code=503, headers={"Cache-Control": "no-store"})
    return JSONResponse(body, headers={"Cache-Control": "no-store"})


def _oldest_pending_age(session: Session, now: dt.datetime) -> int | None:
    """Seconds since the oldest mail still waiting to be processed arrived (None: none waiting)."""
    stmt = (
        select(InboundMessage.received_at)
        .where(InboundMessage.status.in_(PENDING_MAIL))
        .order_by(InboundMessage.received_at)
        .limit(1)
    )
    oldest = session.scalar(stmt)
    return None if oldest is None else max(int((now - oldest).total_seconds()), 0)


def _metrics_allowed(request: Request, token: str) -> bool:
    if current_clerk(request) is not None:
        return True
    header = request.headers.get("authorization", "")
    scheme, _, given = header.partition(" ")
    if not token or scheme.lower() != "bearer" or not given:
        return False
    return secrets.compare_digest(given.strip().encode(), token.encode())


@router.get("/metrics")
def metrics(request: Request, ctx: Ctx) -> Response:
    if not _metrics_allowed(request, ctx.settings.metrics_token):
        raise HTTPException(
            status_code=401,
            detail="login or bearer token required",
            headers={"WWW-Authenticate": "Bearer"},
        )
    with ctx.sessions() as session:
        text = render_metrics(session)
    return PlainTextResponse(text, media_type=PROMETHEUS, headers={"Cache-Control": "no-store"})


def _grouped(session: Session, column: Any, *where: Any) -> dict[str, int]:
    stmt = select(column, func.count()).where(*where).group_by(column)
    return {str(key): int(count) for key, count in session.execute(stmt)}


def _family(
    name: str, help_text: str, label: str, values: dict[str, int], known: tuple[str, ...]
) -> list[str]:
    lines = [f"# HELP {name} {help_text}", f"# TYPE {name} gauge"]
    for key in sorted(set(known) | set(values)):
        escaped = key.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        lines.append(f'{name}{{{label}="{escaped}"}} {values.get(key, 0)}')
    return lines


def render_metrics(session: Session) -> str:
    mails = _grouped(session, InboundMessage.status)
    outbox = _grouped(session, Outbox.status)
    readings = _grouped(session, Reading.source, Reading.status == "accepted")
    open_tasks = count_open_tasks(session)
    lines = [
        *_family(
            "meter_intake_mails",
            "Mails in the intake ledger by status.",
            "status",
            mails,
            (
                "new",
                "processing",
                "accepted",
                "review",
                "rejected",
                "ignored",
                "duplicate",
                "failed",
            ),
        ),
        "# HELP meter_intake_review_tasks_open Open review tasks.",
        "# TYPE meter_intake_review_tasks_open gauge",
        f"meter_intake_review_tasks_open {open_tasks}",
        *_family(
            "meter_intake_outbox",
            "Outbox mails by status.",
            "status",
            outbox,
            ("pending", "sent", "failed"),
        ),
        *_family(
            "meter_intake_readings_accepted",
            "Accepted readings by source.",
            "source",
            readings,
            ("import", "photo", "typed", "clerk"),
        ),
    ]
    return "\n".join(lines) + "\n"
