"""Undo (the deciding clerk, for a few minutes), reopen (admins) and releasing a claim (admins)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from core.db import transaction
from review_ui.claims import release
from review_ui.undo import UndoRefused, reopen, undo
from review_ui.web import Ctx, PostClerk, render, require_admin

router = APIRouter()


@router.post("/tasks/{task_id}/undo")
def task_undo(request: Request, task_id: int, ctx: Ctx, clerk: PostClerk) -> Response:
    try:
        with transaction(ctx.sessions) as session:
            undo(session, task_id, clerk=clerk.username, now=ctx.clock())
    except UndoRefused as exc:
        return render(
            request, "error.html", {"message_key": exc.key, "detail": ""}, status_code=409
        )
    return RedirectResponse(f"/tasks/{task_id}", status_code=303)


@router.post("/tasks/{task_id}/reopen")
def task_reopen(
    request: Request,
    task_id: int,
    ctx: Ctx,
    clerk: PostClerk,
    reason: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    require_admin(clerk)
    if not reason.strip():
        return render(
            request, "error.html", {"message_key": "reopen.reason", "detail": ""}, status_code=422
        )
    try:
        with transaction(ctx.sessions) as session:
            reopen(session, task_id, admin=clerk.username, reason=reason.strip())
    except UndoRefused as exc:
        return render(
            request, "error.html", {"message_key": exc.key, "detail": ""}, status_code=409
        )
    return RedirectResponse(f"/tasks/{task_id}", status_code=303)


@router.post("/tasks/{task_id}/release")
def task_release(task_id: int, ctx: Ctx, clerk: PostClerk) -> Response:
    require_admin(clerk)
    with transaction(ctx.sessions) as session:
        release(session, task_id, admin=clerk.username)
    return RedirectResponse("/queue", status_code=303)
