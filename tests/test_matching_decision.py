"""The decision core through the pipeline (stand-in OCR per photo and hypothesis, both databases):
several meters per customer, several readings per mail, two-register meters, history bands and
the history's veto on an implausible OCR value."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.context import AppContext
from core.db import transaction
from core.models import AuditLog, Customer, Meter, OcrResult, Outbox, Reading, ReviewTask
from core.settings import Settings
from core.types import DigitRead, MeterHint, MeterRead
from intake.pipeline import Reader
from matching import reasons
from matching.export import export_readings
from matching.review import resolve_task
from tests.readers import per_hint
from tests.samples import customer_mail, meter_photo, seed_meter
from tests.test_intake_pipeline import all_of, run_one

CUSTOMER = "erika@example.de"
PHOTO_A = meter_photo("00200", seed=11)
PHOTO_B = meter_photo("00080", seed=12)


def read(reading: str, *, accepted: bool = True, number: str | None = None) -> MeterRead:
    return MeterRead(
        reading=reading, confidence=0.99 if accepted else 0.4, accepted=accepted,
        meter_number=number,
    )  # fmt: skip


def reader_for(table: dict[tuple[bytes, MeterHint | None], MeterRead]) -> Reader:
    """Per photo and hint (its digit count and display; decimals are not told apart); a
    (photo, None) entry answers for any hint."""

    @per_hint
    def reader(data: bytes, hint: MeterHint, settings: Settings) -> MeterRead:
        shown = MeterHint(hint.integer_digits, hint.display)
        return table.get((data, shown)) or table.get((data, None)) or MeterRead(reading=None)

    return reader


def add_meter(
    session: Session,
    number: str,
    *,
    kind: str = "water",
    history: list[tuple[str, str]] = (),  # type: ignore[assignment]
    register: str = "1.8.0",
    **columns: Any,
) -> int:
    """A meter of the customer CUSTOMER (created on first use) with imported readings."""
    customer = session.scalars(select(Customer).where(Customer.email == CUSTOMER)).first()
    if customer is None:
        meter_id = seed_meter(
            session, email=CUSTOMER, account="100", meter=number, kind=kind,
            unit="m3" if kind in ("water", "gas") else "kWh", **columns,
        )  # fmt: skip
    else:
        account = customer.accounts[0]
        meter = Meter(
            number=number, account=account, kind=kind,
            unit="m3" if kind in ("water", "gas") else "kWh", registers="1.8.0",
            integer_digits=columns.get("integer_digits", 5),
            decimal_digits=columns.get("decimal_digits", 0),
            display=columns.get("display"),
        )  # fmt: skip
        session.add(meter)
        session.flush()
        meter_id = meter.id
    for day, value in history:
        session.add(
            Reading(
                meter_id=meter_id, register=register, value=Decimal(value),
                read_on=dt.date.fromisoformat(day), source="import", status="accepted",
                accepted_by="import",
            )
        )  # fmt: skip
    return meter_id


def cold_and_warm(ctx: AppContext) -> tuple[int, int]:
    with ctx.sessions.begin() as session:
        cold = add_meter(session, "KW-1", history=[("2025-11-20", "100"), ("2026-05-20", "150")])
        warm = add_meter(session, "WW-2", history=[("2025-11-20", "40"), ("2026-05-20", "60")])
    return cold, warm


def photos(*data: bytes) -> bytes:
    return customer_mail(sender=CUSTOMER, photos=[(f"p{i}.jpg", d) for i, d in enumerate(data)])


def booked(ctx: AppContext) -> dict[tuple[int, str], Decimal]:
    rows = [r for r in all_of(ctx, Reading) if r.source != "import"]
    return {(r.meter_id, r.register): Decimal(r.value) for r in rows}


def only_task(ctx: AppContext) -> ReviewTask:
    [task] = all_of(ctx, ReviewTask)
    return task


def test_two_photos_in_one_mail_book_two_meters(ctx: AppContext) -> None:
    cold, warm = cold_and_warm(ctx)
    reader = reader_for({(PHOTO_A, None): read("00200"), (PHOTO_B, None): read("00080")})
    row = run_one(ctx, photos(PHOTO_A, PHOTO_B), reader)
    assert row.status == "accepted"
    assert booked(ctx) == {(cold, "1.8.0"): Decimal(200), (warm, "1.8.0"): Decimal(80)}
    readings = [r for r in all_of(ctx, Reading) if r.source == "photo"]
    assert len({r.photo_id for r in readings}) == 2 and None not in {r.photo_id for r in readings}
    [mail] = all_of(ctx, Outbox)
    assert mail.kind == "confirmation" and "KW-1" in mail.body_text and "WW-2" in mail.body_text
    assert "Zählwerk" not in mail.body_text  # a water meter's only register is no news


def test_the_same_reading_twice_books_once(ctx: AppContext) -> None:
    cold, _ = cold_and_warm(ctx)
    reader = reader_for({(PHOTO_A, None): read("00200"), (PHOTO_B, None): read("00200")})
    assert run_one(ctx, photos(PHOTO_A, PHOTO_B), reader).status == "accepted"
    assert booked(ctx) == {(cold, "1.8.0"): Decimal(200)}


def test_the_same_reading_in_a_second_mail_the_same_day_is_booked_once(ctx: AppContext) -> None:
    cold, _ = cold_and_warm(ctx)
    reader = reader_for({(PHOTO_A, None): read("00200"), (PHOTO_B, None): read("00200")})
    first = run_one(ctx, photos(PHOTO_A), reader)
    second = run_one(ctx, photos(PHOTO_B), reader)
    assert (first.status, second.status) == ("accepted", "accepted")
    [reading] = [r for r in all_of(ctx, Reading) if r.source != "import"]
    assert (reading.meter_id, reading.value, reading.inbound_message_id) == (
        cold, Decimal(200), first.id,
    )  # fmt: skip
    replies = sorted(all_of(ctx, Outbox), key=lambda m: m.id)
    assert [m.kind for m in replies] == ["confirmation", "confirmation"]
    assert "200 m³" in replies[1].body_text


def test_a_readable_and_an_unreadable_photo_book_one_and_ask_a_clerk_for_the_other(
    ctx: AppContext,
) -> None:
    cold, warm = cold_and_warm(ctx)
    reader = reader_for({(PHOTO_A, None): read("00200")})  # PHOTO_B: unreadable
    assert run_one(ctx, photos(PHOTO_A, PHOTO_B), reader).status == "review"
    assert booked(ctx) == {(cold, "1.8.0"): Decimal(200)}
    task = only_task(ctx)
    assert reasons.PARTLY_BOOKED in task.reason_codes
    assert task.details is not None and task.details["booked"][0]["meter_id"] == cold
    assert {h["meter_id"] for h in task.details["hypotheses"]} == {cold, warm}


def test_an_unreadable_photo_of_a_customer_with_several_meters_says_so(ctx: AppContext) -> None:
    cold_and_warm(ctx)
    reader = reader_for({})  # no read on any meter: a blank, corrupt or refused image
    row = run_one(ctx, photos(PHOTO_A), reader)
    assert row.status == "review" and booked(ctx) == {}
    task = only_task(ctx)
    assert reasons.UNREADABLE_PHOTO in task.reason_codes
    assert reasons.AMBIGUOUS_METER not in task.reason_codes  # which meter is not the question
    [reply] = all_of(ctx, Outbox)
    assert reply.kind == "resend_request"


def two_register_meter(ctx: AppContext) -> int:
    with ctx.sessions.begin() as session:
        meter_id = add_meter(
            session, "EHZ-7", kind="electricity", integer_digits=6, display="lcd",
            history=[("2024-11-20", "10000"), ("2025-11-20", "11000")], register="1.8.1",
        )  # fmt: skip
        meter = session.get(Meter, meter_id)
        assert meter is not None
        meter.registers = "1.8.1,1.8.2"
        for day, value in (("2024-11-20", "5000"), ("2025-11-20", "5500")):
            session.add(
                Reading(
                    meter_id=meter_id, register="1.8.2", value=Decimal(value),
                    read_on=dt.date.fromisoformat(day), source="import", status="accepted",
                )
            )  # fmt: skip
    return meter_id


def test_a_two_register_meter_books_both_registers(ctx: AppContext) -> None:
    meter = two_register_meter(ctx)
    reader = reader_for({(PHOTO_A, None): read("011500"), (PHOTO_B, None): read("006000")})
    assert run_one(ctx, photos(PHOTO_B, PHOTO_A), reader).status == "accepted"
    assert booked(ctx) == {(meter, "1.8.1"): Decimal(11500), (meter, "1.8.2"): Decimal(6000)}
    [mail] = all_of(ctx, Outbox)
    assert "Zählwerk:      1.8.1" in mail.body_text and "Zählwerk:      1.8.2" in mail.body_text


def test_a_value_both_registers_could_show_goes_to_a_clerk(ctx: AppContext) -> None:
    meter = two_register_meter(ctx)
    with ctx.sessions.begin() as session:  # NT close to HT: the value fits both bands
        for reading in session.scalars(select(Reading).where(Reading.register == "1.8.2")):
            reading.value += Decimal(5000)
    reader = reader_for({(PHOTO_A, None): read("011500")})
    assert run_one(ctx, photos(PHOTO_A), reader).status == "review"
    task = only_task(ctx)
    assert reasons.REGISTER_UNCLEAR in task.reason_codes and task.meter_id == meter
    assert booked(ctx) == {}


def test_the_register_code_on_the_display_names_the_register(ctx: AppContext) -> None:
    meter = two_register_meter(ctx)
    with ctx.sessions.begin() as session:  # NT close to HT: the value fits both bands
        for reading in session.scalars(select(Reading).where(Reading.register == "1.8.2")):
            reading.value += Decimal(5000)
    shown = MeterRead(reading="011500", confidence=0.99, accepted=True, obis="1.8.2")
    reader = reader_for({(PHOTO_A, None): shown})
    assert run_one(ctx, photos(PHOTO_A), reader).status == "accepted"
    assert booked(ctx) == {(meter, "1.8.2"): Decimal(11500)}
    [mail] = all_of(ctx, Outbox)  # one register of an HT/NT meter: the confirmation names it
    assert "Zählwerk:      1.8.2" in mail.body_text


def water_and_electricity(
    ctx: AppContext, *, history: bool = True, power_history: bool = True
) -> tuple[int, int]:
    """A water drum meter (5 digits) and an electricity display (6 digits); `power_history`
    False leaves the electricity meter without readings."""
    with ctx.sessions.begin() as session:
        water = add_meter(
            session, "W-100", history=[("2025-11-20", "180"), ("2026-05-20", "200")] if history
            else [],
        )  # fmt: skip
        power = add_meter(
            session, "E-200", kind="electricity", integer_digits=6, display="lcd",
            history=[("2025-05-20", "20000"), ("2026-05-20", "23500")]
            if history and power_history else [],
        )  # fmt: skip
    return water, power


def drums_or_display(drums: str, display: str | None = None) -> Reader:
    """The photo read as the water meter's drums and as the electricity display (by default
    the same value with the display's sixth digit)."""
    return reader_for(
        {
            (PHOTO_A, MeterHint(5, "drum")): read(drums),
            (PHOTO_A, MeterHint(6, "lcd")): read(display or f"0{drums}"),
        }
    )


