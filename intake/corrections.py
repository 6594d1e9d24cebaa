"""Is a reply to our confirmation a correction? Read from the customer's own words.

A reply to a confirmation (`matching.corrections.confirmed_reading`) is a correction when the
customer says the value is wrong ("der Stand ist falsch", "bitte korrigieren"), or types another
value without sending a new photo. Lines quoted from our confirmation are never read as the new
value. A reply with a new photo and no such words is a new reading, handled as any other mail.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from core.types import Submission
from intake.hints import find_readings
from intake.typed_values import says_correction, unquoted, without_lines_of
from matching.corrections import BookedReading, Correction, confirmed_reading


def correction_for(session: Session, submission: Submission) -> Correction | None:
    """The correction this mail asks for, or None when it is none."""
    booked = confirmed_reading(session, submission.references)
    if booked is None:
        return None
    return judge_reply(submission.body_text, booked, has_photo=bool(submission.images))


def judge_reply(body: str, booked: BookedReading, *, has_photo: bool) -> Correction | None:
    """Pure: the correction in `body` (a reply to the confirmation of `booked`), if any."""
    own = without_lines_of(unquoted(body), booked.confirmation_text)
    others = [value for value in find_readings(own) if value != booked.value]
    new_value = others[0] if others else None
    if says_correction(own) or (new_value is not None and not has_photo):
        return Correction(booked=booked, new_value=new_value)
    return None
