"""The review UI behind a reverse proxy, under a real uvicorn server: the client's address comes
from X-Forwarded-For only where the connection comes from a proxy that `forwarded_allow_ips`
names. The login backoff and the audit log key on that address. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import httpx2
import pytest
from sqlalchemy import select

from core.context import AppContext
from core.errors import ConfigError
from core.models import AuditLog
from core.settings import load_settings
from review_ui.auth import FREE_FAILURES
from tests.fixtures_ui import running_ui
from tests.ui_seed import CLERK, CLERK_PASSWORD, add_clerk, csrf_from

ATTACKER, COLLEAGUE = "203.0.113.5", "198.51.100.7"


def _behind(ctx: AppContext, proxies: str) -> AppContext:
    settings = ctx.settings.model_copy(update={"forwarded_allow_ips": proxies})
    return dataclasses.replace(ctx, settings=settings)


def _login(base: str, password: str, *, forwarded_for: str) -> int:
    with httpx2.Client(base_url=base, follow_redirects=False) as client:
        page = client.get("/login")
        data = {"username": CLERK, "password": password, "csrf_token": csrf_from(page.text)}
        response = client.post("/login", data=data, headers={"X-Forwarded-For": forwarded_for})
        return response.status_code


def _lock_out(base: str) -> None:
    for _ in range(FREE_FAILURES):
        assert _login(base, "falsch-falsch-1", forwarded_for=ATTACKER) == 401
    assert _login(base, CLERK_PASSWORD, forwarded_for=ATTACKER) == 429


def _logged_addresses(ctx: AppContext) -> set[str | None]:
    """The client addresses the audit log recorded for login attempts."""
    with ctx.sessions() as session:
        logins = session.scalars(select(AuditLog).where(AuditLog.entity == "login"))
        return {row.details.get("ip") for row in logins}


@pytest.fixture
def proxied(ctx: AppContext) -> Iterator[tuple[AppContext, str]]:
    """The UI trusting the loopback address as its reverse proxy (the tests connect from it)."""
    behind = _behind(ctx, "127.0.0.1")
    add_clerk(behind)
    with running_ui(behind) as base:
        yield behind, base


def test_behind_a_named_proxy_failures_count_per_forwarded_address(
    proxied: tuple[AppContext, str],
) -> None:
    ctx, base = proxied
    _lock_out(base)
    assert _login(base, CLERK_PASSWORD, forwarded_for=COLLEAGUE) == 303
    assert _logged_addresses(ctx) == {ATTACKER, COLLEAGUE}


def test_without_a_named_proxy_the_forwarded_header_is_not_believed(ctx: AppContext) -> None:
    add_clerk(ctx)
    with running_ui(ctx) as base:
        _lock_out(base)
        # a client choosing its own X-Forwarded-For must not escape the backoff
        assert _login(base, CLERK_PASSWORD, forwarded_for=COLLEAGUE) == 429
    assert _logged_addresses(ctx) == {"127.0.0.1"}


def test_proxy_list_is_validated_and_normalised() -> None:
    settings = load_settings(forwarded_allow_ips=" 10.0.0.0/8 , 127.0.0.1,, ::1 ")
    assert settings.forwarded_allow_ips == "10.0.0.0/8,127.0.0.1,::1"
    with pytest.raises(ConfigError, match=r"FORWARDED_ALLOW_IPS.*proxy\.example"):
        load_settings(forwarded_allow_ips="proxy.example")