def test_the_meter_number_on_the_photo_picks_the_meter(ctx: AppContext) -> None:
    water, _power = water_and_electricity(ctx)
    reader = reader_for(
        {
            (PHOTO_A, MeterHint(5, "drum")): read("00215", number="W-100"),
            (PHOTO_A, MeterHint(6, "lcd")): read("000215", accepted=False, number="W-100"),
        }
    )
    assert run_one(ctx, photos(PHOTO_A), reader).status == "accepted"
    assert booked(ctx) == {(water, "1.8.0"): Decimal(215)}
    with ctx.sessions() as session:  # both hypothesis reads are kept, the one used stored last
        ocr = session.scalars(select(OcrResult).order_by(OcrResult.id)).all()
    assert [o.details["hypothesis"]["display"] for o in ocr] == ["lcd", "drum"]


def test_a_value_far_likelier_under_one_history_picks_that_meter(ctx: AppContext) -> None:
    water, power = water_and_electricity(ctx)
    reader = drums_or_display("00215", "025200")
    # both bands hold the value (water 215 m³, last 200; electricity 25 200 kWh, last 23 500),
    # but water's history makes it far likelier per unit of the counter
    assert run_one(ctx, photos(PHOTO_A), reader).status == "accepted"
    assert booked(ctx) == {(water, "1.8.0"): Decimal(215)}
    audit = [r for r in all_of(ctx, AuditLog) if r.action == "reading_accepted"]
    assert reasons.METER_BY_HISTORY in audit[0].details["notes"]
    assert power not in {meter for meter, _ in booked(ctx)}


