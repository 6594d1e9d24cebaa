"""Review UI security: every route needs a clerk, CSRF on every POST, escaping, sessions, logins."""

from __future__ import annotations

import hashlib
import re

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from core.context import AppContext
from core.errors import UsageError
from core.models import Outbox, Reading, ReviewTask, User, UserSession
from review_ui.app import create_app
from review_ui.auth import FREE_FAILURES, add_user
from tests.conftest import FrozenClock
from tests.ui_seed import CLERK, CLERK_PASSWORD, add_clerk, csrf_from, login, seed_task

# the unsubscribe page needs no login: its signed token is the key (and RFC 8058's one-click
# POST carries no CSRF token); the login form has its own double-submit token
PUBLIC = {"/login", "/health", "/abmelden/1"}
CSRF_FREE = {"/login", "/abmelden/1"}
SCRIPT = "<script>alert('x')</script>"


def _routes(client: TestClient) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    for route in client.app.routes:  # type: ignore[attr-defined]
        if isinstance(route, APIRoute):
            path = re.sub(r"\{[^}]+\}", "1", route.path)
            found.extend((method, path) for method in sorted(route.methods or ()))
    return found


def _nothing_decided(ctx: AppContext) -> None:
    with ctx.sessions() as session:
        assert (
            session.scalar(
                select(func.count()).select_from(Reading).where(Reading.source != "import")
            )
            == 0
        )
        assert session.scalar(select(func.count()).select_from(Outbox)) == 0
        statuses = session.scalars(select(ReviewTask.status)).all()
        assert statuses and set(statuses) == {"open"}


def test_every_route_but_login_and_health_refuses_without_session(
    ctx: AppContext, client: TestClient
) -> None:
    seed_task(ctx)
    routes = _routes(client)
    paths = {path for _, path in routes}
    assert {"/", "/tasks/1", "/tasks/1/decision", "/meters/1", "/photos/1", "/messages"} <= paths
    assert {"/api/tasks", "/api/tasks/1", "/api/tasks/1/decision", "/metrics", "/logout"} <= paths
    assert {"/outbox", "/outbox/1", "/outbox/1/retry", "/campaigns", "/campaigns/1"} <= paths
    for method, path in routes:
        if path in PUBLIC:
            continue
        response = client.request(method, path, follow_redirects=False)
        if path.startswith("/api/") or path == "/metrics":
            assert response.status_code == 401, (method, path)
        else:
            assert response.status_code == 303, (method, path)
            assert response.headers["location"].startswith("/login"), (method, path)
    _nothing_decided(ctx)


def test_public_routes_answer_without_session(client: TestClient) -> None:
    assert client.get("/login").status_code == 200
    assert client.get("/health").status_code == 200
    assert client.get("/static/review.css").headers["content-type"].startswith("text/css")


def test_every_post_rejects_missing_or_wrong_csrf_token(
    ctx: AppContext, client: TestClient
) -> None:
    seed_task(ctx)
    login(client)
    form = {"action": "accept", "value": "12.345,6", "meter_id": "1", "reason": "x"}
    for method, path in _routes(client):
        if method != "POST" or path in CSRF_FREE:
            continue
        for token in (None, "wrong-token"):
            data = form if token is None else {**form, "csrf_token": token}
            headers = {} if token is None else {"X-CSRF-Token": token}
            if path.startswith("/api/"):
                response = client.post(path, json=form, headers=headers)
            else:
                response = client.post(path, data=data, follow_redirects=False)
            assert response.status_code == 403, (path, token)
    _nothing_decided(ctx)
    assert client.get("/", follow_redirects=False).status_code == 200  # logout did not happen


def test_login_form_has_its_own_csrf_token(client: TestClient) -> None:
    response = client.post(
        "/login", data={"username": CLERK, "password": CLERK_PASSWORD}, follow_redirects=False
    )
    assert response.status_code == 403
    assert "mi_session" not in response.cookies


def test_script_subject_is_shown_escaped(ctx: AppContext, client: TestClient) -> None:
    seeded = seed_task(ctx, subject=SCRIPT)
    login(client)
    for path in ("/", f"/tasks/{seeded.task_id}", "/messages", "/messages?status=review"):
        html = client.get(path).text
        assert SCRIPT not in html, path
        assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in html, path
    assert client.get("/api/tasks").json()["tasks"][0]["subject"] == SCRIPT


def test_security_headers_on_every_page(ctx: AppContext, client: TestClient) -> None:
    for path in ("/login", "/health"):
        headers = client.get(path).headers
        assert "default-src 'self'" in headers["content-security-policy"]
        assert headers["x-frame-options"] == "DENY"
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["referrer-policy"] == "no-referrer"


