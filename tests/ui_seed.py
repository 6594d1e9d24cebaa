"""Seed data for the review UI's tests and browser test: a clerk, an admin, meters, an open task,
outbox mails.

Kept in the package (not under tests/) so the in-process tests and the browser test share it.
"""

from __future__ import annotations

import datetime as dt
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from PIL import Image, ImageDraw
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.context import BERLIN, AppContext
from core.db import transaction
from core.models import (
    ContractAccount,
    Customer,
    InboundMessage,
    Meter,
    OcrResult,
    Outbox,
    Photo,
    Reading,
    ReviewTask,
)
from matching.meters import expectation_for
from review_ui.auth import add_user

CLERK = "erika"
CLERK_PASSWORD = "Zaehler-Pruefung-2026"
ADMIN = "bert"
ADMIN_PASSWORD = "Kampagnen-Start-2026"


@dataclass(frozen=True)
class Seeded:
    task_id: int
    meter_id: int
    message_id: int
    photo_id: int
    other_meter_id: int


def meter_photo(reading: str = "012345", fraction: str = "6") -> bytes:
    """A simple PNG of a drum counter (black integer drums, red decimal drum)."""
    img = Image.new("RGB", (640, 360), (228, 230, 226))
    draw = ImageDraw.Draw(img)
    draw.rounded_rectangle((40, 60, 600, 300), radius=24, fill=(40, 44, 52))
    x = 80
    for index, char in enumerate(reading + fraction):
        red = index >= len(reading)
        draw.rectangle((x, 140, x + 56, 220), fill=(170, 20, 20) if red else (15, 15, 15))
        draw.text((x + 20, 165), char, fill=(245, 245, 245), font_size=36)
        x += 66
    draw.text((80, 90), "1ESY1160123456   kWh", fill=(220, 220, 220), font_size=22)
    out = io.BytesIO()
    img.save(out, "PNG")
    return out.getvalue()


def add_clerk(ctx: AppContext, username: str = CLERK, password: str = CLERK_PASSWORD) -> int:
    return add_user(ctx, username, password, display_name="Erika Mustermann")


def add_admin(ctx: AppContext) -> int:
    return add_user(ctx, ADMIN, ADMIN_PASSWORD, role="admin", display_name="Bert Beispiel")


def seed_outbox(
    ctx: AppContext,
    *,
    key: str,
    kind: str = "confirmation",
    status: str = "pending",
    recipient: str = "max1@example.org",
    subject: str = "Ihr Zählerstand ist angekommen",
    message_id: int | None = None,
    last_error: str | None = None,
    attempts: int = 0,
    sent_at: dt.datetime | None = None,
) -> int:
    """One outbox row as `notifications.dispatch` leaves it (pending, sent or failed)."""
    now = ctx.clock()
    with transaction(ctx.sessions) as session:
        row = Outbox(
            kind=kind,
            recipient=recipient,
            language="de",
            subject=subject,
            body_text=f"Guten Tag,\n\nvielen Dank für Ihren Zählerstand.\n\n{subject}\n",
            body_html=f"<p>{subject}</p>",
            idempotency_key=key,
            status=status,
            attempts=attempts,
            next_attempt_at=now - dt.timedelta(minutes=5),
            last_error=last_error,
            sent_at=sent_at,
            inbound_message_id=message_id,
            created_at=now - dt.timedelta(minutes=10),
        )
        session.add(row)
        session.flush()
        return row.id


def seed_task(
    ctx: AppContext,
    *,
    subject: str = "Zählerstand Strom",
    received_at: dt.datetime | None = None,
    photo_bytes: bytes | None = None,
    key: str = "1",
) -> Seeded:
    """A customer with two meters, two imported readings and an open review task."""
    received = received_at or ctx.clock() - dt.timedelta(hours=3)
    with transaction(ctx.sessions) as session:
        customer = Customer(name="Max Mustermann", email=f"max{key}@example.org", language="de")
        account = ContractAccount(number=f"40010020{key}", customer=customer)
        meter = Meter(
            number=f"1ESY116012345{key}",
            account=account,
            kind="electricity",
            unit="kWh",
            integer_digits=6,
            decimal_digits=1,
            display="lcd",
        )
        other = Meter(
            number=f"9GAS00077{key}",
            account=account,
            kind="gas",
            unit="m3",
            integer_digits=5,
            decimal_digits=3,
        )
        session.add_all([meter, other])
        session.flush()
        for day, value in ((dt.date(2025, 11, 3), "10123.4"), (dt.date(2026, 5, 4), "11456.7")):
            session.add(
                Reading(
                    meter_id=meter.id,
                    value=Decimal(value),
                    read_on=day,
                    source="import",
                    accepted_by="import",
                )
            )
        message = _message(session, key, subject, received)
        photo = _photo(ctx, session, message, photo_bytes)
        task = _task(session, message, photo, meter)
        return Seeded(task.id, meter.id, message.id, photo.id, other.id)


