from __future__ import annotations

import datetime as dt
import errno
import os
from decimal import Decimal

import pytest

from core.formatting import (
    format_date,
    format_number,
    format_reading,
    os_error_text,
    parse_date,
    parse_german_decimal,
    rate_places,
)


@pytest.mark.parametrize(
    ("value", "places", "expected"),
    [(Decimal("12345.6"), 1, "12.345,6"), (Decimal("92"), 0, "92"), (1234567, 2, "1.234.567,00")],
)
def test_german_numbers(value: Decimal, places: int, expected: str) -> None:
    assert format_number(value, places) == expected


@pytest.mark.parametrize(
    ("per_day", "expected"),
    [
        ("11.58", "11,58"),
        ("0.22", "0,22"),
        ("0.022512", "0,023"),
        ("0.0004", "0,0004"),
        ("0", "0,00"),
    ],
)
def test_a_small_consumption_per_day_keeps_two_significant_digits(
    per_day: str, expected: str
) -> None:
    value = Decimal(per_day)
    assert format_number(value, rate_places(value)) == expected


def test_english_numbers_and_units() -> None:
    assert format_number(Decimal("12345.6"), 1, lang="en") == "12,345.6"
    assert format_reading(Decimal("92.125"), 3, "m3") == "92,125 m³"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("12.345,6", "12345.6"),
        ("12345,6", "12345.6"),
        ("12.345", "12345"),
        ("12345.6", "12345.6"),
        ("1.234.567", "1234567"),
        (" 00092 ", "92"),
    ],
)
def test_parse_german_decimal(text: str, expected: str) -> None:
    assert parse_german_decimal(text) == Decimal(expected)


@pytest.mark.parametrize("text", ["zwölf", "1e5", "-12", "NaN", "Infinity", "", "1,2e3"])
def test_parse_rejects_garbage(text: str) -> None:
    with pytest.raises(ValueError, match="keine Zahl"):
        parse_german_decimal(text)


def test_dates() -> None:
    assert format_date(dt.date(2026, 3, 1)) == "01.03.2026"
    assert parse_date("01.03.2026") == parse_date("2026-03-01") == dt.date(2026, 3, 1)


@pytest.mark.parametrize(
    ("code", "german"),
    [
        (errno.ENOENT, "Datei oder Verzeichnis nicht gefunden"),
        (errno.EACCES, "Keine Berechtigung"),
        (errno.ENOSPC, "Kein Speicherplatz mehr auf dem Gerät"),
        (errno.EISDIR, "Ist ein Verzeichnis"),
        (errno.ENOTDIR, "Ist kein Verzeichnis"),
    ],
)
def test_common_os_errors_are_said_in_german(code: int, german: str) -> None:
    assert os_error_text(OSError(code, os.strerror(code), "/srv/x")) == german


def test_a_rare_os_error_keeps_the_system_text() -> None:
    assert os_error_text(OSError(errno.ELOOP, "Too many levels of symbolic links")) == (
        "Too many levels of symbolic links"
    )
    assert os_error_text(OSError("kaputt")) == "kaputt"


def test_an_os_error_can_name_its_file() -> None:
    missing = OSError(errno.ENOENT, "No such file or directory", "/srv/mail/new")
    assert os_error_text(missing, named=True) == (
        "/srv/mail/new: Datei oder Verzeichnis nicht gefunden"
    )
