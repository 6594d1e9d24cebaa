"""Read side of the review UI: plain view objects for the queue, a task, the ledger and a meter."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from core.account_moves import account_on
from core.context import BERLIN
from core.formatting import format_number
from core.models import InboundMessage, Meter, OcrResult, Photo, ReviewTask, shown_on
from core.types import Display
from review_ui.counter_view import CounterGeometry, geometry_of

MESSAGE_STATUSES = (
    "failed",
    "rejected",
    "review",
    "accepted",
    "ignored",
    "duplicate",
    "new",
    "processing",
)
PAGE_SIZE = 200


@dataclass(frozen=True)
class QueueRow:
    id: int
    received_at: dt.datetime
    age: str
    sender: str
    subject: str
    reason_codes: list[str]
    proposed_value: Decimal | None
    meter_number: str | None
    unit: str
    decimal_digits: int


@dataclass(frozen=True)
class DigitView:
    char: str
    confidence: float | None
    alternatives: tuple[tuple[str, float], ...] = ()  # other digits OCR considered, likeliest first

    @property
    def level(self) -> str:
        if self.confidence is None:
            return "unknown"
        return "high" if self.confidence >= 0.9 else "mid" if self.confidence >= 0.6 else "low"


@dataclass(frozen=True)
class CandidateView:
    meter_id: int
    number: str
    kind: str
    unit: str
    decimal_digits: int
    account_number: str
    customer_name: str
    why: list[str] = field(default_factory=list)
    display: Display | None = None  # drum | lcd (from master data or the kind); None: unknown


@dataclass(frozen=True)
class Hint:
    """One line under "Hinweise": `kind` is value_typed | value_photo | value_ocr_alternative |
    ocr_meter_number (translated in the template), `text` is already formatted."""

    kind: str
    text: str
    confidence: float | None


@dataclass
class TaskView:
    task: ReviewTask
    message: InboundMessage
    photos: list[Photo]
    ocr: OcrResult | None
    digits: list[DigitView]
    candidates: list[CandidateView]
    hints: list[Hint]
    counter: CounterGeometry | None = None  # where OCR found the counter (None: not stored)


def format_age(delta: dt.timedelta, lang: str = "de") -> str:
    """'45 Min.', '3 Std.', '2 Tage' (en: '45 min', '3 h', '2 days')."""
    minutes = max(int(delta.total_seconds() // 60), 0)
    if minutes < 60:
        return f"{minutes} Min." if lang == "de" else f"{minutes} min"
    hours = minutes // 60
    if hours < 48:
        return f"{hours} Std." if lang == "de" else f"{hours} h"
    days = hours // 24
    return f"{days} Tage" if lang == "de" else f"{days} days"


def open_tasks(session: Session, now: dt.datetime, *, lang: str = "de") -> list[QueueRow]:
    """Open tasks, oldest mail first."""
    stmt = (
        select(ReviewTask)
        .join(ReviewTask.message)
        .options(joinedload(ReviewTask.message), joinedload(ReviewTask.meter))
        .where(ReviewTask.status == "open")
        .order_by(InboundMessage.received_at, ReviewTask.id)
        .limit(PAGE_SIZE)
    )
    return [_queue_row(task, now, lang) for task in session.scalars(stmt)]


def _queue_row(task: ReviewTask, now: dt.datetime, lang: str) -> QueueRow:
    meter = task.meter
    return QueueRow(
        id=task.id,
        received_at=task.message.received_at,
        age=format_age(now - task.message.received_at, lang),
        sender=task.message.sender or "",
        subject=task.message.subject or "",
        reason_codes=list(task.reason_codes or []),
        proposed_value=task.proposed_value,
        meter_number=meter.number if meter else None,
        unit=meter.unit if meter else "",
        decimal_digits=meter.decimal_digits if meter else 0,
    )


def count_open_tasks(session: Session) -> int:
    from sqlalchemy import func

    stmt = select(func.count()).select_from(ReviewTask).where(ReviewTask.status == "open")
    return int(session.scalar(stmt) or 0)


def task_view(session: Session, task_id: int) -> TaskView | None:
    task = session.get(ReviewTask, task_id)
    if task is None:
        return None
    message = task.message
    photos = list(message.photos)
    photo = task.photo or (photos[0] if photos else None)
    if photo is not None and photo not in photos:
        photos.insert(0, photo)
    ocr = latest_ocr(photo)
    return TaskView(
        task=task,
        message=message,
        photos=photos,
        ocr=ocr,
        digits=_digits(ocr),
        candidates=candidates(session, task),
        hints=_hints(task),
        counter=geometry_of(ocr.details) if ocr is not None and ocr.reading else None,
    )


def latest_ocr(photo: Photo | None) -> OcrResult | None:
    if photo is None or not photo.ocr_results:
        return None
    return max(photo.ocr_results, key=lambda r: (r.created_at, r.id))


def _digits(ocr: OcrResult | None) -> list[DigitView]:
    """Per-digit confidences and alternatives from `OcrResult.details["digits"]` when OCR stored
    them (`[value, confidence, [[digit, probability], ...]]` per digit, or older forms)."""
    if ocr is None:
        return []
    raw = (ocr.details or {}).get("digits")
    if not isinstance(raw, list):
        return []
    shown = (ocr.reading or "") + (ocr.fraction or "")
    views = []
    for index, item in enumerate(raw):
        char, conf = _digit_fields(item, shown[index] if index < len(shown) else "?")
        views.append(DigitView(char, conf, _alternatives(item, char)))
    return views


def _alternatives(item: Any, char: str) -> tuple[tuple[str, float], ...]:
    raw = item.get("alternatives") if isinstance(item, dict) else None
    if isinstance(item, list) and len(item) >= 3:
        raw = item[2]
    out = []
    for pair in raw if isinstance(raw, list) else []:
        if isinstance(pair, list) and len(pair) == 2 and isinstance(pair[1], int | float):
            digit = str(pair[0])
            if len(digit) == 1 and digit.isdigit() and digit != char:
                out.append((digit, float(pair[1])))
    return tuple(out)


def _digit_fields(item: Any, fallback: str) -> tuple[str, float | None]:
    if isinstance(item, list) and len(item) >= 2:  # [value, confidence, alternatives]
        conf = item[1]
        return fallback, float(conf) if isinstance(conf, int | float) else None
    if isinstance(item, dict):
        value = item.get("value", item.get("digit", item.get("char")))
        conf = item.get("confidence", item.get("conf"))
        char = fallback if value is None else str(value)
        return char, float(conf) if isinstance(conf, int | float) else None
    if isinstance(item, int | float):
        return fallback, float(item)
    return fallback, None


def candidates(session: Session, task: ReviewTask) -> list[CandidateView]:
    """The task's candidate meters (its proposed meter first), as stored by matching."""
    ids: list[int] = []
    why: dict[int, list[str]] = {}
    if task.meter_id is not None:
        ids.append(task.meter_id)
    for item in task.candidates or []:
        meter_id = item.get("meter_id") if isinstance(item, dict) else None
        if isinstance(meter_id, int):
            if meter_id not in ids:
                ids.append(meter_id)
            why[meter_id] = [str(w) for w in item.get("why", []) or []]
    # the account each meter had when the mail came (a meter moved since shows the tenant before)
    day = task.message.received_at.astimezone(BERLIN).date()
    return [view for i in ids if (view := meter_candidate(session, i, why.get(i, []), on=day))]


