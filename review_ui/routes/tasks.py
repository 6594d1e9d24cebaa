"""The task page: photo, OCR, candidates, expectation, history, and the decision forms."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import RedirectResponse, Response

from core.formatting import format_number, parse_german_decimal
from core.models import Meter
from matching.meters import registers_of
from matching.plausibility import decimal_places
from review_ui.claims import ClaimedElsewhere, claim, current_claim
from review_ui.decisions import (
    AlreadyDecided,
    DecisionInvalid,
    DecisionRefused,
    NeedsConfirmation,
    decide,
    parse_decision,
    read_date,
)
from review_ui.expectation import booking_register, expectation_for, task_guard_codes
from review_ui.outbox_view import replies_for
from review_ui.queries import format_age, meter_candidate, task_view
from review_ui.queue_query import next_task_id
from review_ui.routes.meters import find_meter_candidates, meter_panel
from review_ui.routes.queue import decided_flash, known_warnings
from review_ui.task_context import task_context
from review_ui.web import Ctx, PageClerk, PostClerk, lang_of, no_store, render

router = APIRouter()
FormText = Annotated[str, Form(max_length=500)]
FormList = Annotated[list[str], Form()]


def task_page(
    request: Request,
    ctx: Ctx,
    task_id: int,
    *,
    clerk: str,
    query: str = "",
    form: dict[str, str] | None = None,
    error: str = "",
    status_code: int = 200,
    flash_id: int | None = None,
    confirm: tuple[str, ...] = (),
) -> Response:
    now = ctx.clock()
    with ctx.sessions() as session:
        view = task_view(session, task_id)
        if view is None:
            raise HTTPException(status_code=404, detail="task not found")
        task = view.task
        held = claim(session, task_id, clerk, now) if task.status == "open" else None
        session.commit()
        found = find_meter_candidates(session, query) if query else []
        known = {c.meter_id for c in view.candidates}
        extra = [c for c in found if c.meter_id not in known]
        chosen = _chosen_meter_id(form, task.meter_id, view.candidates)
        meter = session.get(Meter, chosen) if chosen else None
        chosen_register = (form or {}).get("register") or None
        expectation = (
            expectation_for(session, meter, read_date(task), task=task, register=chosen_register)
            if meter
            else None
        )
        shown_form = form or _default_form(task.proposed_value, meter)
        context: dict[str, Any] = {
            "view": view,
            "task": task,
            "age": format_age(now - view.message.received_at, lang_of(request)),
            "search_query": query,
            "search_results": extra,
            "searched": bool(query),
            "form": shown_form,
            "chosen_meter_id": chosen,
            "registers": registers_of(meter) if meter is not None else [],
            "chosen_register": booking_register(task, meter, chosen_register) if meter else None,
            "panel": meter_panel(session, chosen) if chosen else None,
            "picked": meter_candidate(session, chosen, []) if chosen else None,
            "error": error,
            "flash": decided_flash(ctx, flash_id),
            "replies": replies_for(session, [view.message.id]).get(view.message.id, []),
            "expectation": expectation,
            "entered": _entered(shown_form.get("value", "")),
            "confirm": confirm,
            "claim": held or current_claim(task, clerk, now),
            **task_context(session, task, clerk=clerk, now=now, blobs=ctx.blobs),
        }
        if expectation is not None and context["entered"] is not None and not confirm:
            context["pre_guards"] = task_guard_codes(context["entered"], expectation, task)
        return no_store(render(request, "task.html", context, status_code=status_code))


def _entered(text: str) -> Decimal | None:
    try:
        value = parse_german_decimal(text)
    except ValueError:
        return None
    return value if value.is_finite() else None


def _chosen_meter_id(
    form: dict[str, str] | None, proposed: int | None, candidates: list[Any]
) -> int | None:
    if form and form.get("meter_id", "").isdigit():
        return int(form["meter_id"])
    if proposed is not None:
        return proposed
    return candidates[0].meter_id if len(candidates) == 1 else None


def _default_form(value: Decimal | None, meter: Meter | None) -> dict[str, str]:
    """The prefill keeps every decimal digit: the meter's count, else the proposal's own."""
    if value is None:
        shown = ""
    else:
        own = decimal_places(value)
        places = max(meter.decimal_digits, own) if meter is not None else own
        shown = format_number(value, places)
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
    return task_page(
        request, ctx, task_id, clerk=clerk.username, query=q.strip()[:40], flash_id=decided
    )


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
    confirm: FormList | None = None,
    chosen_register: Annotated[str, Form(alias="register", max_length=20)] = "",
) -> Response:
    form = {"value": value, "meter_id": meter_id, "meter_number": meter_number, "reason": reason,
            "register": chosen_register}  # fmt: skip
    page: dict[str, Any] = {"clerk": clerk.username, "form": form}
    with ctx.sessions() as session:
        view = task_view(session, task_id)
        if view is None:
            raise HTTPException(status_code=404, detail="task not found")
        if view.task.status != "open":
            return task_page(request, ctx, task_id, **page, status_code=409)
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
                confirmed=[code for item in confirm or () for code in item.split(",")],
                register=chosen_register,
            )
        except DecisionInvalid as exc:
            return task_page(request, ctx, task_id, **page, error=exc.key, status_code=422)
    try:
        resolution = decide(ctx, task_id, decision, clerk=clerk.username)
    except AlreadyDecided:
        return task_page(request, ctx, task_id, **page, status_code=409)
    except ClaimedElsewhere:
        return task_page(request, ctx, task_id, **page, error="claim.taken", status_code=409)
    except NeedsConfirmation as exc:
        return task_page(
            request, ctx, task_id, **page, error="guard.confirm", confirm=exc.codes, status_code=422
        )
    except DecisionRefused as exc:
        return task_page(request, ctx, task_id, **page, error=str(exc), status_code=422)
    with ctx.sessions() as session:
        following = next_task_id(session, clerk=clerk.username, now=ctx.clock())
    target = f"/tasks/{following}" if following is not None else "/queue"
    params: dict[str, object] = {"decided": task_id}
    if resolution.warnings:
        params["warn"] = ",".join(resolution.warnings)
    return RedirectResponse(f"{target}?{urlencode(params)}", status_code=303)
