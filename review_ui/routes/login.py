"""Login and logout. The login form has its own CSRF token (a double-submit cookie), because
there is no session yet; logout uses the session's token like every other POST."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from review_ui.auth import authenticate, create_session, csrf_matches, end_session
from review_ui.web import (
    SESSION_COOKIE,
    Ctx,
    PostClerk,
    cookie_secure,
    current_clerk,
    get_ctx,
    no_store,
    render,
    set_language_cookie,
)

router = APIRouter()
LOGIN_CSRF_COOKIE = "mi_login_csrf"


def safe_next(target: str | None) -> str:
    """Only local paths are followed after login (no open redirect)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def _login_page(
    request: Request,
    *,
    next_url: str,
    error: str = "",
    seconds: int = 0,
    status_code: int = 200,
) -> Response:
    token = secrets.token_urlsafe(24)
    context = {"login_csrf": token, "next_url": next_url, "error": error, "seconds": seconds}
    response = render(request, "login.html", context, status_code=status_code)
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=cookie_secure(get_ctx(request)),
        path="/login",
    )
    return no_store(response)


@router.get("/login")
def login_form(request: Request, next: str = "/") -> Response:
    if current_clerk(request) is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    return _login_page(request, next_url=safe_next(next))


@router.post("/login")
def login_submit(
    request: Request,
    ctx: Ctx,
    username: Annotated[str, Form(max_length=200)] = "",
    password: Annotated[str, Form(max_length=1000)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not expected or not csrf_matches(expected, csrf_token):
        return _login_page(request, next_url=safe_next(next), error="error.csrf", status_code=403)
    ip = request.client.host if request.client else "-"
    result = authenticate(ctx, username, password, ip=ip)
    if result.locked_seconds:
        page = _login_page(
            request,
            next_url=safe_next(next),
            error="login.locked",
            seconds=result.locked_seconds,
            status_code=429,
        )
        page.headers["Retry-After"] = str(result.locked_seconds)
        return page
    if result.user_id is None:
        return _login_page(request, next_url=safe_next(next), error="login.failed", status_code=401)
    token = create_session(ctx, result.user_id)
    response = RedirectResponse(safe_next(next), status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=int(ctx.settings.session_hours * 3600),
        httponly=True,
        samesite="lax",
        secure=cookie_secure(ctx),
        path="/",
    )
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
    if result.language:
        set_language_cookie(response, result.language)  # the account's choice, in any browser
    return response


@router.post("/logout")
def logout(request: Request, ctx: Ctx, clerk: PostClerk) -> Response:
    end_session(ctx, clerk)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
