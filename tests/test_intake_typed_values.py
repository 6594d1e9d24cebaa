"""Typed numbers that are not readings, quoted text and corrections, from plain strings; the
year-as-reading mail through the pipeline on both databases."""

from __future__ import annotations

from decimal import Decimal

import pytest

from core.context import AppContext
from core.models import ContractAccount, Customer, Meter, Reading, ReviewTask
from core.settings import Settings
from core.types import MeterHint, MeterRead
from intake.hints import extract_hints, find_readings, find_typed_readings
from intake.typed_values import says_correction, unquoted, without_lines_of
from tests.readers import per_hint
from tests.samples import customer_mail, meter_photo, seed_meter
from tests.test_intake_pipeline import all_of, run_one

JPEG = meter_photo("012345", "6", seed=2)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Zählerstand 2026 … 12.345,6", ["12345.6"]),
        ("Zählerstand 2026: 12.345,6 kWh", ["12345.6"]),
        ("Zählerstand für das Jahr 2025: 4521", ["4521"]),
        ("Stand Ende 2025 - 8.456", ["8456"]),
        ("Zählerstand 2026", ["2026"]),  # nothing else typed: it may well be the reading
        ("Zählerstand 1999 kWh", ["1999"]),
        ("Zählerstand vom 2026-12-01: 4521", ["4521"]),
        ("Stand 2026-12-01", []),  # an ISO date, not a reading
        ("Stand: 45,50 € Abschlag", []),
        ("Zählerstand 4521, Abschlag 45,50 EUR", ["4521"]),
        ("Stand € 120,- pro Monat", []),
        ("Stand heute 10:30 Uhr: 4521", ["4521"]),
        ("Zählerstand bitte Tel. 0351 1234567 anrufen", []),
        ("Zählerstand 4521, Handy +49 170 1234567", ["4521"]),
        ("Stand 0351/123456", []),  # a phone number with its area code
        ("Kundennummer 5551234, Zählerstand 4521", ["4521"]),
        ("Zählernummer 12345678 Zählerstand 4521", ["4521"]),
        ("Stand 19 %", []),
        ("der Stand ist falsch, richtig ist 00123", ["123"]),
        ("der richtige Wert wäre 4.522", ["4522"]),
        ("korrekt ist 4522,5", ["4522.5"]),
    ],
)
def test_typed_numbers_that_are_not_readings(text: str, expected: list[str]) -> None:
    assert find_readings(text) == tuple(Decimal(v) for v in expected)


CONFIRMATION = """Guten Tag Erika Mustermann,

vielen Dank für Ihre Meldung. Wir haben diesen Zählerstand übernommen:

  Zählernummer:  12345678
  Zählerstand:   4.521 m³
  Ablesedatum:   20.11.2026

Sie müssen nichts weiter tun. Stimmt ein Wert nicht, antworten Sie bitte einfach auf diese E-Mail.
"""


@pytest.mark.parametrize(
    "reply",
    [
        "Der Stand ist falsch, richtig ist 4.512.\n\n> Zählerstand:   4.521 m³\n> Ablesedatum: x",
        "Der Stand ist falsch, richtig ist 4.512.\n\nAm 20.11.2026 um 10:31 schrieb Zählerstand "
        "<zaehlerstand@stadtwerke.example>:\n" + CONFIRMATION,
        "Der Stand ist falsch, richtig ist 4.512.\n\n-----Ursprüngliche Nachricht-----\n"
        + CONFIRMATION,
        "Der Stand ist falsch, richtig ist 4.512.\n\nVon: Zählerstand <z@stadtwerke.example>\n"
        "Gesendet: Freitag, 20. November 2026 10:31\nAn: erika@example.de\n" + CONFIRMATION,
    ],
    ids=["gt-quotes", "attribution", "original-message", "outlook"],
)
def test_a_value_quoted_from_our_mail_is_not_a_reading(reply: str) -> None:
    assert extract_hints("Re: Ihr Zählerstand wurde übernommen", reply).readings == (
        Decimal("4512"),
    )


def test_lines_of_our_own_mail_are_left_out_also_without_quote_marks() -> None:
    reply = "Das stimmt nicht, es sind 4.512 m³.\n" + CONFIRMATION
    assert find_readings(reply) == (Decimal("4512"), Decimal("4521"))
    mine = without_lines_of(reply, CONFIRMATION)
    assert mine.strip() == "Das stimmt nicht, es sind 4.512 m³."
    assert find_readings(mine) == (Decimal("4512"),)


def test_unquoted_keeps_the_customers_own_lines() -> None:
    assert unquoted("Hallo,\n> alt 1\nneu 2\nOn Mon, 1 Dec 2026, X wrote:\nalt 3") == (
        "Hallo,\nneu 2"
    )
    assert unquoted("Am Montag hat mein Mann abgelesen:\nStand 4521") == (
        "Am Montag hat mein Mann abgelesen:\nStand 4521"
    )
    assert unquoted("ok\nAm 20.11.2026 hat Zählerstand <z@x.de> geschrieben:\n> 1") == "ok"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("der Stand ist falsch, richtig ist 00123", True),
        ("Bitte korrigieren Sie den Zählerstand", True),
        ("Das stimmt nicht", True),
        ("Ich habe mich vertippt", True),
        ("Vielen Dank für die Bestätigung!", False),
        ("Anbei der neue Stand 4530", False),
    ],
)
def test_says_correction(text: str, expected: bool) -> None:
    assert says_correction(text) is expected


