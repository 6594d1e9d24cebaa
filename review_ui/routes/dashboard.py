"""The dashboard (admins land here; a link for clerks)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from review_ui.dashboard_stats import OUTCOMES, dashboard
from review_ui.web import Ctx, PageClerk, get_ctx, no_store, render

router = APIRouter()


def dashboard_page(request: Request, ctx: Ctx | None = None) -> Response:
    context = ctx or get_ctx(request)
    with context.sessions() as session:
        figures = dashboard(session, context.clock())
    return no_store(render(request, "dashboard.html", {"d": figures, "outcomes": OUTCOMES}))


@router.get("/dashboard")
def dashboard_route(request: Request, ctx: Ctx, clerk: PageClerk) -> Response:
    return dashboard_page(request, ctx)
