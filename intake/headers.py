"""Defensive header access: broken encodings, injection attempts, garbage become plain strings."""

from __future__ import annotations

import re
from email.headerregistry import Address
from email.message import Message
from email.utils import getaddresses

MAX_HEADER_CHARS = 998
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]+")
# bidi embeddings, overrides and isolates: 'rechnung\u202egpj.exe' would show as 'rechnungexe.jpg'
_BIDI = re.compile(r"[\u202a-\u202e\u2066-\u2069]")
_ADDRESS = re.compile(
    r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.\-]{1,64}@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)+$"
)


def clean(value: str, *, limit: int = MAX_HEADER_CHARS) -> str:
    """One line, no control characters (CR/LF header injection) and no bidi overrides (a name
    that shows other than it is), bounded length."""
    return _BIDI.sub("", _CONTROL.sub(" ", value)).strip()[:limit]


def header(msg: Message, name: str, *, limit: int = MAX_HEADER_CHARS) -> str:
    """The first `name` header as a clean string; '' when missing or unparseable."""
    try:
        value = msg.get(name)
        text = "" if value is None else str(value)
    except Exception:  # the header parser raises odd errors on hostile input
        text = _raw_header(msg, name)
    return clean(text, limit=limit)


def _raw_header(msg: Message, name: str) -> str:
    try:
        for key, value in msg.raw_items():
            if key.lower() == name.lower():
                return str(value).encode("ascii", "replace").decode("ascii")
    except Exception:  # noqa: S110 - nothing better to return than ''
        pass
    return ""


def valid_address(value: str | None) -> str | None:
    """A plain addr-spec we are willing to reply to, lower-cased domain; None otherwise."""
    if not value:
        return None
    value = value.strip()
    if len(value) > 320 or not _ADDRESS.match(value):
        return None
    local, domain = value.rsplit("@", 1)
    return f"{local}@{domain.lower()}"


def first_address(msg: Message, name: str) -> tuple[str | None, str | None]:
    """(address, display name) of the first mailbox in an address header, validated."""
    try:
        value = msg.get(name)
        addresses = getattr(value, "addresses", None)
        if addresses:
            first: Address = addresses[0]
            return valid_address(first.addr_spec), clean(first.display_name, limit=200) or None
    except Exception:  # noqa: S110 - fall back to the lenient parser below
        pass
    raw = _raw_header(msg, name) or header(msg, name)
    pairs = getaddresses([raw])
    if not pairs:
        return None, None
    display, addr = pairs[0]
    return valid_address(addr), clean(display, limit=200) or None


def sender_of(msg: Message) -> tuple[str | None, str | None]:
    """From, falling back to Reply-To (then Sender) when From is missing or not an address."""
    for name in ("From", "Reply-To", "Sender"):
        address, display = first_address(msg, name)
        if address:
            return address, display
    return None, None