def meter_candidate(
    session: Session, meter_id: int, why: list[str], *, on: dt.date | None = None
) -> CandidateView | None:
    """The meter with its account and customer: now, or on day `on`."""
    meter = session.get(Meter, meter_id)
    if meter is None:
        return None
    account = (on and account_on(session, meter_id, on)) or meter.account
    return CandidateView(
        meter_id=meter.id,
        number=meter.number,
        kind=meter.kind,
        unit=meter.unit,
        decimal_digits=meter.decimal_digits,
        account_number=account.number,
        customer_name=account.customer.name,
        why=why,
        display=shown_on(meter.kind, meter.display),
    )


def _hints(task: ReviewTask) -> list[Hint]:
    """What matching kept besides meters: typed values, OCR alternatives, meter numbers read."""
    hints: list[Hint] = []
    for item in task.candidates or []:
        if not isinstance(item, dict):
            continue
        kind = item.get("kind")
        if kind == "value" and item.get("value") is not None:
            hints.append(_value_hint(item))
        elif kind == "ocr_meter_number" and item.get("meter_number"):
            hints.append(Hint("ocr_meter_number", str(item["meter_number"]), None))
    return hints


def _value_hint(item: dict[str, Any]) -> Hint:
    try:
        value = Decimal(str(item["value"]))
        places = max(-int(value.normalize().as_tuple().exponent), 0)
        shown = format_number(value, places)
    except (InvalidOperation, ValueError, TypeError):
        shown = str(item["value"])
    confidence = item.get("confidence")
    return Hint(
        f"value_{item.get('source') or 'photo'}",
        shown,
        float(confidence) if isinstance(confidence, int | float) else None,
    )


def ledger(
    session: Session, status: str | None, *, offset: int = 0, message_id: int | None = None
) -> list[tuple[InboundMessage, int | None, str | None]]:
    """Mails (newest first) with their review task id and decision, optionally of one status
    (or just the mail `message_id`, which the outbox links to)."""
    stmt = (
        select(InboundMessage, ReviewTask.id, ReviewTask.decision)
        .outerjoin(ReviewTask, ReviewTask.inbound_message_id == InboundMessage.id)
        .order_by(InboundMessage.received_at.desc(), InboundMessage.id.desc())
        .offset(offset)
        .limit(PAGE_SIZE)
    )
    if status:
        stmt = stmt.where(InboundMessage.status == status)
    if message_id is not None:
        stmt = stmt.where(InboundMessage.id == message_id)
    return [(row[0], row[1], row[2]) for row in session.execute(stmt)]
