"""The outbox ("Postausgang"): the mails we send, one mail's text and headers, and "try again"."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import RedirectResponse, Response

from core.models import Outbox
from review_ui.outbox_view import (
    OUTBOX_KINDS,
    OUTBOX_STATUSES,
    PAGE_SIZE,
    outbox_detail,
    outbox_rows,
    retry_failed,
    status_counts,
)
from review_ui.web import Ctx, PageClerk, PostClerk, no_store, render

router = APIRouter()
RETRY_NOTICES = {"1": ("ok", "outbox.retried"), "0": ("warn", "outbox.not_failed")}


@router.get("/outbox")
def outbox_page(
    request: Request,
    ctx: Ctx,
    clerk: PageClerk,
    status: str = "",
    kind: str = "",
    offset: int = Query(default=0, ge=0, le=1_000_000),
) -> Response:
    chosen_status = status if status in OUTBOX_STATUSES else ""
    chosen_kind = kind if kind in OUTBOX_KINDS else ""
    with ctx.sessions() as session:
        rows = outbox_rows(
            session, status=chosen_status or None, kind=chosen_kind or None, offset=offset
        )
        counts = status_counts(session)
    context = {
        "rows": rows,
        "counts": counts,
        "statuses": OUTBOX_STATUSES,
        "kinds": OUTBOX_KINDS,
        "status": chosen_status,
        "kind": chosen_kind,
        "offset": offset,
        "page_size": PAGE_SIZE,
    }
    return no_store(render(request, "outbox.html", context))


@router.get("/outbox/{outbox_id}")
def outbox_mail(
    request: Request, outbox_id: int, ctx: Ctx, clerk: PageClerk, retried: str = ""
) -> Response:
    with ctx.sessions() as session:
        detail = outbox_detail(
            session, outbox_id, mail_from=ctx.settings.mail_from, now=ctx.clock()
        )
    if detail is None:
        raise HTTPException(status_code=404, detail="outbox mail not found")
    context = {"mail": detail, "row": detail.row, "retry_notice": RETRY_NOTICES.get(retried)}
    return no_store(render(request, "outbox_mail.html", context))


@router.post("/outbox/{outbox_id}/retry")
def outbox_retry(outbox_id: int, ctx: Ctx, clerk: PostClerk) -> Response:
    """Admins and clerks: a failed mail back to pending, due now (audit-logged)."""
    with ctx.sessions() as session:
        if session.get(Outbox, outbox_id) is None:
            raise HTTPException(status_code=404, detail="outbox mail not found")
    done = retry_failed(ctx, outbox_id, actor=clerk.username)
    return RedirectResponse(f"/outbox/{outbox_id}?retried={int(done)}", status_code=303)
