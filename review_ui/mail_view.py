"""The customer's mail as the clerk should see it: the sender's display name and the plain text
body (from the raw mail in the blob store; shown escaped by the template, never as HTML)."""

from __future__ import annotations

import email
import logging
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.utils import parseaddr

from core.blobstore import BlobStorage
from core.errors import BlobStoreError

log = logging.getLogger(__name__)
MAX_TEXT = 4000


@dataclass(frozen=True)
class MailText:
    display_name: str
    body: str


def mail_text(blobs: BlobStorage, sha256: str) -> MailText | None:
    """None when the raw mail is not stored (purged, test data), the store cannot be reached or
    the mail cannot be parsed: the page shows the ledger's fields then."""
    try:
        if not sha256 or not blobs.exists(sha256):
            return None
        message = email.message_from_bytes(blobs.get(sha256), policy=policy.default)
        name = parseaddr(str(message.get("From", "")))[0]
        body = _plain_body(message) if isinstance(message, EmailMessage) else ""
    except (ValueError, LookupError, TypeError, BlobStoreError, FileNotFoundError) as exc:
        log.warning("mail %s cannot be shown: %s", sha256[:12], exc)
        return None
    text = body.strip()
    return MailText(name, text[:MAX_TEXT] + ("…" if len(text) > MAX_TEXT else ""))


def _plain_body(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    if part is None:
        return ""
    content = part.get_content()
    return content if isinstance(content, str) else ""
