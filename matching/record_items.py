"""Book a mail decided item by item: a Reading for each item to accept, one ReviewTask for the
items a clerk must look at (one task per mail: its details list every open item).

Called by `record_decision` when the decision has items; idempotency (one booking per mail) is
`record_decision`'s.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from core.models import Meter, Reading, ReviewTask
from core.types import Decision, ReadingItem, decimal_text
from matching import reasons
from matching.rows import audit, reading_of_day, text


@dataclass(frozen=True)
class BookedReading:
    """One reading booked automatically, as the confirmation mail lists it."""

    reading_id: int
    meter_id: int
    meter_number: str
    register: str
    value: Decimal
    unit: str
    decimal_digits: int


def book_items(
    session: Session,
    *,
    ledger_id: int,
    photo_ids: Sequence[int],
    read_on: dt.date,
    decision: Decision,
) -> list[BookedReading]:
    booked = []
    for item in decision.items:
        if item.outcome != "accept":
            continue
        meter = session.get(Meter, item.meter_id) if item.meter_id else None
        if meter is None or item.value is None or item.register is None:
            raise ValueError("an accepted item needs a meter, a register and a value")
        photo_id = _photo_id(item, photo_ids)
        reading = reading_of_day(session, meter.id, item.register, read_on, item.value)
        if reading is not None:  # the customer sent it again the same day: booked once
            audit(
                session, actor="auto", action="reading_repeated", entity="reading",
                entity_id=reading.id, details={"ledger_id": ledger_id, "photo_id": photo_id},
            )  # fmt: skip
        else:
            reading = _book(
                session, item, meter, (item.register, item.value),
                read_on=read_on, ledger_id=ledger_id, photo_id=photo_id,
            )  # fmt: skip
        booked.append(
            BookedReading(
                reading.id,
                meter.id,
                meter.number,
                item.register,
                item.value,
                meter.unit,
                meter.decimal_digits,
            )
        )
    return booked


def _book(
    session: Session,
    item: ReadingItem,
    meter: Meter,
    booked: tuple[str, Decimal],
    *,
    read_on: dt.date,
    ledger_id: int,
    photo_id: int | None,
) -> Reading:
    """The accepted item as a new reading of `booked` (register, value), audited."""
    register, value = booked
    reading = Reading(
        meter_id=meter.id, register=register, value=value, read_on=read_on,
        source=item.value_source or "photo", status="accepted", accepted_by="auto",
        inbound_message_id=ledger_id, photo_id=photo_id,
    )  # fmt: skip
    session.add(reading)
    session.flush()
    audit(
        session, actor="auto", action="reading_accepted", entity="reading",
        entity_id=reading.id,
        details={
            "ledger_id": ledger_id, "photo_id": photo_id, "meter_number": meter.number,
            "register": register, "value": text(value), "source": reading.source,
            "notes": list(item.notes),
            "expectation": item.expectation.as_json() if item.expectation else None,
        },
    )  # fmt: skip
    return reading


def open_task(
    session: Session,
    *,
    ledger_id: int,
    photo_ids: Sequence[int],
    decision: Decision,
    booked: Sequence[BookedReading],
    candidates: list[dict[str, Any]],
) -> ReviewTask:
    """The one review task for the mail's items that need a clerk."""
    review = [item for item in decision.items if item.outcome == "review"]
    lead = review[0]
    codes = list(decision.reason_codes)
    if booked:
        codes.append(reasons.PARTLY_BOOKED)
    task = ReviewTask(
        inbound_message_id=ledger_id, photo_id=_photo_id(lead, photo_ids), meter_id=lead.meter_id,
        status="open", reason_codes=codes, candidates=candidates, proposed_value=lead.value,
        details=task_details(lead, decision.items, photo_ids, booked),
    )  # fmt: skip
    session.add(task)
    session.flush()
    audit(
        session, actor="auto", action="review_created", entity="review_task", entity_id=task.id,
        details={"ledger_id": ledger_id, "reason_codes": codes},
    )  # fmt: skip
    return task


def task_details(
    lead: ReadingItem,
    items: Sequence[ReadingItem],
    photo_ids: Sequence[int],
    booked: Sequence[BookedReading],
) -> dict[str, Any]:
    """The review task's `details` JSON:

    - `register`: the register the proposal is for (None: unclear);
    - `expectation`: `Expectation.as_json()` of the proposal (expected value and band), or None;
    - `consumption`: the proposal's consumption since the last reading (string), or None;
    - `hypotheses`: every meter/register hypothesis of the lead photo (`Hypothesis.as_json()`);
    - `items`: every item of the mail (`ReadingItem.as_json()` plus `photo_id`), the lead first;
    - `booked`: the readings of this mail already booked automatically (ids, meter, register).
    """
    exp = lead.expectation
    used = None
    if lead.value is not None and exp is not None and exp.last_value is not None:  # (a winner)
        used = decimal_text(lead.value - exp.last_value)
    ordered = [lead, *(item for item in items if item is not lead)]
    return {
        "register": lead.register,
        "expectation": exp.as_json() if exp else None,
        "consumption": used,
        "hypotheses": [h.as_json() for h in lead.hypotheses],
        "items": [{**item.as_json(), "photo_id": _photo_id(item, photo_ids)} for item in ordered],
        "booked": [
            {
                "reading_id": b.reading_id,
                "meter_id": b.meter_id,
                "meter_number": b.meter_number,
                "register": b.register,
                "value": text(b.value),
            }
            for b in booked
        ],
    }


def _photo_id(item: ReadingItem, photo_ids: Sequence[int]) -> int | None:
    if item.photo_index is None or item.photo_index >= len(photo_ids):
        return None
    return photo_ids[item.photo_index]