def _message(session: Session, key: str, subject: str, received: dt.datetime) -> InboundMessage:
    message = InboundMessage(
        mailbox="maildir",
        source_key=f"maildir:test-{key}",
        message_id=f"<reading-{key}@example.org>",
        sha256="0" * 63 + key[-1],
        sender=f"max{key}@example.org",
        subject=subject,
        received_at=received,
        status="review",
    )
    session.add(message)
    session.flush()
    return message


def _photo(ctx: AppContext, session: Session, message: InboundMessage, data: bytes | None) -> Photo:
    blob = data if data is not None else meter_photo()
    photo = Photo(
        message_id=message.id,
        sha256=ctx.blobs.put(blob),
        filename="zaehler.png",
        content_type="image/png",
        size=len(blob),
    )
    session.add(photo)
    session.flush()
    confidences = [0.99, 0.98, 0.97, 0.95, 0.52, 0.81, 0.9]
    others = [8, 7, 7, 8, 9, 0, 5]  # the runner-up of each digit (the fifth: 9 at 31 %)
    digits = [
        [int(c), conf, [[int(c), conf], [other, round((1 - conf) * 0.65, 4)]]]
        for c, conf, other in zip("0123456", confidences, others, strict=True)
    ]
    session.add(
        OcrResult(
            photo_id=photo.id,
            reading="012345",
            fraction="6",
            confidence=0.52,
            details={"digits": digits},
        )
    )
    return photo


# where `meter_photo` draws its seven drums: x 80 + 66 k, 56 wide, y 140 to 220
PHOTO_COUNTER = ((80.0, 140.0), (532.0, 140.0), (532.0, 220.0), (80.0, 220.0))


def counter_details(corners: Sequence[Sequence[float]], count: int) -> dict[str, Any]:
    """`ocr_result.details` boxes as OCR stores them: the counter's four corners and `count`
    equal digit boxes along it (top left, top right, bottom right, bottom left as read)."""
    tl, tr, br, bl = (tuple(map(float, p)) for p in corners)

    def at(top: float, down: float) -> list[float]:
        x = tl[0] + (tr[0] - tl[0]) * top + (bl[0] - tl[0]) * down
        y = tl[1] + (tr[1] - tl[1]) * top + (bl[1] - tl[1]) * down
        return [round(x, 1), round(y, 1)]

    digits = [
        [at(k / count, 0), at((k + 1) / count, 0), at((k + 1) / count, 1), at(k / count, 1)]
        for k in range(count)
    ]
    return {"counter_box": [list(tl), list(tr), list(br), list(bl)], "digit_boxes": digits}


def add_ocr_details(ctx: AppContext, photo_id: int, extra: dict[str, Any]) -> None:
    """Merge `extra` into the photo's OCR result details (e.g. `counter_details`)."""
    with transaction(ctx.sessions) as session:
        ocr = session.scalars(select(OcrResult).where(OcrResult.photo_id == photo_id)).one()
        ocr.details = {**(ocr.details or {}), **extra}


def _task(session: Session, message: InboundMessage, photo: Photo, meter: Meter) -> ReviewTask:
    task = ReviewTask(
        inbound_message_id=message.id,
        photo_id=photo.id,
        meter_id=meter.id,
        status="open",
        reason_codes=["low_confidence"],
        candidates=[
            {
                "kind": "meter",
                "meter_id": meter.id,
                "meter_number": meter.number,
                "account_number": meter.account.number,
                "why": ["sender"],
            },
            {
                "kind": "value",
                "value": "12345.6",
                "source": "photo",
                "confidence": 0.52,
                "proposed": True,
            },
            {"kind": "value", "value": "12346.6", "source": "ocr_alternative", "confidence": 0.31},
            {"kind": "ocr_meter_number", "meter_number": meter.number},
        ],
        proposed_value=Decimal("12345.6"),
        created_at=message.received_at,
        details=decision_details(session, meter, message),
    )
    session.add(task)
    session.flush()
    return task


def decision_details(session: Session, meter: Meter, message: InboundMessage) -> dict[str, Any]:
    """What the decision core stores with a task it creates: the register and its expectation
    (`matching.record_items.task_details`), computed as the worker does for the mail's day."""
    session.flush()
    read_on = message.received_at.astimezone(BERLIN).date()
    expectation = expectation_for(session, meter, "1.8.0", read_on)
    return {"register": "1.8.0", "expectation": expectation.as_json()}


CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_from(html: str) -> str:
    match = CSRF_RE.search(html)
    if match is None:
        raise AssertionError("no csrf_token field on the page")
    return match.group(1)


def post_decision(client: Any, csrf: str, task_id: int, **fields: str) -> Any:
    """POST the task's decision form as a clerk's browser does (no redirect followed)."""
    data = {"csrf_token": csrf, **fields}
    return client.post(f"/tasks/{task_id}/decision", data=data, follow_redirects=False)


def login(client: Any, username: str = CLERK, password: str = CLERK_PASSWORD) -> str:
    """Log a TestClient in through the real form; returns the session's CSRF token."""
    page = client.get("/login")
    response = client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": csrf_from(page.text)},
        follow_redirects=False,
    )
    if response.status_code != 303:
        raise AssertionError(f"login failed: {response.status_code}")
    return csrf_from(client.get("/").text)
