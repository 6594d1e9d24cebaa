"""Photo reuse: pure judgement with plain data, and the pipeline on both databases."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal

import pytest
from PIL import Image
from sqlalchemy import select

from core.context import AppContext
from core.models import Meter, Outbox, Reading, ReviewTask
from matching import reasons
from matching.reuse import ReuseFinding, SeenPhoto, judge_photo, phash_distance
from tests.conftest import FrozenClock
from tests.samples import customer_mail, meter_photo, seed_meter
from tests.test_intake_pipeline import all_of, good_read, run_one

CUSTOMER = "erika@example.de"
JPEG = meter_photo("04521", seed=1)
NOW = dt.datetime(2026, 11, 20, 9, 30, tzinfo=dt.UTC)


def _seen(
    photo_id: int, ledger_id: int, sha: str, phash: str | None, exif: dt.datetime | None = None
) -> SeenPhoto:
    return SeenPhoto(photo_id, ledger_id, sha, phash, exif)


def _judge(
    photo: SeenPhoto, earlier: list[SeenPhoto], last: dt.date | None = None
) -> ReuseFinding | None:
    return judge_photo(
        photo, earlier, received_at=NOW, last_reading_on=last, max_age_days=30, near_bits=6
    )


def _found(photo: SeenPhoto, earlier: list[SeenPhoto], last: dt.date | None = None) -> ReuseFinding:
    finding = _judge(photo, earlier, last)
    assert finding is not None
    return finding


def test_phash_distance_counts_differing_bits() -> None:
    assert phash_distance("ffffffffffffffff", "fffffffffffffff0") == 4
    assert phash_distance("0123456789abcdef", "0123456789abcdef") == 0


def test_an_exact_copy_is_found_among_all_earlier_photos() -> None:
    photo = _seen(9, 5, "aa", "0000000000000000")
    finding = _found(photo, [_seen(3, 2, "bb", "ffffffffffffffff"), _seen(4, 3, "aa", None)])
    assert finding.code == reasons.PHOTO_REUSED
    assert finding.details() == {
        "reuse": "exact_copy", "photo_id": 9, "earlier_ledger_id": 3, "earlier_photo_id": 4,
        "phash_distance": 0,
    }  # fmt: skip


def test_a_near_copy_within_the_threshold_is_similar_beyond_it_fresh() -> None:
    photo = _seen(9, 5, "aa", "00000000000000ff")
    near = _seen(4, 3, "bb", "000000000000003f")  # 2 bits apart
    far = _seen(5, 4, "cc", "0000000000000000")  # 8 bits apart
    finding = _found(photo, [far, near])
    assert finding.code == reasons.PHOTO_SIMILAR
    assert finding.details()["earlier_ledger_id"] == 3
    assert _judge(photo, [far]) is None
    assert _judge(photo, [_seen(6, 5, "aa", "00000000000000ff")]) is None  # the same mail


def test_an_old_photo_by_its_exif_time() -> None:
    taken = NOW - dt.timedelta(days=45)
    finding = _found(_seen(9, 5, "aa", None, taken), [])
    assert finding.code == reasons.PHOTO_OLD
    assert finding.details() == {
        "reuse": "old",
        "photo_id": 9,
        "exif_time": taken.isoformat(),
    }
    recent = _seen(9, 5, "aa", None, NOW - dt.timedelta(days=3))
    assert _judge(recent, []) is None
    finding = _found(recent, [], last=dt.date(2026, 11, 18))  # taken before the last reading
    assert finding.details()["last_reading_on"] == "2026-11-18"
    assert _judge(recent, [], last=dt.date(2026, 11, 17)) is None


@pytest.fixture
def erika(ctx: AppContext) -> AppContext:
    with ctx.sessions.begin() as session:
        seed_meter(session, email=CUSTOMER, account="123456789", meter="12345678")
        seed_meter(session, email="jana@example.de", account="987654321", meter="87654321")
    return ctx


def _task(ctx: AppContext, ledger_id: int) -> ReviewTask:
    with ctx.sessions() as session:
        task = session.scalars(
            select(ReviewTask).where(ReviewTask.inbound_message_id == ledger_id)
        ).one()
        session.expunge(task)
        return task


def _mail(photo: bytes, body: str = "Mein Zählerstand, Grüße", sender: str = CUSTOMER) -> bytes:
    return customer_mail(sender=sender, body=body, photos=[("z.jpg", photo)])


def test_the_same_photo_a_month_later_goes_to_a_clerk_unconfirmed(
    erika: AppContext, clock: FrozenClock
) -> None:
    first = run_one(erika, _mail(JPEG), good_read)
    assert first.status == "accepted"
    clock.advance(days=31)
    second = run_one(erika, _mail(JPEG, body="Neuer Stand anbei"), good_read)
    assert second.status == "review"
    task = _task(erika, second.id)
    assert reasons.PHOTO_REUSED in task.reason_codes
    assert task.details is not None
    assert task.details["reuse"] == "exact_copy"
    assert task.details["earlier_ledger_id"] == first.id
    assert len(all_of(erika, Reading)) == 1, "never booked again"
    kinds = sorted((m.kind, m.inbound_message_id) for m in all_of(erika, Outbox))
    assert kinds == [("confirmation", first.id), ("received_review", second.id)]
    assert reasons.label(reasons.PHOTO_REUSED) == "Foto wurde schon einmal eingesandt"


def test_an_exact_copy_of_another_customers_photo_is_found(erika: AppContext) -> None:
    first = run_one(erika, _mail(JPEG, sender="jana@example.de"), good_read)
    second = run_one(erika, _mail(JPEG), good_read)
    assert second.status == "review"
    details = _task(erika, second.id).details
    assert details is not None and details["earlier_ledger_id"] == first.id


def _recompressed(data: bytes) -> bytes:
    with Image.open(io.BytesIO(data)) as img:
        small = img.convert("RGB").resize((img.width * 2 // 3, img.height * 2 // 3))
    out = io.BytesIO()
    small.save(out, "JPEG", quality=55)
    return out.getvalue()


def test_a_recompressed_copy_of_the_customers_photo_is_similar(erika: AppContext) -> None:
    first = run_one(erika, _mail(JPEG), good_read)
    second = run_one(erika, _mail(_recompressed(JPEG), body="nochmal"), good_read)
    task = _task(erika, second.id)
    assert reasons.PHOTO_SIMILAR in task.reason_codes
    assert task.details is not None and task.details["earlier_ledger_id"] == first.id
    assert task.details["phash_distance"] <= erika.settings.photo_similar_max_bits
    assert len(all_of(erika, Reading)) == 1


def _with_exif_time(data: bytes, taken: str) -> bytes:
    with Image.open(io.BytesIO(data)) as img:
        exif = Image.Exif()
        exif[0x0132] = taken  # DateTime, "YYYY:MM:DD HH:MM:SS" camera local time
        out = io.BytesIO()
        img.save(out, "JPEG", quality=90, exif=exif)
    return out.getvalue()


def test_a_photo_taken_long_before_the_mail_goes_to_a_clerk(erika: AppContext) -> None:
    row = run_one(erika, _mail(_with_exif_time(JPEG, "2026:08:01 10:00:00")), good_read)
    assert row.status == "review"
    task = _task(erika, row.id)
    assert task.reason_codes == [reasons.PHOTO_OLD]
    assert task.details is not None and task.details["exif_time"].startswith("2026-08-01")
    assert all_of(erika, Reading) == []


def test_a_photo_taken_before_the_meters_last_reading_goes_to_a_clerk(erika: AppContext) -> None:
    with erika.sessions.begin() as session:
        meter = session.scalars(select(Meter).where(Meter.number == "12345678")).one()
        session.add(
            Reading(meter_id=meter.id, value=Decimal(4400), read_on=dt.date(2026, 11, 15),
                    source="import", status="accepted")
        )  # fmt: skip
    photo = _with_exif_time(JPEG, "2026:11:10 18:00:00")  # ten days old, before the 15th
    row = run_one(erika, _mail(photo), good_read)
    task = _task(erika, row.id)
    assert reasons.PHOTO_OLD in task.reason_codes
    assert task.details is not None and task.details["last_reading_on"] == "2026-11-15"
    assert [r.source for r in all_of(erika, Reading)] == ["import"]


def test_a_near_copy_from_the_same_unknown_sender_is_similar(erika: AppContext) -> None:
    stranger = "fremd@example.org"
    first = run_one(erika, _mail(JPEG, sender=stranger), good_read)
    second = run_one(erika, _mail(_recompressed(JPEG), body="noch mal", sender=stranger), good_read)
    task = _task(erika, second.id)
    assert reasons.PHOTO_SIMILAR in task.reason_codes
    assert task.details is not None and task.details["earlier_ledger_id"] == first.id
