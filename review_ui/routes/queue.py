"""The review queue (filters, sort, search, batch accept), "next task", and the intake ledger
("Posteingang", with each mail's replies). Admins land on the dashboard, clerks on the queue."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from core.models import ReviewTask
from matching import reasons
from review_ui.auth import Clerk
from review_ui.batch import accept_batch
from review_ui.outbox_view import replies_for
from review_ui.queries import MESSAGE_STATUSES, PAGE_SIZE, format_age, ledger
from review_ui.queue_query import (
    AGES,
    KINDS,
    SORTS,
    QueueFilter,
    neighbour_task_id,
    next_task_id,
    queue_rows,
)
from review_ui.routes.dashboard import dashboard_page
from review_ui.web import Ctx, PageClerk, PostClerk, lang_of, no_store, render

router = APIRouter()


def decided_flash(ctx: Ctx, task_id: int | None) -> ReviewTask | None:
    """The task just decided (shown as a confirmation line on the next page)."""
    if task_id is None:
        return None
    with ctx.sessions() as session:
        task = session.get(ReviewTask, task_id)
        if task is None or task.status == "open":
            return None
        _ = task.meter  # load for the template
        return task


def known_warnings(text: str) -> list[str]:
    """Plausibility codes passed along after a decision (unknown words are dropped)."""
    return [code for code in text.split(",")[:10] if code in reasons.LABELS]


@router.get("/")
def start_page(
    request: Request, ctx: Ctx, clerk: PageClerk, decided: int | None = None, warn: str = ""
) -> Response:
    if clerk.role == "admin" and decided is None:
        return dashboard_page(request, ctx)
    return _queue(request, ctx, clerk, QueueFilter(), decided=decided, warn=warn)


@router.get("/queue")
def queue_page(
    request: Request,
    ctx: Ctx,
    clerk: PageClerk,
    decided: int | None = None,
    warn: str = "",
    reason: str = Query(default="", max_length=40),
    kind: str = Query(default="", max_length=20),
    age: str = Query(default="", max_length=4),
    q: str = Query(default="", max_length=100),
    sort: str = Query(default="oldest", max_length=10),
    batch: str = Query(default="", max_length=200),
) -> Response:
    wanted = QueueFilter.of(reason=reason, kind=kind, age=age, q=q, sort=sort)
    return _queue(request, ctx, clerk, wanted, decided=decided, warn=warn, batch=batch)


def _queue(
    request: Request,
    ctx: Ctx,
    clerk: Clerk,
    wanted: QueueFilter,
    *,
    decided: int | None,
    warn: str,
    batch: str = "",
) -> Response:
    request.state.warnings = known_warnings(warn)
    now = ctx.clock()
    with ctx.sessions() as session:
        rows, total = queue_rows(session, wanted, clerk=clerk.username, now=now)
    lang = lang_of(request)
    context = {
        "rows": rows,
        "total": total,
        "ages": {row.id: format_age(now - row.received_at, lang) for row in rows},
        "flash": decided_flash(ctx, decided),
        "filter": wanted,
        "reason_choices": [c for c in reasons.LABELS if c not in reasons.NOTES],
        "kinds": KINDS,
        "age_choices": list(AGES),
        "sorts": SORTS,
        "batch_result": [part for part in batch.split(",") if part][:3],
    }
    return no_store(render(request, "queue.html", context))


@router.get("/next")
def next_task(ctx: Ctx, clerk: PageClerk) -> Response:
    """The oldest open task nobody else is working on (others' claims are skipped)."""
    with ctx.sessions() as session:
        following = next_task_id(session, clerk=clerk.username, now=ctx.clock())
    return RedirectResponse(f"/tasks/{following}" if following else "/queue", status_code=303)


@router.get("/tasks/{task_id}/next")
def following_task(task_id: int, ctx: Ctx, clerk: PageClerk) -> Response:
    """The next open task after this one in the queue's order that nobody else holds (the queue
    when there is none)."""
    with ctx.sessions() as session:
        found = neighbour_task_id(
            session, task_id, clerk=clerk.username, now=ctx.clock(), forward=True
        )
    return RedirectResponse(f"/tasks/{found}" if found else "/queue", status_code=303)


@router.get("/tasks/{task_id}/previous")
def previous_task(task_id: int, ctx: Ctx, clerk: PageClerk) -> Response:
    """The task before this one in the queue's order: open and free, or decided by this clerk
    (this task again when there is none)."""
    with ctx.sessions() as session:
        found = neighbour_task_id(
            session, task_id, clerk=clerk.username, now=ctx.clock(), forward=False
        )
    return RedirectResponse(f"/tasks/{found or task_id}", status_code=303)


@router.post("/tasks/batch-accept")
def batch_accept(
    ctx: Ctx, clerk: PostClerk, task: Annotated[list[int] | None, Form()] = None
) -> Response:
    """Accept the ticked tasks' proposals; tasks that trip a guard or are held stay open."""
    outcome = accept_batch(ctx, (task or [])[:PAGE_SIZE], clerk=clerk.username)
    batch = f"{outcome.accepted},{outcome.skipped}"
    return RedirectResponse(f"/queue?batch={batch}", status_code=303)


@router.get("/messages")
def messages_page(
    request: Request,
    ctx: Ctx,
    clerk: PageClerk,
    status: str = "",
    offset: int = Query(default=0, ge=0, le=1_000_000),
    message: int | None = Query(default=None, alias="id", ge=1),
) -> Response:
    chosen = status if status in MESSAGE_STATUSES else ""
    with ctx.sessions() as session:
        rows = ledger(session, chosen or None, offset=offset, message_id=message)
        replies = replies_for(session, (mail.id for mail, _, _ in rows))
    context = {
        "rows": rows,
        "replies": replies,
        "statuses": MESSAGE_STATUSES,
        "status": chosen,
        "offset": offset,
        "page_size": PAGE_SIZE,
    }
    return no_store(render(request, "messages.html", context))
