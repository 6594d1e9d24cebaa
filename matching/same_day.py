"""A second, different reading of a register on a day that already has one (sent in another mail):
never booked beside the first. The item goes to a clerk with the other reading on the task; when
the clerk books a value on that register, it replaces the first (`supersede_same_day`).

The same value again is booked once (`matching.record_items`), a reply correcting a confirmed
value is a correction (`matching.corrections`): neither comes here.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from core.models import Reading, ReviewTask
from core.types import Decision, ReadingItem, decimal_text
from matching import reasons
from matching.rows import reading_of_day, supersede


@dataclass(frozen=True)
class SameDayReading:
    """An accepted reading of the item's register on the same day, with another value."""

    reading: Reading
    item: ReadingItem

    def details(self) -> dict[str, Any]:
        """The review task's details (keys in matching/task_details.py)."""
        return {
            "same_day_reading_id": self.reading.id,
            "same_day_ledger_id": self.reading.inbound_message_id,
            "same_day_value": decimal_text(self.reading.value),
            "same_day_register": self.reading.register,
        }


def find_same_day(
    session: Session, decision: Decision, *, read_on: dt.date, ledger_id: int | None
) -> SameDayReading | None:
    """The first item of `decision` whose register holds another value for `read_on`."""
    for item in decision.items:
        if item.meter_id is None or item.register is None or item.value is None:
            continue
        query = select(Reading).where(
            Reading.meter_id == item.meter_id, Reading.register == item.register,
            Reading.read_on == read_on, Reading.status == "accepted",
            Reading.value != item.value,
            or_(Reading.inbound_message_id.is_(None), Reading.inbound_message_id != ledger_id),
        )  # fmt: skip
        other = session.scalars(query.order_by(Reading.id.desc()).limit(1)).first()
        if other is None:
            continue
        # the same value again (booked once already: the mail repeats it) is no conflict
        if reading_of_day(session, item.meter_id, item.register, read_on, item.value) is None:
            return SameDayReading(other, item)
    return None


def same_day_decision(decision: Decision, found: SameDayReading | None) -> Decision:
    """The conflicting item waits for a clerk; the mail's other items stay as decided."""
    if found is None or decision.outcome not in ("accept", "review"):
        return decision
    code = reasons.OTHER_READING_SAME_DAY
    held = replace(
        found.item,
        outcome="review",
        reason_codes=reasons.blocking([code, *found.item.reason_codes]),
    )
    items = tuple(held if item is found.item else item for item in decision.items)
    return Decision(
        outcome="review",
        reason_codes=reasons.blocking([code, *decision.reason_codes]),
        value=decision.value if decision.outcome == "review" else found.item.value,
        meter_id=decision.meter_id if decision.outcome == "review" else found.item.meter_id,
        items=items,
    )


def supersede_same_day(session: Session, task: ReviewTask, reading: Reading, *, clerk: str) -> None:
    """A clerk's booking on a same-day task replaces the day's other reading of that register
    (status `superseded`, no longer exported; the new row names it in `corrects_id`)."""
    other_id = (task.details or {}).get("same_day_reading_id")
    other = session.get(Reading, other_id) if isinstance(other_id, int) else None
    if other is None or other.status != "accepted" or other.id == reading.id:
        return
    if (other.meter_id, other.register, other.read_on) != (
        reading.meter_id, reading.register, reading.read_on,
    ):  # fmt: skip
        return  # the clerk booked another meter, register or day: nothing is replaced
    supersede(
        session, other, reading, clerk=clerk,
        details={"review_task_id": task.id, "same_day": True},
    )  # fmt: skip
