"""The task page: photo, OCR, candidates, history, and the accept / correct / reject forms."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import RedirectResponse, Response

from core.formatting import format_number
from review_ui.decisions import (
    AlreadyDecided,
    DecisionInvalid,
    DecisionRefused,
    decide,
    parse_decision,
)
from review_ui.outbox_view import replies_for
from review_ui.queries import format_age, meter_candidate, next_open_task_id, task_view
from review_ui.routes.meters import find_meter_candidates, meter_panel
from review_ui.routes.queue import decided_flash, known_warnings
from review_ui.web import Ctx, PageClerk, PostClerk, lang_of, no_store, render

router = APIRouter()
FormText = Annotated[str, Form(max_length=500)]


def task_page(
    request: Request,
    ctx: Ctx,
    task_id: int,
    *,
    query: str = "",
    form: dict[str, str] | None = None,
    error: str = "",
    status_code: int = 200,
    flash_id: int | None = None,
) -> Response:
    with ctx.sessions() as session:
        view = task_view(session, task_id)
        if view is None:
            raise HTTPException(status_code=404, detail="task not found")
        task = view.task
        found = find_meter_candidates(session, query) if query else []
        known = {c.meter_id for c in view.candidates}
        extra = [c for c in found if c.meter_id not in known]
        chosen = _chosen_meter_id(form, task.meter_id, view.candidates)
        panel = meter_panel(session, chosen) if chosen else None
        picked = meter_candidate(session, chosen, []) if chosen else None
        replies = replies_for(session, [view.message.id]).get(view.message.id, [])
        context: dict[str, Any] = {
            "view": view,
            "task": task,
            "age": format_age(ctx.clock() - view.message.received_at, lang_of(request)),
            "search_query": query,
            "search_results": extra,
            "searched": bool(query),
            "form": form or _default_form(task.proposed_value, picked),
            "chosen_meter_id": chosen,
            "panel": panel,
            "error": error,
            "flash": decided_flash(ctx, flash_id),
            "replies": replies,
        }
        return no_store(render(request, "task.html", context, status_code=status_code))


def _chosen_meter_id(
    form: dict[str, str] | None, proposed: int | None, candidates: list[Any]
) -> int | None:
    if form and form.get("meter_id", "").isdigit():
        return int(form["meter_id"])
    if proposed is not None:
        return proposed
    return candidates[0].meter_id if len(candidates) == 1 else None


def _default_form(value: Any, picked: Any) -> dict[str, str]:
    places = picked.decimal_digits if picked is not None else 0
    shown = format_number(value, places) if value is not None else ""
    return {"value": shown, "meter_id": "", "meter_number": "", "reason": ""}


@router.get("/tasks/{task_id}")
def task_get(
    request: Request,
    task_id: int,
    ctx: Ctx,
    clerk: PageClerk,
    q: str = "",
    decided: int | None = None,
    warn: str = "",
) -> Response:
    request.state.warnings = known_warnings(warn)
    return task_page(request, ctx, task_id, query=q.strip()[:40], flash_id=decided)


@router.post("/tasks/{task_id}/decision")
def task_decide(
    request: Request,
    task_id: int,
    ctx: Ctx,
    clerk: PostClerk,
    action: FormText = "accept",
    value: FormText = "",
    meter_id: FormText = "",
    meter_number: FormText = "",
    reason: FormText = "",
    ask_resend: FormText = "",
) -> Response:
    form = {"value": value, "meter_id": meter_id, "meter_number": meter_number, "reason": reason}
    with ctx.sessions() as session:
        view = task_view(session, task_id)
        if view is None:
            raise HTTPException(status_code=404, detail="task not found")
        if view.task.status != "open":
            return task_page(request, ctx, task_id, form=form, status_code=409)
        try:
            decision = parse_decision(
                session,
                view.task,
                action=action,
                value=value,
                meter_id=meter_id,
                meter_number=meter_number,
                reason=reason,
                ask_resend=ask_resend == "1",
            )
        except DecisionInvalid as exc:
            return task_page(request, ctx, task_id, form=form, error=exc.key, status_code=422)
    try:
        resolution = decide(ctx, task_id, decision, clerk=clerk.username)
    except AlreadyDecided:
        return task_page(request, ctx, task_id, form=form, status_code=409)
    except DecisionRefused as exc:
        return task_page(request, ctx, task_id, form=form, error=str(exc), status_code=422)
    with ctx.sessions() as session:
        following = next_open_task_id(session)
    target = f"/tasks/{following}" if following is not None else "/"
    params: dict[str, object] = {"decided": task_id}
    if resolution.warnings:
        params["warn"] = ",".join(resolution.warnings)
    query = urlencode(params)
    return RedirectResponse(f"{target}?{query}", status_code=303)
