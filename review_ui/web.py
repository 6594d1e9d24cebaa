"""Request plumbing shared by the page modules: templates, the logged-in clerk, CSRF, rendering."""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, Response
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from core.context import AppContext
from core.formatting import (
    UNIT_LABELS,
    format_date,
    format_datetime,
    format_number,
    rate_places,
)
from review_ui.auth import Clerk, csrf_matches, load_session, remember_language
from review_ui.i18n import LANG_COOKIE, LANGUAGES, code_label, translator
from review_ui.task_facts import resend_asked_by_default, task_facts

SESSION_COOKIE = "mi_session"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
TEMPLATES = Path(__file__).parent / "templates"


class LoginRequired(Exception):
    """A page was requested without a valid session; the handler redirects to /login."""


class CsrfFailed(Exception):
    """A POST came without the session's CSRF token; answered with 403, nothing changed."""


def _num(value: Decimal | float | int | None, places: int = 0) -> str:
    return "" if value is None else format_number(value, places)


def _rate(value: Decimal | float | int | None) -> str:
    """A consumption per day: two decimals, more for a small one (`rate_places`)."""
    return "" if value is None else format_number(value, rate_places(value))


def _reading(value: Decimal | None, places: int, unit: str) -> str:
    if value is None:
        return ""
    return f"{format_number(value, places)} {UNIT_LABELS.get(unit, unit)}"


def _date(value: dt.date | None) -> str:
    return "" if value is None else format_date(value)


def _datetime(value: dt.datetime | None) -> str:
    return "" if value is None else format_datetime(value)


def _percent(value: float | None) -> str:
    return "" if value is None else f"{format_number(value * 100, 0)} %"


def make_environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html", "svg"], default_for_string=True, default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(num=_num, reading=_reading, date=_date, datetime=_datetime, percent=_percent)
    env.filters["rate"] = _rate
    env.filters["unit"] = lambda unit: UNIT_LABELS.get(unit, unit)
    env.filters["task_facts"] = task_facts
    env.filters["resend_by_default"] = resend_asked_by_default
    return env


def get_ctx(request: Request) -> AppContext:
    ctx: AppContext = request.app.state.ctx
    return ctx


def current_clerk(request: Request) -> Clerk | None:
    if not hasattr(request.state, "clerk"):
        token = request.cookies.get(SESSION_COOKIE)
        request.state.clerk = _keep_chosen_language(request, load_session(get_ctx(request), token))
    clerk: Clerk | None = request.state.clerk
    return clerk


def _keep_chosen_language(request: Request, clerk: Clerk | None) -> Clerk | None:
    """A clerk switching the language (`?lang=`) keeps the choice with the account, so that it
    follows them to another browser (the cookie stays with the browser)."""
    wanted = request.query_params.get("lang")
    if clerk is None or wanted not in LANGUAGES or wanted == clerk.language:
        return clerk
    remember_language(get_ctx(request), clerk, wanted)
    return dataclasses.replace(clerk, language=wanted)


def cookie_secure(ctx: AppContext) -> bool:
    """Cookies are Secure when configured so, and always when the UI is served over https."""
    base = ctx.settings.public_base_url.strip().lower()
    return ctx.settings.cookie_secure or base.startswith("https://")


def set_language_cookie(response: Response, lang: str) -> None:
    """The browser remembers the UI language for a year (see `i18n.choose_language`)."""
    response.set_cookie(LANG_COOKIE, lang, max_age=365 * 24 * 3600, httponly=True, samesite="lax")


def page_clerk(request: Request) -> Clerk:
    """HTML pages: a valid session or a redirect to /login."""
    clerk = current_clerk(request)
    if clerk is None:
        raise LoginRequired
    return clerk


def api_clerk(request: Request) -> Clerk:
    """JSON API: a valid session or 401."""
    clerk = current_clerk(request)
    if clerk is None:
        raise HTTPException(status_code=401, detail="login required")
    return clerk


async def page_clerk_post(request: Request, clerk: Annotated[Clerk, Depends(page_clerk)]) -> Clerk:
    """Form POSTs: a session and its CSRF token in the hidden form field."""
    form = await request.form()
    given = form.get(CSRF_FIELD)
    if not csrf_matches(clerk.csrf_token, given if isinstance(given, str) else None):
        raise CsrfFailed
    return clerk


def api_clerk_post(request: Request, clerk: Annotated[Clerk, Depends(api_clerk)]) -> Clerk:
    """API POSTs: a session and its CSRF token in the X-CSRF-Token header."""
    if not csrf_matches(clerk.csrf_token, request.headers.get(CSRF_HEADER)):
        raise CsrfFailed
    return clerk


def require_admin(clerk: Clerk) -> None:
    """Admin-only actions (starting a campaign): 403 for clerks, nothing changed."""
    if clerk.role != "admin":
        raise HTTPException(status_code=403, detail="admin role required")


PageClerk = Annotated[Clerk, Depends(page_clerk)]
PostClerk = Annotated[Clerk, Depends(page_clerk_post)]
ApiClerk = Annotated[Clerk, Depends(api_clerk)]
ApiPostClerk = Annotated[Clerk, Depends(api_clerk_post)]
Ctx = Annotated[AppContext, Depends(get_ctx)]


def lang_of(request: Request) -> str:
    lang: str = getattr(request.state, "lang", "de")
    return lang


def render(
    request: Request, template: str, context: dict[str, Any], *, status_code: int = 200
) -> HTMLResponse:
    """Render a page with the helpers every template may use."""
    lang = lang_of(request)
    clerk = current_clerk(request) if hasattr(request.app.state, "ctx") else None
    env: Environment = request.app.state.jinja
    base = {
        "request": request,
        "lang": lang,
        "t": translator(lang),
        "label": lambda code: code_label(code, lang),
        "clerk": clerk,
        "csrf_token": clerk.csrf_token if clerk else "",
        "path": request.url.path,
        "warnings": getattr(request.state, "warnings", []),
    }
    html = env.get_template(template).render({**base, **context})
    return HTMLResponse(html, status_code=status_code)


def no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response
