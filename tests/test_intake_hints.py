"""Text hints from plain strings: account numbers, meter numbers, typed readings."""

from __future__ import annotations

from decimal import Decimal

import pytest

from intake.hints import extract_hints, find_account_numbers, find_meter_numbers, find_readings


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Vertragskonto 123456789", ("123456789",)),
        ("Vertragskontonummer: 400012345678", ("400012345678",)),
        ("VK-Nr. 123456789", ("123456789",)),
        ("VK Nr: 987654321", ("987654321",)),
        ("Kundennummer 5551234", ("5551234",)),
        ("Kunden-Nr.: 1234 5678 90", ("1234567890",)),
        ("Vertragsnummer lautet 20304050", ("20304050",)),
        ("meine vertragskonto-nr. ist 123456789.", ("123456789",)),
        ("Konto bei der Sparkasse 123456789", ()),
        ("Vertragskonto 12345", ()),  # too short to be an account number
        ("", ()),
    ],
)
def test_account_numbers(text: str, expected: tuple[str, ...]) -> None:
    assert find_account_numbers(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Zählernummer: 12345678", ("12345678",)),
        ("Zähler-Nr. 1ESY1160123456", ("1ESY1160123456",)),
        ("Zaehlernummer 87654321", ("87654321",)),
        ("Zählernr. AB1234567", ("AB1234567",)),
        ("Gerätenummer 99887766", ("99887766",)),
        ("Mein Zähler 12345678 zeigt", ("12345678",)),
        ("das Gerät 1 ESY 11 6012 3456 im Keller", ("1ESY1160123456",)),
        ("siehe 1esy1160123456", ("1ESY1160123456",)),
        ("Zählerstand 12345678", ()),  # a reading, not a meter number
        ("Zähler 123456 kWh", ()),  # a number with a unit is a reading
        ("Zähler-Nr. 12345678 und Zählernummer 12345678", ("12345678",)),
        ("Zählernummer: unbekannt", ()),
    ],
)
def test_meter_numbers(text: str, expected: tuple[str, ...]) -> None:
    assert find_meter_numbers(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Zählerstand: 12.345,6", ["12345.6"]),
        ("Zählerstand 12345", ["12345"]),
        ("Zaehlerstand 004521", ["4521"]),
        ("12345 kWh", ["12345"]),
        ("Stand heute 12.345 kWh", ["12345"]),
        ("123,45 m³", ["123.45"]),
        ("Wasser: 123,456 m3", ["123.456"]),
        ("Gas 4711,2 cbm", ["4711.2"]),
        ("Zählerstand vom 01.11.2026: 12.345,6", ["12345.6"]),
        ("Zählerstand am 3.11.26 ist 4521", ["4521"]),
        ("Zählerstand (1.8.0): 8456,3 kWh", ["8456.3"]),
        ("Zählerstand 1-0:1.8.0 = 8456", ["8456"]),
        ("Mein Zählerstand beträgt 7.890", ["7890"]),
        ("abgelesen: 55555,5", ["55555.5"]),
        ("Zählerstand:\n12345", ["12345"]),
        ("HT 1.234 kWh, NT 2.345 kWh", ["1234", "2345"]),
        ("Zählerstand 12345 kWh", ["12345"]),  # keyword and unit name the same number once
        ("12345.6 kWh", ["12345.6"]),
        ("Zählerstand: <b>4521</b>", []),  # not our format; HTML is converted to text before
    ],
)
def test_readings(text: str, expected: list[str]) -> None:
    assert find_readings(text) == tuple(Decimal(v) for v in expected)


@pytest.mark.parametrize(
    "text",
    [
        "Datum: 01.11.2026",
        "am 24.12.2025 abgeschickt",
        "Tel. 0171 1234567",
        "Telefon: +49 221 123456",
        "erreichbar unter 0221/123456",
        "Musterstraße 5, 50667 Köln",
        "Vertragskonto 123456789",
        "Zählernummer 12345678",
        "Zähler-Nr. 1ESY1160123456",
        "Zählerstand für Zähler 12345678 folgt im Anhang",
        "Ihr Jahresverbrauch: 3.500 kWh",
        "Abschlag 45 € bei 2500 kWh",
        "Preis 0,32 €/kWh",
        "Zählerstand 0171 1234567",
        "Meine Nachricht von 10:30 Uhr",
        "Abstand 12 cm",
        "Foto anbei, Gruß Max",
    ],
)
def test_not_readings(text: str) -> None:
    assert find_readings(text) == ()


def test_extract_hints_combines_subject_and_body() -> None:
    hints = extract_hints(
        "Zählerstand VK 123456789",
        "Hallo,\nZählernummer 1ESY1160123456, Stand 12.345,6 kWh am 01.11.2026.\n"
        "Tel. 0171 1234567\nMusterweg 3, 12345 Musterstadt",
    )
    assert hints.account_numbers == ("123456789",)
    assert hints.meter_numbers == ("1ESY1160123456",)
    assert hints.readings == (Decimal("12345.6"),)


def test_hints_ignore_huge_text_tail() -> None:
    text = "x" * 50_000 + " Zählerstand 12345"
    assert extract_hints(text).readings == ()