def water_and_gas(ctx: AppContext) -> tuple[int, int]:
    """Water expecting about 30 m³ and gas about 880 m³ (May to November) since their last
    readings, both last read in May."""
    with ctx.sessions.begin() as session:
        water = add_meter(
            session, "W-100",
            history=[("2024-05-20", "4600"), ("2025-05-20", "4660"), ("2026-05-20", "4720")],
        )  # fmt: skip
        gas = add_meter(
            session, "G-300", kind="gas", history=[("2025-05-20", "1150"), ("2026-05-20", "4150")]
        )  # fmt: skip
    return water, gas


def test_a_value_both_bands_hold_loosely_is_booked_on_the_meter_it_fits_far_better(
    ctx: AppContext,
) -> None:
    water, gas = water_and_gas(ctx)
    reader = reader_for({(PHOTO_A, None): read("04752")})  # water +32 m³, gas +602 m³
    assert run_one(ctx, photos(PHOTO_A), reader).status == "accepted"
    assert booked(ctx) == {(water, "1.8.0"): Decimal(4752)}
    audit = [r for r in all_of(ctx, AuditLog) if r.action == "reading_accepted"]
    assert reasons.METER_BY_HISTORY in audit[0].details["notes"]
    assert gas not in {meter for meter, _ in booked(ctx)}


def test_a_meter_the_history_chose_books_an_unsure_read_no_other_meter_makes_likely(
    ctx: AppContext,
) -> None:
    """Water +32 m³ where about 30 are expected, gas +602 m³ where about 880 are: the histories
    chose the water meter, and no value the OCR may have misread is likely on either meter."""
    water, _gas = water_and_gas(ctx)
    unsure = MeterRead(reading="04752", confidence=0.9, accepted=False, digits=drum_digits("04752"))
    reader = reader_for({(PHOTO_A, None): unsure})
    assert run_one(ctx, photos(PHOTO_A), reader).status == "accepted"
    assert booked(ctx) == {(water, "1.8.0"): Decimal(4752)}
    audit = [r for r in all_of(ctx, AuditLog) if r.action == "reading_accepted"]
    assert reasons.METER_BY_HISTORY in audit[0].details["notes"]


def test_an_unsure_read_a_drum_away_from_a_likely_value_of_another_meter_goes_to_a_clerk(
    ctx: AppContext,
) -> None:
    """05752 fits only the gas meter's wide band, but 04752, one drum away, is the water meter's
    expected use: a misread water photo, so the gas meter's history cannot settle the OCR's
    doubts (it has already chosen the meter)."""
    _water, gas = water_and_gas(ctx)
    unsure = MeterRead(
        reading="05752", confidence=0.6, accepted=False,
        digits=doubtful_digits("05752", 0.05), display="drum",
    )  # fmt: skip
    assert run_one(ctx, photos(PHOTO_A), reader_for({(PHOTO_A, None): unsure})).status == "review"
    task = only_task(ctx)
    assert reasons.LOW_CONFIDENCE in task.reason_codes and task.meter_id == gas
    assert booked(ctx) == {}


def test_a_meter_only_its_band_holds_an_accepted_read_for_is_booked(ctx: AppContext) -> None:
    _water, gas = water_and_gas(ctx)
    assert run_one(ctx, photos(PHOTO_A), reader_for({(PHOTO_A, None): read("05030")})).status == (
        "accepted"
    )
    assert booked(ctx) == {(gas, "1.8.0"): Decimal(5030)}


def drum_digits(reading: str) -> tuple[DigitRead, ...]:
    return tuple(DigitRead(int(c), 0.999, ((int(c), 0.999),)) for c in reading)


def test_a_value_both_histories_make_equally_likely_goes_to_a_clerk(ctx: AppContext) -> None:
    with ctx.sessions.begin() as session:  # two water meters with the same use since their last
        cold = add_meter(session, "KW-1", history=[("2025-11-20", "100"), ("2026-05-20", "150")])
        warm = add_meter(session, "WW-2", history=[("2025-11-20", "110"), ("2026-05-20", "160")])
    reader = reader_for({(PHOTO_A, None): read("00205")})
    assert run_one(ctx, photos(PHOTO_A), reader).status == "review"
    task = only_task(ctx)
    assert reasons.AMBIGUOUS_METER in task.reason_codes and booked(ctx) == {}
    assert task.details is not None
    fits = {h["meter_id"]: h["fit"] for h in task.details["hypotheses"]}
    assert fits == {cold: "in_band", warm: "in_band"}
    assert not any("likeliest_history" in h["evidence"] for h in task.details["hypotheses"])


