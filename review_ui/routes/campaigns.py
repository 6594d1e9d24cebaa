"""Reading-reminder campaigns ("Kampagnen"): list, one campaign's meters, and (admins) the start
form, which calls `notifications.campaigns.start_campaign` (idempotent per name)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Query, Request
from fastapi.responses import Response

from core.db import transaction
from core.errors import UsageError
from matching.rows import audit
from notifications.campaigns import CampaignResult, start_campaign
from review_ui.auth import Clerk
from review_ui.campaign_view import (
    MAX_NAME,
    PAGE_SIZE,
    RECIPIENT_STATUSES,
    FormInvalid,
    campaign_summaries,
    campaign_summary,
    parse_start_form,
    recipients,
)
from review_ui.web import Ctx, PageClerk, PostClerk, no_store, render, require_admin

router = APIRouter()
NameText = Annotated[str, Form(max_length=MAX_NAME + 50)]
DateText = Annotated[str, Form(max_length=20)]
EMPTY_FORM = {"name": "", "due_from": "", "due_to": ""}


def _list_page(
    request: Request,
    ctx: Ctx,
    clerk: Clerk,
    *,
    form: dict[str, str] | None = None,
    result: CampaignResult | None = None,
    error: str = "",
    status_code: int = 200,
) -> Response:
    with ctx.sessions() as session:
        summaries = campaign_summaries(session)
    context: dict[str, Any] = {
        "campaigns": summaries,
        "form": form or EMPTY_FORM,
        "result": result,
        "error": error,
        "may_start": clerk.role == "admin",
    }
    return no_store(render(request, "campaigns.html", context, status_code=status_code))


@router.get("/campaigns")
def campaigns_page(request: Request, ctx: Ctx, clerk: PageClerk) -> Response:
    return _list_page(request, ctx, clerk)


@router.post("/campaigns")
def campaign_start(
    request: Request,
    ctx: Ctx,
    clerk: PostClerk,
    name: NameText = "",
    due_from: DateText = "",
    due_to: DateText = "",
) -> Response:
    """Admins only. Starting the same name again queues only meters that became due since."""
    require_admin(clerk)
    form = {"name": name, "due_from": due_from, "due_to": due_to}
    try:
        title, first, last = parse_start_form(name, due_from, due_to)
        result = start_campaign(ctx, title, due_from=first, due_to=last, actor=clerk.username)
    except FormInvalid as exc:
        return _list_page(request, ctx, clerk, form=form, error=exc.key, status_code=422)
    except UsageError as exc:  # a window that contradicts the existing campaign of that name
        return _list_page(request, ctx, clerk, form=form, error=str(exc), status_code=422)
    _audit_start(ctx, clerk.username, result)
    return _list_page(request, ctx, clerk, result=result)


def _audit_start(ctx: Ctx, actor: str, result: CampaignResult) -> None:
    details = {
        "name": result.name,
        "due_from": result.due_from.isoformat(),
        "due_to": result.due_to.isoformat(),
        "created": result.created,
        "queued": result.queued,
        "already": result.already,
        "skipped": result.skipped,
    }
    with transaction(ctx.sessions) as session:
        audit(
            session,
            actor=actor,
            action="campaign_started",
            entity="campaign",
            entity_id=result.campaign_id,
            details=details,
        )


@router.get("/campaigns/{campaign_id}")
def campaign_page(
    request: Request,
    campaign_id: int,
    ctx: Ctx,
    clerk: PageClerk,
    status: str = "",
    offset: int = Query(default=0, ge=0, le=10_000_000),
) -> Response:
    chosen = status if status in RECIPIENT_STATUSES else ""
    with ctx.sessions() as session:
        summary = campaign_summary(session, campaign_id)
        if summary is None:
            raise HTTPException(status_code=404, detail="campaign not found")
        rows = recipients(session, campaign_id, status=chosen or None, offset=offset)
    context = {
        "campaign": summary,
        "rows": rows,
        "statuses": RECIPIENT_STATUSES,
        "status": chosen,
        "offset": offset,
        "page_size": PAGE_SIZE,
    }
    return no_store(render(request, "campaign.html", context))
