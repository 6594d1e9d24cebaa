"""The audit log for admins: who did what when, with before/after values and reasons."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from sqlalchemy import select

from core.context import BERLIN
from core.formatting import format_number
from core.models import AuditLog
from matching.plausibility import decimal_places
from review_ui.web import Ctx, PageClerk, no_store, render, require_admin

router = APIRouter()
PAGE = 200
# Detail keys shown first (the rest follow in their stored order).
SHOWN_FIRST = ("proposed_value", "value", "before", "after", "reason", "confirmed", "holder")
VALUE_KEYS = frozenset({"proposed_value", "value", "before", "after"})


@router.get("/audit")
def audit_page(
    request: Request,
    ctx: Ctx,
    clerk: PageClerk,
    actor: str = Query(default="", max_length=100),
    action: str = Query(default="", max_length=50),
    entity: str = Query(default="", max_length=50),
    entity_id: str = Query(default="", max_length=12),
    since: str = Query(default="", max_length=10),
) -> Response:
    require_admin(clerk)
    stmt = select(AuditLog).order_by(AuditLog.at.desc(), AuditLog.id.desc()).limit(PAGE)
    if actor.strip():
        stmt = stmt.where(AuditLog.actor == actor.strip())
    if action.strip():
        stmt = stmt.where(AuditLog.action == action.strip())
    if entity.strip():
        stmt = stmt.where(AuditLog.entity == entity.strip())
    if entity_id.strip().isdigit():
        stmt = stmt.where(AuditLog.entity_id == int(entity_id))
    start = _day_start(since)
    if start is not None:
        stmt = stmt.where(AuditLog.at >= start)
    with ctx.sessions() as session:
        rows = [(row, _details(row.details)) for row in session.scalars(stmt)]
        actions = sorted(session.scalars(select(AuditLog.action).distinct()))
    context = {
        "rows": rows,
        "actions": actions,
        "filter": {
            "actor": actor,
            "action": action,
            "entity": entity,
            "entity_id": entity_id,
            "since": since,
        },
    }
    return no_store(render(request, "audit.html", context))


def _day_start(text: str) -> dt.datetime | None:
    try:
        day = dt.date.fromisoformat(text)
    except ValueError:
        return None
    return dt.datetime.combine(day, dt.time(), tzinfo=BERLIN).astimezone(dt.UTC)


def _details(details: dict[str, Any] | None) -> list[tuple[str, str]]:
    items = dict(details or {})
    ordered = [(k, items.pop(k)) for k in SHOWN_FIRST if k in items] + list(items.items())
    shown = []
    for key, value in ordered:
        if value in (None, "", [], {}):
            continue
        text = _german_number(value) if key in VALUE_KEYS else _text(value)
        shown.append((key, text))
    return shown


def _german_number(value: Any) -> str:
    """Stored values ('12345.6000') in German format with their own decimals ('12.345,6')."""
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return str(value)
    return format_number(number, decimal_places(number))


def _text(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k}: {v}" for k, v in value.items())
    return str(value)