def test_only_one_meter_fitting_its_history_is_booked(ctx: AppContext) -> None:
    water, _power = water_and_electricity(ctx)
    reader = drums_or_display("00215")
    assert run_one(ctx, photos(PHOTO_A), reader).status == "accepted"
    assert booked(ctx) == {(water, "1.8.0"): Decimal(215)}
    audit = [r for r in all_of(ctx, AuditLog) if r.action == "reading_accepted"]
    assert reasons.METER_CHOSEN in audit[0].details["notes"]


def test_meters_without_history_leave_the_choice_to_a_clerk_with_reasons(ctx: AppContext) -> None:
    _water, _power = water_and_electricity(ctx, history=False)
    reader = reader_for({(PHOTO_A, None): read("00215")})
    assert run_one(ctx, photos(PHOTO_A), reader).status == "review"
    task = only_task(ctx)
    assert reasons.AMBIGUOUS_METER in task.reason_codes
    assert task.details is not None
    hypotheses = {h["meter_number"]: h for h in task.details["hypotheses"]}
    assert set(hypotheses) == {"W-100", "E-200"}
    assert all("no_history" in h["evidence"] for h in hypotheses.values())


def drums(reading: str, fraction: str | None = None) -> MeterRead:
    return MeterRead(
        reading=reading, fraction=fraction, confidence=0.99, accepted=True, display="drum"
    )


def test_a_display_meter_is_out_when_the_photo_shows_drums(ctx: AppContext) -> None:
    water, _power = water_and_electricity(ctx, history=False)
    reader = reader_for(
        {
            (PHOTO_A, MeterHint(5, "drum")): drums("00215"),
            (PHOTO_A, MeterHint(6, "lcd")): drums("000215"),  # the OCR finds drums, not a display
        }
    )
    assert run_one(ctx, photos(PHOTO_A), reader).status == "accepted"
    assert booked(ctx) == {(water, "1.8.0"): Decimal(215)}
    audit = [r for r in all_of(ctx, AuditLog) if r.action == "reading_accepted"]
    assert {reasons.METER_CHOSEN, reasons.NO_HISTORY} <= set(audit[0].details["notes"])


def test_a_meter_counting_another_unit_than_the_display_shows_is_out(ctx: AppContext) -> None:
    with ctx.sessions.begin() as session:
        water = add_meter(session, "W-100", integer_digits=6, display="lcd")
        add_meter(session, "H-300", kind="heat", integer_digits=6, display="lcd")
    shown = MeterRead(reading="000215", confidence=0.99, accepted=True, display="lcd", unit="m³")
    reader = reader_for({(PHOTO_A, None): shown})
    assert run_one(ctx, photos(PHOTO_A), reader).status == "accepted"
    assert booked(ctx) == {(water, "1.8.0"): Decimal(215)}


def test_a_meter_with_fewer_red_drums_than_the_photo_shows_is_out(ctx: AppContext) -> None:
    with ctx.sessions.begin() as session:
        water = add_meter(session, "W-100", decimal_digits=3, display="drum")
        add_meter(session, "E-200", kind="electricity", integer_digits=6, display="drum")
    reader = reader_for(
        {
            (PHOTO_A, MeterHint(5, "drum")): drums("00215", "123"),
            (PHOTO_A, MeterHint(6, "drum")): drums("000215", "123"),
        }
    )
    assert run_one(ctx, photos(PHOTO_A), reader).status == "accepted"
    assert booked(ctx) == {(water, "1.8.0"): Decimal("215.123")}


def ferraris_gas_and_water(ctx: AppContext) -> int:
    """An electricity drum meter (5 black drums and one red) nobody has read, beside a gas and a
    water meter with three red drums each, whose histories hold nothing near 7 064."""
    with ctx.sessions.begin() as session:
        power = add_meter(
            session, "E-1", kind="electricity", display="drum", decimal_digits=1
        )  # fmt: skip
        add_meter(
            session, "G-2", kind="gas", display="drum", decimal_digits=3,
            history=[("2025-05-20", "338.761"), ("2026-05-20", "2169.695")],
        )  # fmt: skip
        add_meter(
            session, "W-3", display="drum", decimal_digits=3,
            history=[("2025-05-20", "865.918"), ("2026-05-20", "985.639")],
        )  # fmt: skip
    return power


def test_one_red_drum_where_the_other_meters_have_three_picks_the_meter_with_one(
    ctx: AppContext,
) -> None:
    power = ferraris_gas_and_water(ctx)
    reader = reader_for({(PHOTO_A, None): drums("07064", "0")})
    assert run_one(ctx, photos(PHOTO_A), reader).status == "accepted"
    assert booked(ctx) == {(power, "1.8.0"): Decimal("7064.0")}
    audit = [r for r in all_of(ctx, AuditLog) if r.action == "reading_accepted"]
    assert reasons.METER_BY_OTHERS_HISTORY in audit[0].details["notes"]


def test_as_many_red_drums_as_every_meter_shows_leave_a_meter_nobody_read_to_a_clerk(
    ctx: AppContext,
) -> None:
    power = ferraris_gas_and_water(ctx)  # the photo shows three red drums: not the Ferraris
    reader = reader_for({(PHOTO_A, None): drums("07064", "012")})
    assert run_one(ctx, photos(PHOTO_A), reader).status == "review"
    assert power not in {meter for meter, _ in booked(ctx)}
    details = only_task(ctx).details or {}
    evidence = {h["meter_number"]: h["evidence"] for h in details["hypotheses"]}
    assert "decimals_differ" in evidence["E-1"]
    assert not any("fewer_decimals" in found for found in evidence.values())


