"""Reading-reminder campaigns ("Kampagnen"): list, one campaign's meters, and (admins) the start
form, which calls `notifications.campaigns.start_campaign` (idempotent per name)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Query, Request
from fastapi.responses import Response

from core.errors import UsageError
from core.models import Campaign
from notifications.campaign_control import MOVES, control_campaign
from notifications.campaigns import CampaignResult, start_campaign, unreached
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
PREVIEW_MAILS = 3


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
    mode: Annotated[str, Form(max_length=10)] = "start",
) -> Response:
    """Admins only. Starting the same name again queues only meters that became due since.
    `mode=preview` is a dry run: everything is counted and sample mails are rendered, nothing
    is stored."""
    require_admin(clerk)
    form = {"name": name, "due_from": due_from, "due_to": due_to}
    dry_run = mode == "preview"
    try:
        title, first, last = parse_start_form(name, due_from, due_to)
        result = start_campaign(
            ctx, title, due_from=first, due_to=last, actor=clerk.username, dry_run=dry_run,
            preview=PREVIEW_MAILS if dry_run else 0,
        )  # fmt: skip
    except FormInvalid as exc:
        return _list_page(request, ctx, clerk, form=form, error=exc.key, status_code=422)
    except UsageError as exc:  # a window that contradicts the existing campaign of that name
        return _list_page(request, ctx, clerk, form=form, error=str(exc), status_code=422)
    return _list_page(request, ctx, clerk, form=form if dry_run else None, result=result)


@router.post("/campaigns/{campaign_id}/{action}")
def campaign_control(
    request: Request, campaign_id: int, action: str, ctx: Ctx, clerk: PostClerk
) -> Response:
    """Admins only: pause, resume or cancel (`notifications.campaign_control`)."""
    require_admin(clerk)
    if action not in MOVES:
        raise HTTPException(status_code=404, detail="unknown action")
    try:
        result = control_campaign(ctx, str(campaign_id), action, actor=clerk.username)
    except UsageError as exc:
        return _detail_page(request, ctx, clerk, campaign_id, notice=str(exc), status_code=409)
    return _detail_page(request, ctx, clerk, campaign_id, notice=result.summary())


@router.get("/campaigns/{campaign_id}")
def campaign_page(
    request: Request,
    campaign_id: int,
    ctx: Ctx,
    clerk: PageClerk,
    status: str = "",
    offset: int = Query(default=0, ge=0, le=10_000_000),
) -> Response:
    return _detail_page(request, ctx, clerk, campaign_id, status=status, offset=offset)


def _detail_page(
    request: Request,
    ctx: Ctx,
    clerk: Clerk,
    campaign_id: int,
    *,
    status: str = "",
    offset: int = 0,
    notice: str = "",
    status_code: int = 200,
) -> Response:
    chosen = status if status in RECIPIENT_STATUSES else ""
    with ctx.sessions() as session:
        summary = campaign_summary(session, campaign_id)
        if summary is None:
            raise HTTPException(status_code=404, detail="campaign not found")
        rows = recipients(session, campaign_id, status=chosen or None, offset=offset)
        campaign = session.get(Campaign, campaign_id)
        assert campaign is not None
        missed = unreached(session, campaign) if campaign.status in ("running", "paused") else []
    context = {
        "campaign": summary,
        "rows": rows,
        "unreached": missed,
        "statuses": RECIPIENT_STATUSES,
        "status": chosen,
        "offset": offset,
        "page_size": PAGE_SIZE,
        "notice": notice,
        "may_control": clerk.role == "admin",
    }
    return no_store(render(request, "campaign.html", context, status_code=status_code))
