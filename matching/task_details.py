"""`review_task.details`: facts a clerk needs beside the reason codes, as one JSON object.

| key | set by | meaning |
|---|---|---|
| `reuse` | photo reuse | `exact_copy`, `similar` or `old` (reason `photo_*`) |
| `photo_id` | photo reuse | the photo of this mail that was judged |
| `earlier_ledger_id` | photo reuse | intake-ledger id of the earlier mail with that photo |
| `earlier_photo_id` | photo reuse | the earlier photo |
| `phash_distance` | photo reuse | differing bits of the two 64-bit perceptual hashes |
| `exif_time` | photo reuse | when the camera says the photo was taken (ISO, UTC) |
| `last_reading_on` | photo reuse | the meter's last reading date the photo predates (ISO) |
| `corrects_reading_id` | correction | the booked reading the customer says is wrong |
| `corrected_ledger_id` | correction | the mail that reading was booked from |
| `old_value` | correction | the booked value (string) |
| `new_value` | correction | the value the customer gives now (string, or null) |
| `booked_photo_id` | correction | the photo the booked reading was read from (or null) |
| `register` | correction | the corrected reading's register (the clerk books on it) |
| `same_day_reading_id` | same day | the reading already booked for the register and day |
| `same_day_ledger_id` | same day | the mail that reading was booked from (null: imported) |
| `same_day_value` | same day | its value (string) |
| `same_day_register` | same day | its register |
| `sender_check` | sender check | `fail` (SPF/DKIM/DMARC) or `missing` (no stamp of our server) |
| `new_photo_requested` | new photo | when the customer was asked for a new photo (ISO, UTC) |
| `replaced_by_ledger_id` | new photo | the later mail whose booked reading closed the task |
| `replaced_by_reading_id` | new photo | that reading |

Values are JSON-safe: Decimals and dates as strings.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from core.models import ReviewTask


def add_task_details(session: Session, task_id: int | None, details: dict[str, Any]) -> None:
    """Merge `details` into the task's details (a new dict, so the JSON column sees the change)."""
    if task_id is None or not details:
        return
    task = session.get(ReviewTask, task_id)
    if task is None:
        return
    task.details = {**(task.details or {}), **details}
    if task.photo_id is None and details.get("booked_photo_id") is not None:
        task.photo_id = details["booked_photo_id"]  # the clerk sees the photo the value came from