def test_a_photo_that_excludes_every_meter_excludes_none(ctx: AppContext) -> None:
    _water, _power = water_and_electricity(ctx, history=False)
    lcd = MeterRead(reading="000215", confidence=0.99, accepted=True, display="lcd")
    reader = reader_for(
        {(PHOTO_A, MeterHint(5, "drum")): lcd, (PHOTO_A, MeterHint(6, "lcd")): drums("000215")}
    )
    assert run_one(ctx, photos(PHOTO_A), reader).status == "review"
    assert reasons.AMBIGUOUS_METER in only_task(ctx).reason_codes


def test_a_value_above_the_band_goes_to_a_clerk_with_the_expectation(ctx: AppContext) -> None:
    _cold, _ = cold_and_warm(ctx)
    reader = reader_for({(PHOTO_A, MeterHint(5, "drum")): read("00548", number="KW-1")})
    assert run_one(ctx, photos(PHOTO_A), reader).status == "review"
    task = only_task(ctx)
    assert task.reason_codes == [reasons.CONSUMPTION_ABOVE_EXPECTED]
    assert task.details is not None
    expectation = task.details["expectation"]
    assert expectation["basis"] == "history" and expectation["last_value"] == "150"
    assert Decimal(expectation["low"]) < Decimal(200) < Decimal(expectation["high"]) < 548
    assert task.details["consumption"] == "398"


def accepted_with_a_doubt(
    reading: str, read: tuple[int, float], alternative: tuple[int, float]
) -> MeterRead:
    """A read of KW-1 the OCR accepted at 0.97, its third digit `read` with `alternative`."""
    digits = [DigitRead(int(d), 0.99) for d in reading]
    digits[2] = DigitRead(read[0], read[1], (read, alternative))
    return MeterRead(
        reading=reading, confidence=0.97, accepted=True, meter_number="KW-1", digits=tuple(digits)
    )


def test_the_history_vetoes_an_implausible_read_and_proposes_the_alternative_that_fits(
    ctx: AppContext,
) -> None:
    cold, _ = cold_and_warm(ctx)
    reader = reader_for({(PHOTO_A, None): accepted_with_a_doubt("00800", (8, 0.55), (2, 0.4))})
    assert run_one(ctx, photos(PHOTO_A), reader).status == "review"
    task = only_task(ctx)
    assert task.reason_codes == [reasons.PRIOR_CHOSE_ALTERNATIVE]
    assert task.proposed_value == Decimal(200) and task.meter_id == cold
    assert booked(ctx) == {}
    values = [(c["value"], c["source"], c["confidence"]) for c in task.candidates
              if c["kind"] == "value"]  # fmt: skip
    # the clerk sees the alternative's doubt beside the proposal, and what the OCR read
    assert values[:2] == [("200", "photo", 0.4), ("800", "ocr_alternative", 0.97)]


def test_a_sure_read_outside_the_band_is_proposed_over_an_alternative_it_hardly_saw(
    ctx: AppContext,
) -> None:
    cold, _ = cold_and_warm(ctx)  # last reading 150 in May: 350 is far above the band
    reader = reader_for({(PHOTO_A, None): accepted_with_a_doubt("00350", (3, 0.97), (2, 0.02))})
    assert run_one(ctx, photos(PHOTO_A), reader).status == "review"
    task = only_task(ctx)
    assert task.reason_codes == [reasons.CONSUMPTION_ABOVE_EXPECTED]
    assert task.proposed_value == Decimal(350) and task.meter_id == cold


def doubtful_digits(reading: str, doubt: float) -> tuple[DigitRead, ...]:
    """Per-digit reads of `reading`; the last digit doubted at `doubt` (another value)."""
    digits = [DigitRead(int(d), 0.99) for d in reading]
    last = int(reading[-1])
    digits[-1] = DigitRead(last, 1 - doubt, ((last, 1 - doubt), ((last + 1) % 10, doubt)))
    return tuple(digits)


def test_the_history_books_a_read_the_ocr_alone_would_not_when_its_doubts_are_small(
    ctx: AppContext,
) -> None:
    cold, _ = cold_and_warm(ctx)
    unsure = MeterRead(
        reading="00200", confidence=0.6, accepted=False, meter_number="KW-1",
        digits=doubtful_digits("00200", 0.05), display="drum",
    )  # fmt: skip
    assert run_one(ctx, photos(PHOTO_A), reader_for({(PHOTO_A, None): unsure})).status == "accepted"
    assert booked(ctx) == {(cold, "1.8.0"): Decimal(200)}


def test_a_read_the_ocr_doubts_is_not_booked_without_a_history_to_settle_it(
    ctx: AppContext,
) -> None:
    with ctx.sessions.begin() as session:  # no earlier reading: nothing bounds the value
        add_meter(session, "KW-1")
    unsure = MeterRead(
        reading="00200", confidence=0.6, accepted=False, digits=doubtful_digits("00200", 0.05),
        display="drum",
    )  # fmt: skip
    assert run_one(ctx, photos(PHOTO_A), reader_for({(PHOTO_A, None): unsure})).status == "review"
    assert only_task(ctx).reason_codes == [reasons.LOW_CONFIDENCE]


@pytest.mark.parametrize(("doubt", "status"), [(0.05, "accepted"), (0.3, "review")])
def test_one_earlier_reading_settles_only_small_doubts(
    ctx: AppContext, doubt: float, status: str
) -> None:
    with ctx.sessions.begin() as session:  # one earlier reading: the kind's widest band
        add_meter(session, "KW-1", history=[("2026-05-20", "150")])
    unsure = MeterRead(
        reading="00200", confidence=0.6, accepted=False, digits=doubtful_digits("00200", doubt),
        display="drum",
    )  # fmt: skip
    assert run_one(ctx, photos(PHOTO_A), reader_for({(PHOTO_A, None): unsure})).status == status