def test_wrong_password_and_unknown_user_are_refused_alike(client: TestClient) -> None:
    for username, password in ((CLERK, "falsches-Passwort-1"), ("niemand", CLERK_PASSWORD)):
        page = client.get("/login")
        response = client.post(
            "/login",
            data={"username": username, "password": password, "csrf_token": csrf_from(page.text)},
            follow_redirects=False,
        )
        assert response.status_code == 401
        assert "Benutzername oder Passwort ist falsch." in response.text
        assert "mi_session" not in response.cookies
    assert client.get("/", follow_redirects=False).status_code == 303


def _try(client: TestClient, password: str) -> int:
    page = client.get("/login")
    data = {"username": CLERK, "password": password, "csrf_token": csrf_from(page.text)}
    return client.post("/login", data=data, follow_redirects=False).status_code


def test_repeated_failures_lock_the_login_for_a_while(
    client: TestClient, clock: FrozenClock
) -> None:
    for _ in range(FREE_FAILURES):
        assert _try(client, "falsch-falsch-1") == 401
    assert _try(client, CLERK_PASSWORD) == 429  # even the right password waits
    clock.advance(seconds=31)
    assert _try(client, CLERK_PASSWORD) == 303


def test_session_cookie_is_random_hashed_httponly_and_expires(
    ctx: AppContext, client: TestClient, clock: FrozenClock
) -> None:
    page = client.get("/login")
    response = client.post(
        "/login",
        data={"username": CLERK, "password": CLERK_PASSWORD, "csrf_token": csrf_from(page.text)},
        follow_redirects=False,
    )
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Secure" not in cookie
    token = response.cookies["mi_session"]
    with ctx.sessions() as session:
        stored = session.scalars(select(UserSession)).one()
        assert stored.token_hash == hashlib.sha256(token.encode()).hexdigest()
        assert token not in stored.token_hash
    assert client.get("/", follow_redirects=False).status_code == 200
    clock.advance(hours=ctx.settings.session_hours, seconds=1)
    expired = client.get("/", follow_redirects=False)
    assert expired.status_code == 303 and expired.headers["location"].startswith("/login")


def test_secure_cookie_when_configured(ctx: AppContext) -> None:
    ctx.settings.cookie_secure = True
    add_clerk(ctx)
    with TestClient(create_app(ctx), base_url="https://testserver") as client:
        page = client.get("/login")
        data = {"username": CLERK, "password": CLERK_PASSWORD, "csrf_token": csrf_from(page.text)}
        response = client.post("/login", data=data, follow_redirects=False)
    assert "Secure" in response.headers["set-cookie"]


def test_logout_ends_the_server_side_session(ctx: AppContext, client: TestClient) -> None:
    csrf = login(client)
    response = client.post("/logout", data={"csrf_token": csrf}, follow_redirects=False)
    assert response.status_code == 303
    with ctx.sessions() as session:
        assert session.scalar(select(func.count()).select_from(UserSession)) == 0
    assert client.get("/", follow_redirects=False).status_code == 303


def test_login_redirects_only_to_local_paths(client: TestClient) -> None:
    page = client.get("/login?next=//evil.example/x")
    assert 'name="next" value="/"' in page.text
    data = {
        "username": CLERK,
        "password": CLERK_PASSWORD,
        "csrf_token": csrf_from(page.text),
        "next": "https://evil.example/",
    }
    response = client.post("/login", data=data, follow_redirects=False)
    assert response.headers["location"] == "/"


@pytest.mark.parametrize(
    ("username", "password", "message"),
    [
        ("anna", "", "leer"),
        ("anna", "kurz", "mindestens"),
        ("anna", "aaaaaaaaaaaaaa", "zu einfach"),
        ("anna", "Meine-Anna-2026", "erraten"),
        ("", "Ein-gutes-Passwort-9", "Benutzername"),
    ],
)
def test_add_user_refuses_weak_passwords(
    ctx: AppContext, username: str, password: str, message: str
) -> None:
    with pytest.raises(UsageError, match=message):
        add_user(ctx, username, password)


def test_add_user_refuses_duplicates_and_stores_argon2(ctx: AppContext) -> None:
    user_id = add_user(ctx, "bert", "Ein-gutes-Passwort-9", role="admin", display_name="Bert")
    with pytest.raises(UsageError, match="gibt es schon"):
        add_user(ctx, "bert", "Noch-ein-Passwort-8")
    with ctx.sessions() as session:
        user = session.get(User, user_id)
        assert user is not None and user.role == "admin"
        assert user.password_hash.startswith("$argon2id$")