@pytest.fixture
def electricity(ctx: AppContext) -> AppContext:
    with ctx.sessions.begin() as session:
        seed_meter(
            session, email="erika@example.de", account="123456789", meter="1ESY1160123456",
            kind="electricity", unit="kWh", integer_digits=6, decimal_digits=1,
        )  # fmt: skip
    return ctx


YEAR_MAIL = "Guten Tag,\nZählerstand 2026 … 12.345,6\nTel. 0351 1234567\nViele Grüße"


def test_the_year_as_reading_mail_proposes_the_reading(electricity: AppContext) -> None:
    row = run_one(electricity, customer_mail(sender="erika@example.de", body=YEAR_MAIL))
    assert row.status == "review"
    [task] = all_of(electricity, ReviewTask)
    assert task.proposed_value == Decimal("12345.6")
    assert "ambiguous_typed_value" not in task.reason_codes


def test_the_year_does_not_contradict_the_photo(electricity: AppContext) -> None:
    @per_hint
    def reader(data: bytes, hint: MeterHint, settings: Settings) -> MeterRead:
        return MeterRead(reading="012345", fraction="6", confidence=0.5, accepted=False)

    mail = customer_mail(sender="erika@example.de", body=YEAR_MAIL, photos=[("z.jpg", JPEG)])
    row = run_one(electricity, mail, reader)
    assert row.status == "accepted"  # the typed value confirms an unsure photo read
    [reading] = all_of(electricity, Reading)
    assert reading.value == Decimal("12345.6")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Zählerstand am 01.12.2026: 12.345,6 kWh", [("12345.6", "kWh")]),
        ("Zählerstand 12.345,6", [("12345.6", None)]),
        ("Stand 4.521 m³", [("4521", "m3")]),
        ("Zählerstand: 4.521 cbm", [("4521", "m3")]),
        ("Zählerstand 4521 Kubikmeter", [("4521", "m3")]),
        ("Zählerstand 12,345 MWh", [("12.345", "MWh")]),
        ("Zählerstand 123,4 GJ", [("123.4", "GJ")]),
        ("Zählerstand 1.234,5\u00a0KWH", [("1234.5", "kWh")]),
        ("Zählerstand 4521\nkWh", [("4521", None)]),  # a unit on the next line is not its own
        ("Strom 12.345 kWh, Gas Stand 4.567", [("12345", "kWh"), ("4567", None)]),
        ("Stand 12.345, also 12.345 kWh", [("12345", "kWh")]),
        ("Stand 12 m3 oder 12 kWh", [("12", None)]),  # one value, two units: none is its own
    ],
)
def test_typed_readings_keep_the_unit_written_right_after(
    text: str, expected: list[tuple[str, str | None]]
) -> None:
    assert find_typed_readings(text) == tuple((Decimal(v), u) for v, u in expected)
    hints = extract_hints("Zählerstand", text)
    assert (hints.readings, hints.reading_units) == (
        tuple(Decimal(v) for v, _ in expected),
        tuple(u for _, u in expected),
    )


_KINDS = {"electricity": ("kWh", "E-0001"), "gas": ("m3", "G-0002"), "water": ("m3", "W-0003")}


def _meter(account: ContractAccount, kind: str) -> Meter:
    unit, number = _KINDS[kind]
    return Meter(number=number, account=account, kind=kind, unit=unit, integer_digits=6,
                 decimal_digits=1, registers="1.8.0")  # fmt: skip


def _meters(ctx: AppContext, kinds: tuple[str, ...]) -> dict[str, int]:
    """One customer with a meter of each of `kinds` on one contract account."""
    with ctx.sessions.begin() as session:
        customer = Customer(name="Erika Mustermann", email="erika@example.de", language="de")
        account = ContractAccount(number="123456789", customer=customer)
        meters = {kind: _meter(account, kind) for kind in kinds}
        session.add_all([customer, account, *meters.values()])
        session.flush()
        return {kind: meter.id for kind, meter in meters.items()}


@pytest.mark.parametrize(
    ("kinds", "typed", "proposed"),
    [
        (("electricity", "gas", "water"), "12.345,6 kWh", "electricity"),
        (("electricity", "gas"), "1.234,5 cbm", "gas"),
        (("electricity", "gas", "water"), "1.234,5 m³", None),  # gas and water count volume
        (("electricity", "gas", "water"), "12.345,6", None),  # no unit
        (("electricity", "gas"), "12.345,6 kWh und 1.234,5 m³", None),  # both quantities
        (("electricity", "gas"), "12.345,6 kWh, Gas: Stand 1.234,5", None),  # one without unit
    ],
)
def test_the_typed_unit_proposes_the_only_meter_counting_its_quantity(
    ctx: AppContext, kinds: tuple[str, ...], typed: str, proposed: str | None
) -> None:
    ids = _meters(ctx, kinds)
    body = f"Guten Tag,\nZählerstand am 01.12.2026: {typed}\nViele Grüße"
    row = run_one(ctx, customer_mail(sender="erika@example.de", body=body))
    assert row.status == "review"  # a typed value without a photo is never booked
    assert all_of(ctx, Reading) == []
    [task] = all_of(ctx, ReviewTask)
    assert "typed_without_photo" in task.reason_codes
    if proposed is None:
        assert task.meter_id is None and "ambiguous_meter" in task.reason_codes
        assert "meter_by_typed_unit" not in task.reason_codes
    else:
        assert task.meter_id == ids[proposed]
        assert task.candidates[0]["meter_id"] == ids[proposed]
        assert "meter_by_typed_unit" in task.reason_codes
        assert "ambiguous_meter" not in task.reason_codes
