"""The clerks' review web app: `create_app(ctx)` wires pages, API, security headers and errors."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from urllib.parse import quote

from fastapi import APIRouter, FastAPI, Request
from fastapi.exception_handlers import request_validation_exception_handler
from fastapi.exceptions import HTTPException, RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles

from core.context import AppContext
from review_ui.i18n import LANG_COOKIE, LANGUAGES, choose_language
from review_ui.routes import (
    api,
    audit,
    campaigns,
    dashboard,
    login,
    meters,
    ops,
    outbox,
    queue,
    task_actions,
    tasks,
    unsubscribe,
)
from review_ui.web import (
    CsrfFailed,
    LoginRequired,
    api_clerk_post,
    make_environment,
    render,
    set_language_cookie,
)

log = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "static"
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}
# Routes that answer without a clerk session. Everything else is refused (tests enumerate routes).
PUBLIC_PATHS = frozenset({"/login", "/health", "/metrics", "/abmelden/{token}"})
# Public POST routes that need no CSRF token: the login form has its own, and the one-click
# unsubscribe (RFC 8058) is posted by mail programs; its signed token is the credential.
CSRF_FREE_POSTS = frozenset({"/login", "/abmelden/{token}"})


def create_app(ctx: AppContext) -> FastAPI:
    app = FastAPI(
        title="meter-intake review",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.ctx = ctx
    app.state.started_at = ctx.clock()  # /health grants a worker time to start
    app.state.jinja = make_environment()
    pages = (login, queue, dashboard, tasks, task_actions, meters, audit, outbox, campaigns)
    for module in (*pages, ops, api, unsubscribe):
        _add_routes(app, module.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.middleware("http")(_language_and_headers)
    _add_error_handlers(app)
    _check_post_routes(app)
    return app


def _add_routes(app: FastAPI, router: APIRouter) -> None:
    """Register a page module's routes on the app itself, so `app.routes` lists every route
    (tests and `_check_post_routes` enumerate them; included routers would hide them)."""
    for route in router.routes:
        if not isinstance(route, APIRoute):
            raise TypeError(f"unexpected route type {type(route).__name__}")
        app.add_api_route(
            route.path,
            route.endpoint,
            methods=sorted(route.methods or ()),
            name=route.name,
            response_class=route.response_class,
            include_in_schema=False,
        )


async def _language_and_headers(
    request: Request, call_next: Callable[[Request], Awaitable[Response]]
) -> Response:
    wanted = request.query_params.get("lang")
    request.state.lang = choose_language(
        wanted, request.cookies.get(LANG_COOKIE), request.headers.get("accept-language")
    )
    response = await call_next(request)
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    if wanted in LANGUAGES:
        set_language_cookie(response, wanted)
    return response


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(LoginRequired)
    async def _to_login(request: Request, exc: LoginRequired) -> Response:
        target = request.url.path
        if request.url.query:
            target += "?" + request.url.query
        next_param = quote(target, safe="/") if request.method == "GET" else "/"
        return RedirectResponse(f"/login?next={next_param}", status_code=303)

    @app.exception_handler(CsrfFailed)
    async def _csrf(request: Request, exc: CsrfFailed) -> Response:
        log.warning("CSRF token missing or wrong: %s %s", request.method, request.url.path)
        if request.url.path.startswith("/api/"):
            return JSONResponse({"detail": "CSRF token missing or wrong"}, status_code=403)
        return render(request, "error.html", {"message_key": "error.csrf"}, status_code=403)

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> Response:
        if request.url.path.startswith("/api/") or exc.status_code == 401:
            return JSONResponse({"detail": exc.detail}, status_code=exc.status_code)
        key = {403: "error.forbidden", 404: "error.not_found", 415: "error.photo_unavailable"}.get(
            exc.status_code, ""
        )
        context = {"message_key": key, "detail": str(exc.detail)}
        return render(request, "error.html", context, status_code=exc.status_code)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        """A page address with a path that names nothing (`/tasks/abc`): the clerk's "not
        found" page, not the API's JSON about integer parsing."""
        on_path = all(error.get("loc", ("",))[0] == "path" for error in exc.errors())
        if request.url.path.startswith("/api/") or not on_path:
            return await request_validation_exception_handler(request, exc)
        context = {"message_key": "error.not_found", "detail": ""}
        return render(request, "error.html", context, status_code=404)


def _check_post_routes(app: FastAPI) -> None:
    """Fail at start-up if a state-changing route forgets the CSRF-checking dependency."""
    for route in app.routes:
        methods = route.methods or set() if isinstance(route, APIRoute) else set()
        if not methods & {"POST", "PUT", "PATCH", "DELETE"}:
            continue
        assert isinstance(route, APIRoute)
        calls = {dep.call for dep in route.dependant.dependencies}
        nested = {d.call for dep in route.dependant.dependencies for d in dep.dependencies}
        protected = {*calls, *nested}
        if route.path not in CSRF_FREE_POSTS and not protected & _csrf_dependencies():
            raise RuntimeError(f"POST route {route.path} lacks a CSRF check")


def _csrf_dependencies() -> set[object]:
    from review_ui.web import page_clerk_post

    return {page_clerk_post, api_clerk_post}
