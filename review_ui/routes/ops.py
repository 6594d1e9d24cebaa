"""`/health` (public: up or down; details with a clerk session or the metrics token) and
`/metrics` (Prometheus text of the database's state; clerk session or bearer token)."""

from __future__ import annotations

import datetime as dt
import logging
import secrets

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from sqlalchemy.exc import SQLAlchemyError

from review_ui.db_metrics import check_health, render_database_metrics
from review_ui.web import Ctx, current_clerk

log = logging.getLogger(__name__)
router = APIRouter()
NO_STORE = {"Cache-Control": "no-store"}


@router.get("/health")
def health(request: Request, ctx: Ctx) -> Response:
    detailed = _metrics_allowed(request, ctx.settings.metrics_token)
    max_age = dt.timedelta(seconds=ctx.settings.worker_heartbeat_max_age_seconds)
    since = getattr(request.app.state, "started_at", None) or ctx.clock()
    try:
        with ctx.sessions() as session:
            state = check_health(
                session, now=ctx.clock(), max_age=max_age, serving_since=since,
                grace=max(max_age, dt.timedelta(seconds=ctx.settings.worker_stall_seconds)),
            )  # fmt: skip
    except SQLAlchemyError as exc:
        log.error("health check: database error: %s", exc)
        body = {"status": "down", "db": "error"} if detailed else {"status": "down"}
        return JSONResponse(body, status_code=503, headers=NO_STORE)
    _log_change(request, state.problem)
    body = state.details() if detailed else {"status": "up" if state.up else "down"}
    return JSONResponse(body, status_code=200 if state.up else 503, headers=NO_STORE)


def _log_change(request: Request, problem: str | None) -> None:
    """One line when the health changes, not one per probe."""
    if getattr(request.app.state, "health_problem", None) == problem:
        return
    request.app.state.health_problem = problem
    if problem:
        log.warning("health: down (%s)", problem)
    else:
        log.info("health: up")


def _metrics_allowed(request: Request, token: str) -> bool:
    header = request.headers.get("authorization", "")
    scheme, _, given = header.partition(" ")
    if (
        token
        and scheme.lower() == "bearer"
        and secrets.compare_digest(given.strip().encode(), token.encode())
    ):
        return True
    return current_clerk(request) is not None


@router.get("/metrics")
def metrics(request: Request, ctx: Ctx) -> Response:
    if not _metrics_allowed(request, ctx.settings.metrics_token):
        raise HTTPException(
            status_code=401,
            detail="login or bearer token required",
            headers={"WWW-Authenticate": "Bearer"},
        )
    max_age = dt.timedelta(seconds=ctx.settings.worker_heartbeat_max_age_seconds)
    text = render_database_metrics(ctx.sessions, ctx.clock, max_age)
    return Response(text, media_type=CONTENT_TYPE_PLAIN_0_0_4, headers=NO_STORE)