# three yearly periods of 50 m³ and half a year since: about 25 m³ expected, band about 229 … 302
STEADY = [
    ("2023-11-20", "100"), ("2024-11-20", "150"), ("2025-11-20", "200"), ("2026-05-20", "225"),
]  # fmt: skip


@pytest.mark.parametrize(("confidence", "status"), [(0.9, "accepted"), (0.6, "review")])
def test_an_unsure_read_only_one_meters_band_holds_is_booked_when_the_doubt_is_small(
    ctx: AppContext, confidence: float, status: str
) -> None:
    """00250 fits only the cold-water meter's narrow band (25 m³ expected; the warm-water meter's
    band ends at 123) and no value one drum away fits the warm-water meter's: the doubt among both
    meters is the cold-water meter's own, small for a sure read, too large for an unsure one."""
    with ctx.sessions.begin() as session:
        cold = add_meter(session, "KW-1", history=STEADY)
        add_meter(session, "WW-2", history=[("2025-11-20", "40"), ("2026-05-20", "60")])
    unsure = MeterRead(
        reading="00250", confidence=confidence, accepted=False, digits=drum_digits("00250"),
        display="drum",
    )  # fmt: skip
    assert run_one(ctx, photos(PHOTO_A), reader_for({(PHOTO_A, None): unsure})).status == status
    if status == "accepted":
        assert booked(ctx) == {(cold, "1.8.0"): Decimal(250)}
    else:
        assert only_task(ctx).reason_codes == [reasons.LOW_CONFIDENCE]


def tens_in_doubt(reading: str, other: int, doubt: float, confidence: float) -> MeterRead:
    """A read the OCR did not accept whose tens drum may show `other` instead."""
    digits = [DigitRead(int(d), 0.99, ((int(d), 0.99),)) for d in reading]
    tens = int(reading[-2])
    digits[-2] = DigitRead(tens, 1 - doubt, ((tens, 1 - doubt), (other, doubt)))
    return MeterRead(
        reading=reading, confidence=confidence, accepted=False, digits=tuple(digits),
        display="drum",
    )  # fmt: skip


@pytest.mark.parametrize(
    ("history", "status"),
    [(STEADY, "accepted"), (STEADY[-1:], "review")],  # one reading: any use up to the kind's most
)
def test_a_steady_history_settles_a_drum_between_two_digits(
    ctx: AppContext, history: list[tuple[str, str]], status: str
) -> None:
    with ctx.sessions.begin() as session:
        meter = add_meter(session, "KW-1", history=history)
    # 00240 fits the band too, but 15 m³ where 25 m³ ± a few are expected is unlikely
    unsure = tens_in_doubt("00250", 4, 0.4, confidence=0.8)
    assert run_one(ctx, photos(PHOTO_A), reader_for({(PHOTO_A, None): unsure})).status == status
    if status == "accepted":
        assert booked(ctx) == {(meter, "1.8.0"): Decimal(250)}
    else:
        assert only_task(ctx).reason_codes == [reasons.LOW_CONFIDENCE]


def test_a_read_with_a_line_across_a_digit_is_not_booked_on_the_strength_of_the_history(
    ctx: AppContext,
) -> None:
    """A pen stroke over a drum read as a sure 0: the digits' confidences say nothing of it, so
    the steady history that would settle an unsure read does not book it."""
    with ctx.sessions.begin() as session:
        add_meter(session, "KW-1", history=STEADY)
    crossed = MeterRead(
        reading="00250", confidence=0.89, accepted=False, digits=drum_digits("00250"),
        display="drum", reason="digit_occluded",
    )  # fmt: skip
    assert run_one(ctx, photos(PHOTO_A), reader_for({(PHOTO_A, None): crossed})).status == "review"
    assert booked(ctx) == {}
    assert only_task(ctx).proposed_value == Decimal(250)


FAR_GAS = [("2025-05-20", "16500"), ("2026-05-20", "17715")]
NEAR_GAS = [("2025-11-20", "170"), ("2026-05-20", "215")]  # 00260 is about its expected use
YOUNG_GAS = [("2025-05-20", "10"), ("2026-05-20", "150")]  # its band holds 00260, unlikely


@pytest.mark.parametrize(
    ("rival", "confidence", "status"),
    [
        (FAR_GAS, 0.85, "accepted"),
        (FAR_GAS, 0.75, "review"),
        (NEAR_GAS, 0.85, "review"),
        (YOUNG_GAS, 0.85, "accepted"),
        (YOUNG_GAS, 0.75, "review"),
    ],
)
def test_an_unsure_read_the_history_settles_is_booked_where_no_other_meter_could_show_it(
    ctx: AppContext, rival: list[tuple[str, str]], confidence: float, status: str
) -> None:
    """00250 with its tens drum in doubt (00260): the cold-water meter's steady history settles
    it as for a customer's only meter, where the other meter holds at most
    `FAR_RIVALS_MAX_DOUBT` of the doubt (its count far from anything the photo may show, or its
    band holding 00260 with a use far from its own: about 0.6 %) and the OCR was fairly sure;
    not where the other meter makes 00260 likely."""
    with ctx.sessions.begin() as session:
        cold = add_meter(session, "KW-1", history=STEADY)
        add_meter(session, "G-2", kind="gas", history=rival)
    unsure = tens_in_doubt("00250", 6, 0.5, confidence=confidence)
    assert run_one(ctx, photos(PHOTO_A), reader_for({(PHOTO_A, None): unsure})).status == status
    if status == "accepted":
        assert booked(ctx) == {(cold, "1.8.0"): Decimal(250)}
    else:
        assert reasons.LOW_CONFIDENCE in only_task(ctx).reason_codes


