"""Clerk accounts and login: argon2 hashes, server-side sessions, CSRF tokens, login backoff.

The session cookie holds a random token; the database stores only its sha256, so a leaked
database dump does not yield usable sessions. Failed logins are written to the audit log and
counted per username + client address, and per address across all user names; after
`FREE_FAILURES` (`FREE_FAILURES_PER_ADDRESS`) the next try is refused for a doubling wait (capped),
which survives restarts and works across several UI processes. A refused try is audited too.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from core.context import AppContext
from core.db import transaction
from core.errors import UsageError
from core.models import AuditLog, User, UserSession

ROLES = ("clerk", "admin")
MIN_PASSWORD_LENGTH = 10
FREE_FAILURES = 5
# One address trying many user names: more room (an office behind one NAT address shares it),
# then the same doubling wait for every name tried from there.
FREE_FAILURES_PER_ADDRESS = 20
FAILURE_WINDOW = dt.timedelta(minutes=15)
BASE_LOCK_SECONDS = 30
MAX_LOCK_SECONDS = 15 * 60
COMMON_PASSWORDS = frozenset(
    {
        "passwort123",
        "password123",
        "1234567890",
        "0123456789",
        "qwertzuiop",
        "qwertyuiop",
        "hallo12345",
        "passwort1234",
        "password1234",
        "stadtwerke1",
        "zaehlerstand",
        "zählerstand",
    }
)

_hasher = PasswordHasher()
_dummy_hash: str | None = None


@dataclass(frozen=True)
class Clerk:
    """The logged-in user of one request."""

    user_id: int
    username: str
    display_name: str
    role: str
    csrf_token: str
    session_id: int
    language: str | None = None  # the UI language the clerk chose (kept with the account)

    @property
    def name(self) -> str:
        return self.display_name or self.username


@dataclass(frozen=True)
class LoginResult:
    user_id: int | None
    locked_seconds: int = 0
    language: str | None = None  # the account's UI language, if its clerk chose one

    @property
    def ok(self) -> bool:
        return self.user_id is not None


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def check_password_policy(username: str, password: str) -> None:
    """Refuse empty, short, trivial or username-derived passwords with a readable message."""
    if not password or not password.strip():
        raise UsageError("Das Passwort darf nicht leer sein.")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise UsageError(f"Das Passwort muss mindestens {MIN_PASSWORD_LENGTH} Zeichen haben.")
    if len(set(password)) < 5:
        raise UsageError("Das Passwort ist zu einfach (zu wenige verschiedene Zeichen).")
    lowered = password.lower()
    if lowered in COMMON_PASSWORDS or username.lower() in lowered:
        raise UsageError("Das Passwort ist zu leicht zu erraten.")


def add_user(
    ctx: AppContext, username: str, password: str, *, role: str = "clerk", display_name: str = ""
) -> int:
    """Create a clerk or admin; refuses weak passwords and duplicate usernames."""
    username = username.strip()
    if not username or len(username) > 100 or any(c.isspace() for c in username):
        raise UsageError("Benutzername muss 1–100 Zeichen ohne Leerzeichen haben.")
    if role not in ROLES:
        raise UsageError(f"Unbekannte Rolle {role!r} (erlaubt: {', '.join(ROLES)}).")
    check_password_policy(username, password)
    with transaction(ctx.sessions) as session:
        if _find_user(session, username) is not None:
            raise UsageError(f"Benutzer {username!r} gibt es schon.")
        user = User(
            username=username,
            display_name=display_name,
            password_hash=_hasher.hash(password),
            role=role,
            created_at=ctx.clock(),
        )
        session.add(user)
        session.flush()
        _audit(session, ctx, actor="cli", action="user_added", user_id=user.id)
        return user.id


def _find_user(session: Session, username: str) -> User | None:
    return session.scalars(select(User).where(User.username == username)).one_or_none()


def _dummy() -> str:
    global _dummy_hash
    if _dummy_hash is None:
        _dummy_hash = _hasher.hash(secrets.token_urlsafe(16))
    return _dummy_hash


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def authenticate(ctx: AppContext, username: str, password: str, *, ip: str) -> LoginResult:
    """Check a login. Unknown users cost one argon2 verification too (no timing oracle)."""
    username = username.strip()[:100]
    now = ctx.clock()
    with transaction(ctx.sessions) as session:
        locked = max(
            _locked_seconds(session, username, ip, now), _address_locked_seconds(session, ip, now)
        )
        if locked:
            _audit(session, ctx, actor=username or "-", action="login_locked", ip=ip)
            return LoginResult(None, locked_seconds=locked)
        user = _find_user(session, username) if username else None
        if user is None or not user.active:
            _verify(_dummy(), password)
            ok = False
        else:
            ok = _verify(user.password_hash, password)
        if not ok or user is None:
            _audit(session, ctx, actor=username or "-", action="login_failed", ip=ip)
            return LoginResult(None)
        if _hasher.check_needs_rehash(user.password_hash):
            user.password_hash = _hasher.hash(password)
        _audit(session, ctx, actor=username, action="login", user_id=user.id, ip=ip)
        return LoginResult(user.id, language=user.language)


def _locked_seconds(session: Session, username: str, ip: str, now: dt.datetime) -> int:
    """Seconds until the next try is allowed for this username + address (0 = allowed)."""
    rows = session.scalars(
        select(AuditLog)
        .where(
            AuditLog.entity == "login",
            AuditLog.actor == (username or "-"),
            AuditLog.at > now - FAILURE_WINDOW,
        )
        .order_by(AuditLog.at, AuditLog.id)
    ).all()
    failures: list[dt.datetime] = []
    for row in rows:
        if row.action == "login":
            failures = []
        elif row.action == "login_failed" and row.details.get("ip") == ip:
            failures.append(row.at)
    return _wait(failures, FREE_FAILURES, now)


def _address_locked_seconds(session: Session, ip: str, now: dt.datetime) -> int:
    """Seconds until the next try from this address, whatever the user name (0 = allowed)."""
    rows = session.execute(
        select(AuditLog.at, AuditLog.details)
        .where(
            AuditLog.entity == "login",
            AuditLog.action == "login_failed",
            AuditLog.at > now - FAILURE_WINDOW,
        )
        .order_by(AuditLog.at, AuditLog.id)
    ).all()
    failures = [at for at, details in rows if (details or {}).get("ip") == ip]
    return _wait(failures, FREE_FAILURES_PER_ADDRESS, now)


def _wait(failures: list[dt.datetime], free: int, now: dt.datetime) -> int:
    if len(failures) < free:
        return 0
    wait = min(BASE_LOCK_SECONDS * 2 ** (len(failures) - free), MAX_LOCK_SECONDS)
    remaining = (failures[-1] + dt.timedelta(seconds=wait) - now).total_seconds()
    return max(0, int(remaining + 0.999))


def _audit(
    session: Session,
    ctx: AppContext,
    *,
    actor: str,
    action: str,
    user_id: int | None = None,
    ip: str | None = None,
) -> None:
    entity = "login" if action.startswith("login") or action == "logout" else "user"
    details = {"ip": ip} if ip is not None else {}
    session.add(
        AuditLog(
            at=ctx.clock(),
            actor=actor,
            action=action,
            entity=entity,
            entity_id=user_id,
            details=details,
        )
    )


def create_session(ctx: AppContext, user_id: int) -> str:
    """Start a session for `user_id`; returns the cookie token (only its hash is stored)."""
    token = secrets.token_urlsafe(32)
    now = ctx.clock()
    with transaction(ctx.sessions) as session:
        session.execute(delete(UserSession).where(UserSession.expires_at <= now))
        session.add(
            UserSession(
                token_hash=hash_token(token),
                user_id=user_id,
                csrf_token=secrets.token_urlsafe(32),
                expires_at=now + dt.timedelta(hours=ctx.settings.session_hours),
                created_at=now,
            )
        )
    return token


def load_session(ctx: AppContext, token: str | None) -> Clerk | None:
    """The clerk behind a cookie token, or None when missing, unknown, expired or deactivated."""
    if not token or len(token) > 200:
        return None
    with ctx.sessions() as session:
        row = session.scalars(
            select(UserSession).where(UserSession.token_hash == hash_token(token))
        ).one_or_none()
        if row is None or row.expires_at <= ctx.clock():
            return None
        user = row.user
        if not user.active or user.role not in ROLES:
            return None
        return Clerk(
            user_id=user.id,
            username=user.username,
            display_name=user.display_name,
            role=user.role,
            csrf_token=row.csrf_token,
            session_id=row.id,
            language=user.language,
        )


def remember_language(ctx: AppContext, clerk: Clerk, language: str) -> None:
    """Keep the clerk's choice of UI language with the account (another browser, another day)."""
    with transaction(ctx.sessions) as session:
        session.execute(update(User).where(User.id == clerk.user_id).values(language=language))


def end_session(ctx: AppContext, clerk: Clerk) -> None:
    with transaction(ctx.sessions) as session:
        session.execute(delete(UserSession).where(UserSession.id == clerk.session_id))
        _audit(session, ctx, actor=clerk.username, action="logout", user_id=clerk.user_id)


def csrf_matches(expected: str, given: str | None) -> bool:
    return bool(given) and secrets.compare_digest(expected.encode(), (given or "").encode())
