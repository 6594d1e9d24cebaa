"""Plain dataclasses that stages hand each other. No ORM rows or IMAP objects cross a stage."""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

Display = Literal["drum", "lcd"]  # drum counter (black and red drums) or 7-segment display


@dataclass(frozen=True)
class ImageAttachment:
    filename: str | None
    content_type: str
    data: bytes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


@dataclass(frozen=True)
class TextHints:
    """What the customer typed: account numbers, meter numbers, readings (German formats)."""

    account_numbers: tuple[str, ...] = ()
    meter_numbers: tuple[str, ...] = ()
    readings: tuple[Decimal, ...] = ()


@dataclass(frozen=True)
class Submission:
    """One customer mail after MIME parsing."""

    ledger_id: int | None
    sender: str | None
    sender_name: str | None
    subject: str
    body_text: str
    message_id: str | None
    received_at: dt.datetime
    images: tuple[ImageAttachment, ...] = ()
    hints: TextHints = field(default_factory=TextHints)
    is_auto_reply: bool = False
    is_bounce: bool = False
    bounced_recipients: tuple[str, ...] = ()
    bounce_references: tuple[str, ...] = ()  # Message-IDs of our mails the bounce quotes
    rejected_parts: tuple[str, ...] = ()  # attachments we refused, with why (for clerks)
    references: tuple[str, ...] = ()  # Message-IDs it replies to (In-Reply-To, References)


@dataclass(frozen=True)
class DigitRead:
    """One digit position: best value, its confidence and ranked alternatives."""

    value: int | None
    confidence: float
    alternatives: tuple[tuple[int, float], ...] = ()


@dataclass(frozen=True)
class MeterHint:
    """What master data says about the meter a photo shows, where the sender has one meter."""

    integer_digits: int | None = None
    display: Display | None = None  # None: not known (either kind may be on the photo)


@dataclass(frozen=True)
class MeterRead:
    """What OCR made of one photo. `reading` keeps leading zeros as shown."""

    reading: str | None
    fraction: str | None = None
    confidence: float = 0.0
    accepted: bool = False
    meter_number: str | None = None
    meter_number_candidates: tuple[str, ...] = ()
    reason: str | None = None
    seconds: float = 0.0
    display: Display | None = None
    digits: tuple[DigitRead, ...] = ()

    def value(self) -> Decimal | None:
        if self.reading is None:
            return None
        return Decimal(f"{int(self.reading)}.{self.fraction}" if self.fraction else self.reading)

    def as_json(self, file: str) -> dict[str, Any]:
        record: dict[str, Any] = {
            "file": file,
            "reading": self.reading,
            "fraction": self.fraction,
            "confidence": round(self.confidence, 4),
            "accepted": self.accepted,
            "meter_number": self.meter_number,
            "seconds": round(self.seconds, 4),
        }
        if self.reason:
            record["reason"] = self.reason
        return record


@dataclass(frozen=True)
class MeterCandidate:
    meter_id: int
    meter_number: str
    account_number: str
    why: tuple[str, ...] = ()


@dataclass(frozen=True)
class MatchResult:
    """Which meter a submission belongs to, and the value to book."""

    customer_id: int | None
    meter: MeterCandidate | None
    candidates: tuple[MeterCandidate, ...] = ()
    value: Decimal | None = None
    value_source: Literal["photo", "typed"] | None = None
    reason_codes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Decision:
    outcome: Literal["accept", "review", "reject", "ignore"]
    reason_codes: tuple[str, ...] = ()
    value: Decimal | None = None
    meter_id: int | None = None