def test_an_unsure_read_far_from_the_expected_use_goes_to_a_clerk_though_in_the_band(
    ctx: AppContext,
) -> None:
    with ctx.sessions.begin() as session:
        add_meter(session, "KW-1", history=STEADY)
    # 00290: 65 m³ where about 25 m³ are expected; the OCR offered no other tens digit, but a
    # misread tens drum nearer the expected use is far more likely than such a use
    unsure = tens_in_doubt("00290", 9, 0.0, confidence=0.6)
    assert run_one(ctx, photos(PHOTO_A), reader_for({(PHOTO_A, None): unsure})).status == "review"
    task = only_task(ctx)
    assert task.reason_codes == [reasons.LOW_CONFIDENCE]
    assert task.proposed_value == Decimal(290)


@pytest.mark.parametrize(("display", "status"), [("drum", "accepted"), ("lcd", "review")])
def test_a_display_meters_read_is_booked_only_when_the_ocr_accepted_it(
    ctx: AppContext, display: str, status: str
) -> None:
    with ctx.sessions.begin() as session:
        add_meter(session, "KW-1", history=STEADY, display=display)
    # the OCR took the display for drums and is not sure: the history vouches for drum
    # counters only (a display's misreads, a wrong last digit, fit any band)
    unsure = tens_in_doubt("00250", 4, 0.05, confidence=0.8)
    reader = reader_for({(PHOTO_A, None): unsure})
    assert run_one(ctx, photos(PHOTO_A), reader).status == status


def test_a_clerk_books_the_register_the_decision_proposed(ctx: AppContext) -> None:
    meter = two_register_meter(ctx)
    unsure = read("006000", accepted=False)
    assert run_one(ctx, photos(PHOTO_B), reader_for({(PHOTO_B, None): unsure})).status == "review"
    task = only_task(ctx)
    assert task.reason_codes == [reasons.LOW_CONFIDENCE]
    assert task.details is not None and task.details["register"] == "1.8.2"
    with transaction(ctx.sessions) as session:
        resolve_task(
            session, task.id, action="accept", value=None, meter_id=None, clerk="petra",
            now=ctx.clock(),
        )  # fmt: skip
    assert booked(ctx) == {(meter, "1.8.2"): Decimal(6000)}


def test_both_registers_go_to_the_export(ctx: AppContext) -> None:
    two_register_meter(ctx)
    reader = reader_for({(PHOTO_A, None): read("011500"), (PHOTO_B, None): read("006000")})
    run_one(ctx, photos(PHOTO_A, PHOTO_B), reader)
    out = io.StringIO()
    assert export_readings(ctx, out, since=dt.date(2026, 11, 1), mark=False) == 2
    rows = [line.split(";")[1:4] for line in out.getvalue().splitlines()[1:]]
    assert sorted(rows) == [["EHZ-7", "1.8.1", "11500"], ["EHZ-7", "1.8.2", "6000"]]


def test_two_photos_of_one_register_with_different_values_go_to_a_clerk(ctx: AppContext) -> None:
    cold, _ = cold_and_warm(ctx)
    reader = reader_for({(PHOTO_A, None): read("00200"), (PHOTO_B, None): read("00210")})
    assert run_one(ctx, photos(PHOTO_A, PHOTO_B), reader).status == "review"
    task = only_task(ctx)
    assert task.reason_codes == [reasons.CONFLICTING_PHOTOS] and booked(ctx) == {}
    assert task.details is not None
    assert [(i["meter_id"], i["value"]) for i in task.details["items"]] == [
        (cold, "200"), (cold, "210"),
    ]  # fmt: skip


def test_a_meter_without_readings_is_booked_when_the_others_histories_rule_the_value_out(
    ctx: AppContext,
) -> None:
    water, power = water_and_electricity(ctx, power_history=False)
    reader = drums_or_display("25200")
    # 25 000 m³ of water in half a year is no household's; 25 200 kWh fits a meter nobody read
    assert run_one(ctx, photos(PHOTO_A), reader).status == "accepted"
    assert booked(ctx) == {(power, "1.8.0"): Decimal(25200)}
    audit = [r for r in all_of(ctx, AuditLog) if r.action == "reading_accepted"]
    assert {reasons.METER_BY_OTHERS_HISTORY, reasons.NO_HISTORY} <= set(audit[0].details["notes"])
    assert water not in {meter for meter, _ in booked(ctx)}


def test_a_meter_chosen_only_by_excluding_the_others_is_confirmed_by_a_clerk(
    ctx: AppContext,
) -> None:
    _water, power = water_and_electricity(ctx, power_history=False)
    reader = drums_or_display("00200")
    # water's last reading again: no use since May, which the history cannot weigh
    assert run_one(ctx, photos(PHOTO_A), reader).status == "review"
    task = only_task(ctx)
    assert task.reason_codes == [reasons.METER_BY_EXCLUSION]
    assert (task.meter_id, task.proposed_value) == (power, Decimal(200))


def test_a_display_meter_without_readings_leaves_the_value_to_the_meter_it_fits(
    ctx: AppContext,
) -> None:
    with ctx.sessions.begin() as session:
        water = add_meter(session, "W-100", history=[("2025-11-20", "180"), ("2026-05-20", "200")])
        heat = add_meter(session, "H-300", kind="heat", integer_digits=6, display="lcd")
    reader = reader_for({(PHOTO_A, None): read("00215")})
    # 215 kWh of heat is a few days of a heating season: a heat meter nobody read could show
    # it, but far less likely than a water meter 15 m³ on since May
    assert run_one(ctx, photos(PHOTO_A), reader).status == "accepted"
    assert booked(ctx) == {(water, "1.8.0"): Decimal(215)}
    audit = [r for r in all_of(ctx, AuditLog) if r.action == "reading_accepted"]
    assert reasons.METER_BY_HISTORY in audit[0].details["notes"]
    assert heat not in {meter for meter, _ in booked(ctx)}


