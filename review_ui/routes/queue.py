"""The review queue (start page) and the intake ledger ("Posteingang", with each mail's replies)."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from core.models import ReviewTask
from matching import reasons
from review_ui.outbox_view import replies_for
from review_ui.queries import MESSAGE_STATUSES, PAGE_SIZE, ledger, open_tasks
from review_ui.web import Ctx, PageClerk, lang_of, no_store, render

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
def queue_page(
    request: Request, ctx: Ctx, clerk: PageClerk, decided: int | None = None, warn: str = ""
) -> Response:
    request.state.warnings = known_warnings(warn)
    with ctx.sessions() as session:
        rows = open_tasks(session, ctx.clock(), lang=lang_of(request))
    context = {"rows": rows, "flash": decided_flash(ctx, decided)}
    return no_store(render(request, "queue.html", context))


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
