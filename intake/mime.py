"""Raw mail bytes into a `Submission`: images, text, sender, hints, loop protection.

Defensive by design: broken MIME, unknown charsets, missing headers and odd part trees give a
`Submission` with what could be read and the refused parts in `rejected_parts`; nothing raises.
"""

from __future__ import annotations

import datetime as dt
import email
import hashlib
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage, Message

from core.types import ImageAttachment, Submission
from intake.autoreply import (
    bounce_references,
    bounced_recipients,
    is_auto_reply,
    is_bounce,
    reply_references,
)
from intake.headers import clean, header, sender_of
from intake.hints import extract_hints
from intake.html_text import html_to_text

IMAGE_TYPES = {
    "image/jpeg": "image/jpeg",
    "image/jpg": "image/jpeg",
    "image/pjpeg": "image/jpeg",
    "image/png": "image/png",
    "image/heic": "image/heic",
    "image/heif": "image/heif",
    "image/heic-sequence": "image/heic",
}
IMAGE_EXTENSIONS = {
    "jpg": "image/jpeg", "jpeg": "image/jpeg", "png": "image/png", "heic": "image/heic",
    "heif": "image/heif",
}  # fmt: skip
_HEIF_BRANDS = (b"heic", b"heix", b"hevc", b"heim", b"heis", b"mif1", b"msf1")
MAX_TEXT_CHARS = 100_000


@dataclass(frozen=True)
class MimeLimits:
    max_images: int = 10
    max_image_bytes: int = 25 * 1024 * 1024
    max_parts: int = 200


@dataclass(frozen=True)
class Envelope:
    """What the ledger stores about a mail before processing, plus its content digest."""

    message_id: str | None
    sender: str | None
    subject: str
    content_digest: str


@dataclass
class _Parts:
    images: list[ImageAttachment] = field(default_factory=list)
    plain: list[str] = field(default_factory=list)
    html: list[str] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)


def load(raw: bytes) -> EmailMessage:
    """Parse leniently; even b'' gives an (empty) message."""
    msg = email.message_from_bytes(raw, policy=policy.default)
    assert isinstance(msg, EmailMessage)
    return msg


def sniff_image(data: bytes) -> str | None:
    """Content type from magic bytes: JPEG, PNG, HEIC/HEIF."""
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data[4:8] == b"ftyp" and data[8:12] in _HEIF_BRANDS:
        return "image/heic"
    return None


def _filename(part: Message) -> str | None:
    try:
        name = part.get_filename()
    except Exception:
        return None
    if not name:
        return None
    return clean(name, limit=255) or None


def _decoded(part: Message) -> bytes:
    try:
        data = part.get_payload(decode=True)
    except Exception:
        return b""
    return data if isinstance(data, bytes) else b""


def _text(part: Message) -> str:
    """Text of a text/* part; unknown or lying charsets fall back to UTF-8 with replacement."""
    data = _decoded(part)
    charset = part.get_content_charset() or "utf-8"
    try:
        return data.decode(charset, errors="replace")
    except LookupError:
        return data.decode("utf-8", errors="replace")


def _image_type(part: Message, name: str | None, data: bytes) -> str | None:
    declared = part.get_content_type()
    if declared in IMAGE_TYPES:
        return IMAGE_TYPES[declared]
    if declared == "application/octet-stream" or declared.startswith("image/"):
        extension = (name or "").rsplit(".", 1)[-1].lower() if name and "." in name else ""
        sniffed = sniff_image(data)
        if sniffed or (declared == "application/octet-stream" and extension in IMAGE_EXTENSIONS):
            return sniffed or IMAGE_EXTENSIONS[extension]
    return None


def _take_leaf(part: Message, parts: _Parts, limits: MimeLimits) -> None:
    ctype = part.get_content_type()
    name = _filename(part)
    attached = part.get_content_disposition() == "attachment"
    if ctype in ("text/plain", "text/html") and not attached:
        (parts.plain if ctype == "text/plain" else parts.html).append(_text(part))
        return
    if ctype in ("message/delivery-status", "text/rfc822-headers"):
        return
    data = _decoded(part)
    label = name or ctype
    image_type = _image_type(part, name, data)
    if image_type is None:
        if attached or name:
            parts.rejected.append(f"{label}: Dateityp {ctype} wird nicht unterstützt")
        return
    if not data:
        parts.rejected.append(f"{label}: leer oder nicht lesbar")
    elif len(data) > limits.max_image_bytes:
        parts.rejected.append(f"{label}: zu groß ({len(data) // 1_000_000} MB)")
    elif len(parts.images) >= limits.max_images:
        parts.rejected.append(f"{label}: mehr als {limits.max_images} Bilder")
    else:
        parts.images.append(ImageAttachment(filename=name, content_type=image_type, data=data))


def _collect(msg: EmailMessage, limits: MimeLimits) -> _Parts:
    parts = _Parts()
    try:
        for count, part in enumerate(msg.walk()):
            if count >= limits.max_parts:
                parts.rejected.append(f"mehr als {limits.max_parts} MIME-Teile; Rest ignoriert")
                break
            if not part.is_multipart():
                _take_leaf(part, parts, limits)
    except Exception as exc:  # a broken tree: keep what we have
        parts.rejected.append(f"MIME-Struktur defekt: {type(exc).__name__}")
    return parts


def _body_text(parts: _Parts) -> str:
    plain = "\n".join(t for t in parts.plain if t.strip())
    text = plain or "\n".join(html_to_text(h) for h in parts.html)
    return clean_body(text)


def clean_body(text: str) -> str:
    """Body text without NULs and other control characters except newlines and tabs."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return "".join(c for c in text if c in "\n\t" or c >= " ")[:MAX_TEXT_CHARS].strip()


def parse_message(
    raw: bytes,
    *,
    ledger_id: int | None,
    received_at: dt.datetime,
    limits: MimeLimits | None = None,
) -> Submission:
    """Turn raw RFC 5322 bytes into a `Submission`; never raises on bad input."""
    msg = load(raw)
    subject = header(msg, "Subject", limit=500)
    sender, sender_name = sender_of(msg)
    bounce = is_bounce(msg, sender=sender)
    parts = _Parts() if bounce else _collect(msg, limits or MimeLimits())
    body = _body_text(parts)
    return Submission(
        ledger_id=ledger_id,
        sender=sender,
        sender_name=sender_name,
        subject=subject,
        body_text=body,
        message_id=header(msg, "Message-ID") or None,
        received_at=received_at,
        images=tuple(parts.images),
        hints=extract_hints(subject, body),
        is_auto_reply=bounce or is_auto_reply(msg, subject=subject),
        is_bounce=bounce,
        bounced_recipients=bounced_recipients(msg) if bounce else (),
        bounce_references=bounce_references(msg) if bounce else (),
        rejected_parts=tuple(parts.rejected),
        references=reply_references(msg),
    )


def content_digest(submission: Submission) -> str:
    """Hash of what the customer sent (sender, subject, body, images), not of transport headers."""
    digest = hashlib.sha256()
    for piece in (submission.sender or "", submission.subject, submission.body_text.strip()):
        digest.update(piece.encode("utf-8", "replace") + b"\0")
    for image in submission.images:
        digest.update(image.sha256.encode() + b"\0")
    return digest.hexdigest()


def envelope(raw: bytes, *, received_at: dt.datetime) -> Envelope:
    submission = parse_message(raw, ledger_id=None, received_at=received_at)
    return Envelope(
        message_id=submission.message_id,
        sender=submission.sender,
        subject=submission.subject,
        content_digest=content_digest(submission),
    )
