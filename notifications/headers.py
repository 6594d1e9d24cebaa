"""Header hygiene: recipient checks, CR/LF stripping, deterministic Message-IDs."""

from __future__ import annotations

import hashlib
import re
from email.utils import parseaddr

from notifications.errors import InvalidRecipientError

_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
ADDRESS_RE = re.compile(rf"{_ATOM}(?:\.{_ATOM})*@(?:{_LABEL}\.)+[A-Za-z][A-Za-z0-9-]*[A-Za-z0-9]")
MAX_ADDRESS_LENGTH = 254
FALLBACK_DOMAIN = "meter-intake.invalid"


def check_recipient(recipient: str) -> str:
    """Return the bare address, or raise `InvalidRecipientError`.

    Only a plain ASCII `local@domain.tld` is accepted (no display name, no comments, no SMTPUTF8).
    Any CR, LF or NUL is refused outright: that is a header-injection attempt.
    """
    if any(ch in recipient for ch in "\r\n\0"):
        raise InvalidRecipientError(
            f"Empfängeradresse enthält einen Zeilenumbruch (Header-Injection): {recipient!r}"
        )
    address = recipient.strip()
    if len(address) > MAX_ADDRESS_LENGTH or not ADDRESS_RE.fullmatch(address):
        raise InvalidRecipientError(f"ungültige Empfängeradresse: {recipient!r}")
    return address


def is_valid_recipient(recipient: str | None) -> bool:
    if not recipient:
        return False
    try:
        check_recipient(recipient)
    except InvalidRecipientError:
        return False
    return True


def clean_header_text(value: str) -> str:
    """Collapse all whitespace, including CR/LF, to single spaces: safe for a header."""
    return re.sub(r"\s+", " ", value.replace("\0", " ")).strip()


def clean_message_id(value: str | None) -> str | None:
    """A Message-ID usable in In-Reply-To/References: one `<…>` token, or None."""
    if not value:
        return None
    token = re.sub(r"[\s\0]+", "", value)
    token = token.strip("<>")
    if not token or len(token) > 990 or any(ch in token for ch in "<>"):
        return None
    return f"<{token}>"


def make_message_id(idempotency_key: str, mail_from: str) -> str:
    """Deterministic Message-ID: the same outbox row always yields the same id."""
    digest = hashlib.sha256(idempotency_key.encode("utf-8")).hexdigest()[:32]
    return f"<mi.{digest}@{sender_domain(mail_from)}>"


_OUR_ID = re.compile(r"<mi\.([0-9a-f]{32})@([^<>\s]+)>")
_VERP = re.compile(r"\+bounce-([0-9a-f]{32})@([a-z0-9.-]+)", re.IGNORECASE)


def verp_address(mail_from: str, message_id: str) -> str | None:
    """The envelope sender for one of our mails: `local+bounce-<id>@domain` (VERP), so a bounce
    names the mail it is about even when it quotes nothing of it. None for a foreign id."""
    match = _OUR_ID.fullmatch(message_id.strip())
    _name, address = parseaddr(mail_from)
    local, _at, domain = address.rpartition("@")
    if match is None or not local or not domain:
        return None
    return f"{local.split('+')[0]}+bounce-{match.group(1)}@{domain}"


def message_ids_from_verp(text: str) -> tuple[str, ...]:
    """Our Message-IDs named by VERP addresses in `text` (a bounce's recipient headers)."""
    return tuple(f"<mi.{token.lower()}@{domain.lower()}>" for token, domain in _VERP.findall(text))


def sender_domain(mail_from: str) -> str:
    _name, address = parseaddr(mail_from)
    domain = address.rpartition("@")[2].strip().lower()
    return domain if re.fullmatch(rf"(?:{_LABEL}\.)*{_LABEL}", domain) else FALLBACK_DOMAIN
