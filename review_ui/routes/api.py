"""A small JSON API over the review queue (session cookie + `X-CSRF-Token` header on POST)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Literal

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from core.models import Meter
from matching.meters import registers_of
from review_ui.claims import ClaimedElsewhere
from review_ui.decisions import (
    AlreadyDecided,
    DecisionInvalid,
    DecisionRefused,
    NeedsConfirmation,
    decide,
    parse_decision,
)
from review_ui.i18n import translator
from review_ui.queries import open_tasks, task_view
from review_ui.web import ApiClerk, ApiPostClerk, Ctx, lang_of

router = APIRouter(prefix="/api")


class DecisionBody(BaseModel):
    action: Literal["accept", "correct", "reject"]
    value: str = Field(default="", max_length=40, description="German format, e.g. '12.345,6'")
    meter_id: int | None = None
    meter_number: str = Field(default="", max_length=40)
    reason: str = Field(default="", max_length=500)
    ask_resend: bool = False
    chosen_register: str = Field(  # JSON "register"; the name `register` is BaseModel's
        default="",
        alias="register",
        max_length=20,
        description="OBIS register of an HT/NT meter the value is booked on, e.g. '1.8.2'; "
        "empty: the task's (a meter with one register ignores it)",
    )
    confirm: list[str] = Field(
        default_factory=list, max_length=10, description="Guard codes the clerk confirms by name"
    )


def _dec(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _registers(session: Session, meter_id: int) -> list[str]:
    meter = session.get(Meter, meter_id)
    return list(registers_of(meter)) if meter is not None else []


@router.get("/tasks")
def api_tasks(request: Request, ctx: Ctx, clerk: ApiClerk) -> dict[str, Any]:
    with ctx.sessions() as session:
        rows = open_tasks(session, ctx.clock(), lang=lang_of(request))
    return {
        "tasks": [
            {
                "id": row.id,
                "received_at": row.received_at.isoformat(),
                "sender": row.sender,
                "subject": row.subject,
                "reason_codes": row.reason_codes,
                "proposed_value": _dec(row.proposed_value),
                "meter_number": row.meter_number,
            }
            for row in rows
        ]
    }


@router.get("/tasks/{task_id}")
def api_task(task_id: int, ctx: Ctx, clerk: ApiClerk) -> dict[str, Any]:
    with ctx.sessions() as session:
        view = task_view(session, task_id)
        if view is None:
            raise HTTPException(status_code=404, detail="task not found")
        task, ocr = view.task, view.ocr
        return {
            "id": task.id,
            "status": task.status,
            "reason_codes": list(task.reason_codes or []),
            "details": dict(task.details or {}),  # keys: matching/task_details.py
            "proposed_value": _dec(task.proposed_value),
            "meter_id": task.meter_id,
            "decision": task.decision,
            "decided_value": _dec(task.decided_value),
            "decided_by": task.decided_by,
            "message": {
                "id": view.message.id,
                "sender": view.message.sender,
                "subject": view.message.subject,
                "received_at": view.message.received_at.isoformat(),
            },
            "photos": [f"/photos/{p.id}" for p in view.photos],
            "ocr": None
            if ocr is None
            else {"reading": ocr.reading, "fraction": ocr.fraction, "confidence": ocr.confidence},
            "candidates": [
                {
                    "meter_id": c.meter_id,
                    "number": c.number,
                    "why": c.why,
                    "registers": _registers(session, c.meter_id),
                }
                for c in view.candidates
            ],
        }


@router.post("/tasks/{task_id}/decision")
def api_decide(
    request: Request, task_id: int, body: DecisionBody, ctx: Ctx, clerk: ApiPostClerk
) -> JSONResponse:
    with ctx.sessions() as session:
        view = task_view(session, task_id)
        if view is None:
            raise HTTPException(status_code=404, detail="task not found")
        if view.task.status != "open":
            return JSONResponse({"detail": "already decided"}, status_code=409)
        try:
            decision = parse_decision(
                session,
                view.task,
                action=body.action,
                value=body.value,
                meter_id=body.meter_id,
                meter_number=body.meter_number,
                reason=body.reason,
                ask_resend=body.ask_resend,
                confirmed=body.confirm,
                register=body.chosen_register,
            )
        except DecisionInvalid as exc:
            message = translator(lang_of(request))(exc.key)
            return JSONResponse({"detail": exc.key, "message": message}, status_code=422)
    try:
        outcome = decide(ctx, task_id, decision, clerk=clerk.username)
    except AlreadyDecided:
        return JSONResponse({"detail": "already decided"}, status_code=409)
    except ClaimedElsewhere as exc:
        return JSONResponse({"detail": "claimed", "holder": exc.holder}, status_code=409)
    except NeedsConfirmation as exc:
        body_out = {"detail": "confirmation required", "confirm": list(exc.codes)}
        return JSONResponse(body_out, status_code=422)
    except DecisionRefused as exc:
        return JSONResponse({"detail": str(exc)}, status_code=422)
    return JSONResponse(
        {
            "task_id": task_id,
            "decision": outcome.decision,
            "value": _dec(outcome.value),
            "meter_number": outcome.meter_number,
            "register": outcome.register,
            "warnings": list(outcome.warnings),
        }
    )
