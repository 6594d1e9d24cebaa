"""Plain dataclasses that stages hand each other. No ORM rows or IMAP objects cross a stage."""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

Display = Literal["drum", "lcd"]  # drum counter (black and red drums) or 7-segment display
Quad = tuple[tuple[float, float], ...]  # four (x, y) corners of a box on a photo, in pixels


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
    # per reading, the unit written right after it (kWh, MWh, GJ, m3); None where none was
    reading_units: tuple[str | None, ...] = ()


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
    # our mail server's SPF/DKIM/DMARC verdict on the From (intake/sender_auth.py): pass, fail,
    # none, missing; None when not checked
    sender_check: str | None = None


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
    decimal_digits: int | None = None  # its decimal drums or digits; None: not known


@dataclass(frozen=True)
class DigitCountHypothesis:
    """A photo read without its digit count: the read under one count (`MeterRead`)."""

    integer_digits: int
    reading: str | None
    fraction: str | None = None
    confidence: float = 0.0  # as if master data gave this count
    accepted: bool = False  # ... and accepted so
    evidence: float = 0.0  # the count's share of what the drum window shows (0..1)
    reason: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "integer_digits": self.integer_digits,
            "display": "drum",
            "reading": self.reading,
            "fraction": self.fraction,
            "confidence": round(self.confidence, 4),
            "accepted": self.accepted,
            "evidence": round(self.evidence, 4),
        } | ({"reason": self.reason} if self.reason else {})


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
    # where the chosen read is on the EXIF-upright photo (pixels): the counter and each digit
    # (integer then decimals) as four corners, top left, top right, bottom right, bottom left
    # as the digits read (a counter upside down on the photo has its top left at the bottom
    # right); empty when not known
    counter_box: Quad = ()
    digit_boxes: tuple[Quad, ...] = ()
    obis: str | None = None  # register code a display shows beside the value ("1.8.0")
    unit: str | None = None  # unit a display shows ("kWh", "MWh", "GJ", "m³")
    # what a drum counter's face says of the meter's kind: the unit printed after the drums
    # ("kWh", "m³"; None: none read) and how many pointer dials sit around them (None: not
    # looked for, as on a display)
    printed_unit: str | None = None
    dials: int | None = None
    # read without a digit count: the read under each count, surest first (the first is this)
    digit_count_hypotheses: tuple[DigitCountHypothesis, ...] = ()

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
            "obis": self.obis,
            "unit": self.unit,
            "printed_unit": self.printed_unit,
            "dials": self.dials,
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
    items: tuple[ReadingItem, ...] = ()  # one per photo (and register); empty: the old single path


def decimal_text(value: Decimal | None) -> str | None:
    """A decimal for JSON: a string without trailing zeros ('150.0000' -> '150')."""
    return None if value is None else format(value.normalize(), "f")


@dataclass(frozen=True)
class MeterProfile:
    """A meter a photo may show, as the decision needs it (master data, no ORM row)."""

    meter_id: int
    number: str
    account_number: str
    customer_id: int
    kind: str  # electricity | gas | water | heat
    unit: str
    integer_digits: int
    decimal_digits: int
    display: Display | None  # as shown_on() gives it: None when not known
    registers: tuple[str, ...] = ("1.8.0",)

    @property
    def hint(self) -> MeterHint:
        return MeterHint(self.integer_digits, self.display, self.decimal_digits)


@dataclass(frozen=True)
class Expectation:
    """What a register's next reading should be, from its own history (values in its unit).

    `low`/`high` bound the reading value on `read_on`; None where nothing bounds it (no earlier
    reading). `basis`: history (the register's own readings), predecessor (the replaced meter's
    consumption after a meter change), kind_default (one earlier reading: a default rate by meter
    kind), none (no earlier reading at all).
    """

    register: str
    read_on: dt.date
    basis: Literal["history", "predecessor", "kind_default", "none"]
    last_value: Decimal | None = None
    last_read_on: dt.date | None = None
    expected_consumption: Decimal | None = None
    low: Decimal | None = None
    high: Decimal | None = None
    per_day: Decimal | None = None  # the rate the expectation uses (seasonally averaged)
    periods: int = 0  # earlier periods the rate comes from

    @property
    def expected_value(self) -> Decimal | None:
        if self.last_value is None or self.expected_consumption is None:
            return None
        return self.last_value + self.expected_consumption

    def as_json(self) -> dict[str, Any]:
        text = decimal_text
        return {
            "register": self.register,
            "basis": self.basis,
            "last_value": text(self.last_value),
            "last_read_on": self.last_read_on.isoformat() if self.last_read_on else None,
            "read_on": self.read_on.isoformat(),
            "expected_consumption": text(self.expected_consumption),
            "expected_value": text(self.expected_value),
            "low": text(self.low),
            "high": text(self.high),
            "per_day": text(self.per_day),
            "periods": self.periods,
        }


@dataclass(frozen=True)
class Hypothesis:
    """One way of taking one photo: as a reading of `register` of meter `meter_id`.

    `fit`: in_band | out_of_band | unknown (no history to compare) | unreadable.
    `evidence`: codes for what speaks for it; `codes`: reason codes against booking it.
    """

    meter_id: int
    meter_number: str
    register: str
    integer_digits: int
    display: Display | None
    value: Decimal | None
    confidence: float
    ocr_accepted: bool
    fit: Literal["in_band", "out_of_band", "unknown", "unreadable"]
    consumption: Decimal | None = None
    evidence: tuple[str, ...] = ()
    codes: tuple[str, ...] = ()
    expectation: Expectation | None = None
    chosen: bool = False

    def as_json(self) -> dict[str, Any]:
        return {
            "meter_id": self.meter_id,
            "meter_number": self.meter_number,
            "register": self.register,
            "integer_digits": self.integer_digits,
            "display": self.display,
            "value": decimal_text(self.value),
            "confidence": round(self.confidence, 4),
            "ocr_accepted": self.ocr_accepted,
            "fit": self.fit,
            "consumption": decimal_text(self.consumption),
            "evidence": list(self.evidence),
            "codes": list(self.codes),
            "chosen": self.chosen,
            "expectation": self.expectation.as_json() if self.expectation else None,
        }


@dataclass(frozen=True)
class ReadingItem:
    """One photo's (or the typed value's) outcome: book `value` on `register` of `meter_id`,
    or leave it to a clerk with `reason_codes`."""

    photo_index: int | None  # position in Submission.images; None for a typed value
    outcome: Literal["accept", "review"]
    meter_id: int | None
    register: str | None
    value: Decimal | None
    value_source: Literal["photo", "typed"] | None
    reason_codes: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    expectation: Expectation | None = None
    hypotheses: tuple[Hypothesis, ...] = ()
    hint: MeterHint | None = None  # the hypothesis read this item's value comes from

    def as_json(self) -> dict[str, Any]:
        return {
            "photo_index": self.photo_index,
            "outcome": self.outcome,
            "meter_id": self.meter_id,
            "register": self.register,
            "value": decimal_text(self.value),
            "value_source": self.value_source,
            "reason_codes": list(self.reason_codes),
            "notes": list(self.notes),
            "expectation": self.expectation.as_json() if self.expectation else None,
            "hypotheses": [h.as_json() for h in self.hypotheses],
        }
