"""The facts stored on a review task beside its reason codes (`review_task.details`), as lines the
task page shows: the earlier mail of a reused photo (linked), and the booked reading a customer's
correction is about, with the old and the new value, and the reading booked for the same day from
another mail, and why the sender is not confirmed; when the customer was asked for a new photo,
and the mail whose reading closed the task."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any, NamedTuple

from core.formatting import UNIT_LABELS, format_date, format_datetime, format_number
from core.models import ReviewTask

_SENDER_CHECK = {
    "fail": "SPF/DKIM/DMARC fehlgeschlagen: die Mail kommt wohl nicht vom Kunden",
    "missing": "Kein Prüfvermerk unseres Mailservers (Authentication-Results)",
}


# a customer's correction was told no new photo is needed; an unconfirmed sender may not be the
# customer at all: rejecting either asks the customer on file for nothing unless the clerk ticks it
_NO_RESEND_BY_DEFAULT = frozenset({"correction_request", "sender_not_verified"})


def resend_asked_by_default(reason_codes: list[str] | None) -> bool:
    """Whether "Ablehnen" starts with "ask for a new photo" ticked."""
    return not _NO_RESEND_BY_DEFAULT.intersection(reason_codes or ())


class Fact(NamedTuple):
    key: str  # UI text key (review_ui.i18n)
    text: str
    href: str | None = None


def task_facts(task: ReviewTask) -> list[Fact]:
    details: dict[str, Any] = task.details or {}
    facts: list[Fact] = []
    if requested := _when(details.get("new_photo_requested")):
        facts.append(Fact("facts.new_photo", requested))
    replaced = details.get("replaced_by_ledger_id")
    if isinstance(replaced, int):
        facts.append(Fact("facts.replaced_by_mail", f"#{replaced}", f"/messages?id={replaced}"))
    earlier = details.get("earlier_ledger_id")
    if isinstance(earlier, int):
        facts.append(Fact("facts.earlier_mail", f"#{earlier}", f"/messages?id={earlier}"))
    if isinstance(details.get("phash_distance"), int) and details.get("reuse") == "similar":
        facts.append(Fact("facts.distance", f"{details['phash_distance']} / 64"))
    if taken := _when(details.get("exif_time")):
        facts.append(Fact("facts.taken", taken))
    if last := _day(details.get("last_reading_on")):
        facts.append(Fact("facts.last_reading_on", last))
    corrected = details.get("corrected_ledger_id")
    if isinstance(corrected, int):
        facts.append(Fact("facts.corrected_mail", f"#{corrected}", f"/messages?id={corrected}"))
    same_day = details.get("same_day_ledger_id")
    if isinstance(same_day, int):
        facts.append(Fact("facts.same_day_mail", f"#{same_day}", f"/messages?id={same_day}"))
    if "same_day_value" in details:
        facts.append(Fact("facts.same_day_value", _value(task, details["same_day_value"])))
    if details.get("sender_check") in ("fail", "missing"):
        facts.append(Fact("facts.sender_check", _SENDER_CHECK[details["sender_check"]]))
    for key in ("old_value", "new_value"):
        if key in details:
            facts.append(Fact(f"facts.{key}", _value(task, details[key])))
    return facts


def _when(value: object) -> str:
    try:
        return format_datetime(dt.datetime.fromisoformat(str(value))) if value else ""
    except ValueError:
        return str(value)


def _day(value: object) -> str:
    try:
        return format_date(dt.date.fromisoformat(str(value))) if value else ""
    except ValueError:
        return str(value)


def _value(task: ReviewTask, value: object) -> str:
    if value is None:
        return "–"
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return str(value)
    if task.meter is None:
        return format_number(number, max(0, -number.as_tuple().exponent))  # type: ignore[operator]
    unit = UNIT_LABELS.get(task.meter.unit, task.meter.unit)
    return f"{format_number(number, task.meter.decimal_digits)} {unit}"