def test_a_value_a_meter_without_readings_makes_about_as_likely_goes_to_a_clerk(
    ctx: AppContext,
) -> None:
    with ctx.sessions.begin() as session:  # a warm-water meter nobody has read yet
        add_meter(session, "KW-1", history=[("2025-11-20", "100"), ("2026-05-20", "150")])
        add_meter(session, "WW-2")
    reader = reader_for({(PHOTO_A, None): read("00200")})  # just the use cold water expects
    assert run_one(ctx, photos(PHOTO_A), reader).status == "review"
    task = only_task(ctx)
    assert reasons.AMBIGUOUS_METER in task.reason_codes and booked(ctx) == {}


def test_a_meter_number_on_a_photo_from_an_unknown_sender_gets_that_meters_read(
    ctx: AppContext,
) -> None:
    cold, _ = cold_and_warm(ctx)
    seen: list[MeterHint] = []

    @per_hint
    def reader(data: bytes, hint: MeterHint, settings: Settings) -> MeterRead:
        seen.append(hint)
        return (
            read("00200", number="KW-1")
            if (hint.integer_digits, hint.display) == (5, "drum")
            else read("0200", accepted=False, number="KW-1")
        )

    mail = customer_mail(sender="fremd@example.de", photos=[("p.jpg", PHOTO_A)])
    assert run_one(ctx, mail, reader).status == "review"
    assert [(h.integer_digits, h.display) for h in seen] == [(None, None), (5, "drum")]
    task = only_task(ctx)
    assert task.reason_codes == [reasons.UNKNOWN_SENDER]
    assert (task.meter_id, task.proposed_value) == (cold, Decimal(200))


def test_an_unreadable_photo_leaves_the_clerk_the_typed_value(ctx: AppContext) -> None:
    with ctx.sessions.begin() as session:
        meter = add_meter(session, "KW-1", history=[("2026-05-20", "150")])
    mail = customer_mail(sender=CUSTOMER, body="Zählerstand 201", photos=[("p.jpg", PHOTO_A)])
    assert run_one(ctx, mail, reader_for({})).status == "review"
    task = only_task(ctx)
    assert task.reason_codes == [reasons.UNREADABLE_PHOTO]
    assert (task.meter_id, task.proposed_value) == (meter, Decimal(201))
    [value] = [c for c in task.candidates if c["kind"] == "value"]
    assert value["source"] == "typed"


def test_a_clerk_is_warned_when_the_value_leaves_the_expected_band(ctx: AppContext) -> None:
    cold, _ = cold_and_warm(ctx)
    reader = reader_for({(PHOTO_A, None): read("00200", accepted=False, number="KW-1")})
    run_one(ctx, photos(PHOTO_A), reader)
    with transaction(ctx.sessions) as session:
        result = resolve_task(
            session, only_task(ctx).id, action="correct", value=Decimal(900), meter_id=cold,
            clerk="petra", now=ctx.clock(),
        )  # fmt: skip
    assert result.warnings == (reasons.CONSUMPTION_ABOVE_EXPECTED,)
    assert booked(ctx) == {(cold, "1.8.0"): Decimal(900)}


def test_a_heat_meters_volume_screen_is_not_booked_as_its_energy(ctx: AppContext) -> None:
    with ctx.sessions.begin() as session:
        heat = add_meter(
            session, "H-300", kind="heat", integer_digits=6, display="lcd",
            history=[("2024-11-20", "10000"), ("2025-11-20", "11000")],
        )  # fmt: skip
    volume = MeterRead(reading="011500", confidence=0.99, accepted=True, display="lcd", unit="m³")
    reader = reader_for({(PHOTO_A, None): volume})
    assert run_one(ctx, photos(PHOTO_A), reader).status == "review"
    task = only_task(ctx)
    assert task.meter_id == heat
    assert reasons.OTHER_COUNTER_SHOWN in task.reason_codes
    assert booked(ctx) == {}


def test_the_export_register_on_the_display_is_not_booked_as_consumption(
    ctx: AppContext,
) -> None:
    with ctx.sessions.begin() as session:
        add_meter(
            session, "EHZ-9", kind="electricity", integer_digits=6, display="lcd",
            history=[("2024-11-20", "10000"), ("2025-11-20", "11000")],
        )  # fmt: skip
    export = MeterRead(reading="011500", confidence=0.99, accepted=True, obis="2.8.0")
    reader = reader_for({(PHOTO_A, None): export})
    assert run_one(ctx, photos(PHOTO_A), reader).status == "review"
    assert reasons.OTHER_COUNTER_SHOWN in only_task(ctx).reason_codes
    assert booked(ctx) == {}


def test_a_sure_read_of_a_gj_display_on_a_meter_billed_in_mwh_is_not_called_unsure(
    ctx: AppContext,
) -> None:
    with ctx.sessions.begin() as session:
        heat = add_meter(
            session, "H-400", kind="heat", integer_digits=5, display="lcd",
            history=[("2024-11-20", "80"), ("2025-11-20", "88.1")],
        )  # fmt: skip
        meter = session.get(Meter, heat)
        assert meter is not None
        meter.unit, meter.decimal_digits = "MWh", 3
    # 96,150 GJ would fit the MWh history as it stands (8,05 MWh in a year)
    gj = MeterRead(
        reading="00096", fraction="150", confidence=0.99, accepted=True, display="lcd", unit="GJ"
    )
    reader = reader_for({(PHOTO_A, None): gj})
    assert run_one(ctx, photos(PHOTO_A), reader).status == "review"
    task = only_task(ctx)
    assert (task.meter_id, task.reason_codes) == (heat, [reasons.OTHER_COUNTER_SHOWN])
    assert booked(ctx) == {}
    assert {r.details["unit"] for r in all_of(ctx, OcrResult)} == {"GJ"}  # for the clerk
