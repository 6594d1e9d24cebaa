"""Unsubscribing from reading reminders (RFC 2369 `List-Unsubscribe`, RFC 8058 one-click).

Every campaign mail carries a link with a token that names the customer and is signed with the
site's key (HMAC-SHA256), so nobody can unsubscribe someone else by guessing numbers. The token
never expires: a customer may click an old reminder. Replies to the customer's own mails
(confirmations, requests for a clearer photo) are not affected by an opt-out.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import logging
import os
import secrets
from pathlib import Path

from sqlalchemy.orm import Session

from core.models import Customer
from core.settings import Settings

log = logging.getLogger(__name__)

ONE_CLICK_BODY = "List-Unsubscribe=One-Click"  # RFC 8058 section 3.1
PATH = "/abmelden"
_KEY_FILE = "unsubscribe.key"
_MAC_BYTES = 16


def signing_key(settings: Settings) -> bytes:
    """The configured secret, or a random key created once in the var dir (mode 0600)."""
    if settings.unsubscribe_secret:
        return settings.unsubscribe_secret.encode("utf-8")
    path = Path(settings.var_dir) / _KEY_FILE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(secrets.token_hex(32))
    return path.read_text(encoding="ascii").strip().encode("ascii")


def make_token(customer_id: int, key: bytes) -> str:
    payload = str(customer_id).encode("ascii")
    return _b64(payload) + "." + _b64(_mac(payload, key))


def customer_of(token: str, key: bytes) -> int | None:
    """The customer id a token was made for, or None when it is malformed or forged."""
    try:
        payload_part, mac_part = token.split(".")
        payload = base64.urlsafe_b64decode(payload_part + "=" * (-len(payload_part) % 4))
        mac = base64.urlsafe_b64decode(mac_part + "=" * (-len(mac_part) % 4))
    except ValueError:
        return None
    if not hmac.compare_digest(mac, _mac(payload, key)) or not payload.isdigit():
        return None
    return int(payload)


def unsubscribe_url(settings: Settings, customer_id: int) -> str | None:
    """The one-click link for `customer_id`'s reminders; None without an https base URL
    (RFC 8058 requires https, and a link to a loopback address helps nobody)."""
    base = settings.public_base_url.rstrip("/")
    if not base.startswith("https://"):
        return None
    return f"{base}{PATH}/{make_token(customer_id, signing_key(settings))}"


def opt_out(session: Session, customer_id: int, *, now: dt.datetime) -> bool:
    """Record the opt-out (the first time is kept). True when the customer exists."""
    customer = session.get(Customer, customer_id, with_for_update=True)
    if customer is None:
        return False
    if customer.campaign_opt_out_at is None:
        customer.campaign_opt_out_at = now
        log.info("customer %d unsubscribed from reading reminders", customer_id)
    return True


def _mac(payload: bytes, key: bytes) -> bytes:
    return hmac.new(key, b"unsubscribe:" + payload, hashlib.sha256).digest()[:_MAC_BYTES]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")
