"""match_submission against a real database (SQLite and PostgreSQL). `seed` is shared with the
other matching DB tests."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from decimal import Decimal

import pytest
from sqlalchemy.orm import Session

from core.context import AppContext
from core.db import transaction
from core.models import ContractAccount, Customer, Meter, Reading
from core.types import MatchResult, MeterRead, Submission, TextHints
from matching import reasons
from matching.resolve import match_submission

TODAY = dt.date(2026, 11, 20)


@dataclass(frozen=True)
class Seed:
    erika: int
    john: int
    e_meter: int  # Erika, electricity 6+1 digits, last 12000.0 on 2026-10-01
    g_meter: int  # Erika, gas 5+3 digits, m3, no history
    w_meter: int  # John, water 5+3, last 100.000 on 2026-10-20
    old_meter: int  # John, removed
    ht_nt: int  # Max, two registers
    anna_meter: int  # Anna, 6+0 digits, last 999500 (near rollover)


def _meter(account: ContractAccount, number: str, kind: str, unit: str, *digits: int) -> Meter:
    return Meter(
        number=number,
        account=account,
        kind=kind,
        unit=unit,
        integer_digits=digits[0],
        decimal_digits=digits[1],
    )


def _account(number: str, name: str, email: str, language: str = "de") -> ContractAccount:
    return ContractAccount(
        number=number, customer=Customer(name=name, email=email, language=language)
    )


def seed(session: Session) -> Seed:
    erika = _account("100200300", "Erika Mustermann", "erika@example.org")
    john = _account("100200301", "John Smith", "John.Smith@Example.org", "en")
    e = _meter(erika, "1ESY1160123456", "electricity", "kWh", 6, 1)
    g = _meter(erika, "GAS-0815", "gas", "m3", 5, 3)
    w = _meter(john, "W-123", "water", "m3", 5, 3)
    old = _meter(john, "W-OLD", "water", "m3", 5, 3)
    old.removed_on = dt.date(2025, 1, 1)
    ht = _meter(
        _account("100200302", "Max", "max@example.org"), "2ESY99", "electricity", "kWh", 6, 1
    )
    ht.registers = "1.8.1,1.8.2"
    anna = _meter(
        _account("100200303", "Anna", "anna@example.org"), "1ESY777", "electricity", "kWh", 6, 0
    )
    session.add_all([e, g, w, old, ht, anna])
    session.flush()
    for meter, value, day in ((e, "12000.0", 1), (w, "100.000", 20), (anna, "999500", 20)):
        session.add(
            Reading(
                meter_id=meter.id,
                value=Decimal(value),
                read_on=dt.date(2026, 10, day),
                source="import",
            )
        )
    session.flush()
    return Seed(erika.customer.id, john.customer.id, e.id, g.id, w.id, old.id, ht.id, anna.id)


def submission(
    sender: str | None,
    *,
    accounts: tuple[str, ...] = (),
    meters: tuple[str, ...] = (),
    readings: tuple[str, ...] = (),
) -> Submission:
    return Submission(
        ledger_id=1,
        sender=sender,
        sender_name=None,
        subject="Zählerstand",
        body_text="",
        message_id="<m1@example.org>",
        received_at=dt.datetime(2026, 11, 20, 8, 0, tzinfo=dt.UTC),
        hints=TextHints(
            account_numbers=accounts,
            meter_numbers=meters,
            readings=tuple(Decimal(r) for r in readings),
        ),
    )


def photo(reading: str = "012500", fraction: str | None = "5", **kw: object) -> MeterRead:
    return MeterRead(reading=reading, fraction=fraction, confidence=0.97, accepted=True, **kw)  # type: ignore[arg-type]


def _match(ctx: AppContext, sub: Submission, read: MeterRead | None) -> tuple[Seed, MatchResult]:
    with transaction(ctx.sessions) as session:
        ids = seed(session)
        return ids, match_submission(session, sub, read, today=TODAY)


def test_single_active_meter_of_sender_is_matched(ctx: AppContext) -> None:
    ids, match = _match(ctx, submission("john.smith@example.org"), photo("00123", "456"))
    assert match.meter is not None and match.meter.meter_id == ids.w_meter
    assert match.customer_id == ids.john
    assert match.value == Decimal("123.456") and match.value_source == "photo"
    assert match.reason_codes == ()
    assert match.meter.why == ("sender",)


def test_sender_is_matched_case_insensitively_with_display_name(ctx: AppContext) -> None:
    ids, match = _match(
        ctx, submission('"Smith, John" <JOHN.SMITH@example.ORG>'), photo("00123", "4")
    )
    assert match.meter is not None and match.meter.meter_id == ids.w_meter


def test_two_meters_without_hints_are_ambiguous(ctx: AppContext) -> None:
    ids, match = _match(ctx, submission("erika@example.org"), photo())
    assert match.meter is None
    assert reasons.AMBIGUOUS_METER in match.reason_codes
    assert {c.meter_id for c in match.candidates} == {ids.e_meter, ids.g_meter}
    assert match.customer_id == ids.erika


def test_meter_number_read_from_photo_picks_the_meter(ctx: AppContext) -> None:
    read = photo(meter_number="1 ESY 1160 123456")
    ids, match = _match(ctx, submission("erika@example.org"), read)
    assert match.meter is not None and match.meter.meter_id == ids.e_meter
    assert match.meter.why == ("sender", "meter_number_photo")
    assert match.reason_codes == ()


def test_typed_meter_number_picks_the_meter_and_account_hint_alone_does_not(
    ctx: AppContext,
) -> None:
    ids, match = _match(
        ctx, submission("erika@example.org", meters=("gas-0815",)), photo("01234", "567")
    )
    assert match.meter is not None and match.meter.meter_id == ids.g_meter
    with transaction(ctx.sessions) as session:
        both = match_submission(
            session,
            submission("erika@example.org", accounts=("100 200 300",)),
            photo(),
            today=TODAY,
        )
    assert both.meter is None and reasons.AMBIGUOUS_METER in both.reason_codes


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ("Zähler: GAS-0815\nStand: 4.630,500", True),  # an HTML table's cells as text
        ("hier der Gaszähler gas 0815", True),
        ("Zählerstand GAS-08150", False),  # not the number: a longer token
        ("> Zählernummer:  GAS-0815\nHier mein Stromzähler", False),  # quoted from our mail
    ],
)
def test_the_senders_meter_number_in_any_spelling_picks_the_meter(
    ctx: AppContext, body: str, named: bool
) -> None:
    sub = replace(submission("erika@example.org"), body_text=body)
    ids, match = _match(ctx, sub, photo("01234", "567"))
    if named:
        assert match.meter is not None and match.meter.meter_id == ids.g_meter
        assert match.meter.why == ("sender", "meter_number_text")
    else:
        assert match.meter is None and reasons.AMBIGUOUS_METER in match.reason_codes


def test_unknown_sender_with_meter_number_identifies_meter_but_is_flagged(
    ctx: AppContext,
) -> None:
    ids, match = _match(
        ctx, submission("stranger@example.net", meters=("GAS-0815",)), photo("01234", "5")
    )
    assert match.meter is not None and match.meter.meter_id == ids.g_meter
    assert match.customer_id == ids.erika
    assert reasons.UNKNOWN_SENDER in match.reason_codes


def test_unknown_sender_without_hints_has_no_meter(ctx: AppContext) -> None:
    _, match = _match(ctx, submission("stranger@example.net"), photo())
    assert match.meter is None and match.customer_id is None
    assert match.reason_codes[:2] == (reasons.UNKNOWN_SENDER, reasons.NO_METER)


def test_photo_of_another_customers_meter_is_a_mismatch(ctx: AppContext) -> None:
    ids, match = _match(
        ctx, submission("john.smith@example.org"), photo("00123", "4", meter_number="GAS-0815")
    )
    assert match.meter is not None and match.meter.meter_id == ids.w_meter
    assert reasons.METER_NUMBER_MISMATCH in match.reason_codes
    assert ids.g_meter in {c.meter_id for c in match.candidates}


def test_account_of_another_customer_is_a_mismatch(ctx: AppContext) -> None:
    _, match = _match(
        ctx, submission("john.smith@example.org", accounts=("100200300",)), photo("00123", "4")
    )
    assert reasons.ACCOUNT_MISMATCH in match.reason_codes


def test_hint_for_removed_meter_is_flagged(ctx: AppContext) -> None:
    ids, match = _match(
        ctx, submission("john.smith@example.org", meters=("W-OLD",)), photo("00123", "4")
    )
    assert match.meter is not None and match.meter.meter_id == ids.w_meter
    assert reasons.METER_REMOVED in match.reason_codes
    assert ids.old_meter not in {c.meter_id for c in match.candidates}


def test_typed_value_without_photo(ctx: AppContext) -> None:
    _, match = _match(ctx, submission("john.smith@example.org", readings=("130.5",)), None)
    assert match.value == Decimal("130.5") and match.value_source == "typed"
    assert match.reason_codes == ()


def test_typed_value_confirms_or_contradicts_photo(ctx: AppContext) -> None:
    _, agree = _match(
        ctx, submission("john.smith@example.org", readings=("123",)), photo("00123", "456")
    )
    assert agree.value == Decimal("123.456") and agree.value_source == "photo"
    assert agree.reason_codes == (reasons.TYPED_MATCHES_PHOTO,)
    with transaction(ctx.sessions) as session:
        clash = match_submission(
            session,
            submission("john.smith@example.org", readings=("321",)),
            photo("00123", "456"),
            today=TODAY,
        )
    assert clash.reason_codes == (reasons.TYPED_PHOTO_MISMATCH,)


def test_plausibility_codes_are_part_of_the_match(ctx: AppContext) -> None:
    _, below = _match(ctx, submission("john.smith@example.org"), photo("00099", "000"))
    assert below.reason_codes == (reasons.BELOW_LAST_READING,)
    with transaction(ctx.sessions) as session:
        rolled = match_submission(
            session, submission("anna@example.org"), photo("000300", None), today=TODAY
        )
        huge = match_submission(
            session, submission("john.smith@example.org"), photo("99999", "0"), today=TODAY
        )
    assert rolled.reason_codes == (reasons.METER_ROLLOVER,)
    assert huge.reason_codes == (reasons.CONSUMPTION_TOO_HIGH,)


def test_meter_with_two_registers_goes_to_review(ctx: AppContext) -> None:
    ids, match = _match(ctx, submission("max@example.org"), photo())
    assert match.meter is not None and match.meter.meter_id == ids.ht_nt
    assert reasons.MULTIPLE_REGISTERS in match.reason_codes
