"""Templates: German formats, both languages, autoescaping, reason-specific wording."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from notifications.errors import TemplateContextError
from notifications.render import KINDS, LANGUAGES, normalize_language, render

READING = {
    "meter_number": "1ESY1160123456",
    "value": Decimal("12345.6"),
    "unit": "kWh",
    "decimal_digits": 1,
    "read_on": dt.date(2026, 11, 20),
}
GAS = {"number": "7GAS0042", "kind": "gas"}
WINDOW = {
    "meters": [GAS],
    "due_from": dt.date(2026, 11, 1),
    "due_to": dt.date(2026, 11, 30),
}
CONTEXTS: dict[str, dict[str, Any]] = {
    "confirmation": {"customer_name": "Erika Mustermann", "readings": [READING]},
    "received_review": {"customer_name": "Erika Mustermann"},
    "resend_request": {"reason": "unreadable"},
    "reminder": WINDOW,
    "reminder_followup": WINDOW,
    "correction_received": {
        "meter_number": "1ESY1160123456",
        "old": READING,
        "new": {**READING, "value": Decimal("12354.6")},
    },
}


def test_confirmation_uses_german_number_unit_and_date() -> None:
    mail = render("confirmation", "de", CONTEXTS["confirmation"])
    assert mail.subject == "Ihr Zählerstand wurde übernommen – Zähler 1ESY1160123456"
    for part in (mail.text, mail.html):
        assert "12.345,6 kWh" in part
        assert "20.11.2026" in part
        assert "1ESY1160123456" in part
    assert mail.text.startswith("Guten Tag Erika Mustermann,\n")


def test_confirmation_lists_several_readings_with_cubic_metres_and_registers() -> None:
    water = {**READING, "meter_number": "W1", "value": Decimal("812"), "unit": "m3",
             "decimal_digits": 3, "register": "1.8.1"}  # fmt: skip
    mail = render("confirmation", "de", {"readings": [READING, water]})
    assert "812,000 m³" in mail.text
    assert "Zählwerk:      1.8.1" in mail.text
    assert "diese Zählerstände" in mail.text
    assert mail.subject == "Ihr Zählerstand wurde übernommen"
    assert mail.text.startswith("Guten Tag,\n")


def test_english_uses_english_formats() -> None:
    mail = render("confirmation", "en-GB", CONTEXTS["confirmation"])
    assert "12,345.6 kWh" in mail.text
    assert "2026-11-20" in mail.text
    assert mail.subject.startswith("Your meter reading has been recorded")
    assert '<html lang="en">' in mail.html


def test_customer_data_is_escaped_in_html_only() -> None:
    context = {**CONTEXTS["confirmation"], "customer_name": "<script>alert(1)</script>"}
    mail = render("confirmation", "de", context)
    assert "<script>" not in mail.html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in mail.html
    assert "Guten Tag <script>alert(1)</script>," in mail.text  # plain text is never markup


def test_line_breaks_in_customer_data_never_reach_the_subject() -> None:
    context = {**WINDOW, "meters": [{"number": "X1\r\nBcc: victim@example.org", "kind": "gas"}]}
    mail = render("reminder", "de", context)
    assert "\r" not in mail.subject and "\n" not in mail.subject
    assert mail.subject.endswith("Zähler X1 Bcc: victim@example.org")


@pytest.mark.parametrize("language", ["fr", "", "xx-YY", "DE"])
def test_unknown_language_falls_back_to_german(language: str) -> None:
    assert normalize_language(language) == "de"
    assert render("reminder", language, WINDOW) == render("reminder", "de", WINDOW)


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_renders_in_every_language_on_the_shared_layout(
    kind: str, language: str
) -> None:
    mail = render(kind, language, CONTEXTS[kind])
    assert mail.subject and "\n" not in mail.subject
    assert mail.text.endswith("\n") and "{{" not in mail.text and "{%" not in mail.text
    assert mail.html.startswith("<!DOCTYPE html>")
    assert f'<html lang="{language}">' in mail.html
    assert f"<title>{mail.subject}</title>" in mail.html
    signature = "Mit freundlichen Grüßen" if language == "de" else "Kind regards"
    assert signature in mail.text and signature in mail.html


def test_resend_request_wording_depends_on_the_reason() -> None:
    no_photo = render("resend_request", "de", {"reason": "no_photo"})
    unreadable = render("resend_request", "de", {"reason": "unreadable"})
    unknown = render("resend_request", "de", {"reason": "unknown_sender"})
    assert no_photo.subject == "Bitte senden Sie uns ein Foto Ihres Zählers"
    assert "kein Foto" in no_photo.text
    assert unreadable.subject == "Bitte senden Sie uns ein deutlicheres Foto Ihres Zählers"
    assert "nicht sicher erkennen" in unreadable.text
    for mail in (no_photo, unreadable):
        assert "gerade von vorn" in mail.text and "Blitz" in mail.html
    assert "Vertragskontonummer" in unknown.subject
    assert "Vertragskontonummer" in unknown.text and "Zählernummer" in unknown.text
    assert "<strong>Vertragskontonummer</strong>" in unknown.html
    too_large = render("resend_request", "de", {"reason": "too_large", "limit_mb": "25"})
    assert too_large.subject.startswith("Ihre E-Mail war zu groß")
    for part in (too_large.text, too_large.html):
        assert "(höchstens 25 MB)" in part and "„mittel“" in part
    english = render("resend_request", "en", {"reason": "too_large", "limit_mb": "25"})
    assert "too large" in english.subject and "(at most 25 MB)" in english.text


def test_reminder_names_meter_kind_window_and_how_to_reply() -> None:
    mail = render("reminder", "de", {**WINDOW, "customer_name": "Jörg Öztürk"})
    assert mail.subject == "Bitte teilen Sie uns Ihren Zählerstand mit – Zähler 7GAS0042"
    assert "Gaszähler" in mail.text
    assert "01.11.2026 bis 30.11.2026" in mail.text
    assert "Antworten Sie auf diese E-Mail" in mail.text
    followup = render("reminder_followup", "de", WINDOW)
    assert followup.subject.startswith("Erinnerung:")
    assert "bis spätestens 30.11.2026" in followup.text


def test_one_reminder_lists_every_meter_with_plural_wording() -> None:
    water = {"number": "W-77", "kind": "water"}
    power = {"number": "1ESY1160123456", "kind": "electricity"}
    mail = render("reminder", "de", {**WINDOW, "meters": [GAS, water, power]})
    assert mail.subject == "Bitte teilen Sie uns Ihre Zählerstände mit – 3 Zähler"
    assert "den aktuellen Stand dieser Zähler:" in mail.text
    for line in ("Gaszähler 7GAS0042", "Wasserzähler W-77", "Stromzähler 1ESY1160123456"):
        assert line in mail.text
    assert "Ablesezeitraum: 01.11.2026 bis 30.11.2026" in mail.text
    assert "W-77" in mail.html and "Wasserzähler" in mail.html
    followup = render("reminder_followup", "en", {**WINDOW, "meters": [GAS, water]})
    assert followup.subject == "Reminder: we are still missing 2 meter readings"
    assert "We have not received them yet" in followup.text


def test_reminder_offers_the_unsubscribe_link_only_when_there_is_one() -> None:
    link = "https://zaehler.stadtwerke.example/abmelden/MTI.abc"
    mail = render("reminder", "de", {**WINDOW, "unsubscribe_url": link})
    assert f"Abmelden: {link}" in mail.text
    assert f'href="{link}"' in mail.html
    assert "Abmelden" not in render("reminder", "de", WINDOW).text


def test_reminder_without_meters_is_refused() -> None:
    with pytest.raises(TemplateContextError, match="Liste der Zähler ist leer"):
        render("reminder", "de", {**WINDOW, "meters": []})


@pytest.mark.parametrize(
    ("kind", "context", "message"),
    [
        ("postcard", {}, "unbekannte Mail-Art"),
        ("confirmation", {}, "readings"),
        ("reminder", {"meters": [GAS]}, "due_from"),
        ("resend_request", {"reason": "bored"}, "unbekannter Grund"),
    ],
)
def test_bad_kind_or_context_is_refused_clearly(
    kind: str, context: dict[str, Any], message: str
) -> None:
    with pytest.raises(TemplateContextError, match=message):
        render(kind, "de", context)


@pytest.mark.parametrize("language", LANGUAGES)
def test_correction_notice_shows_both_values_and_asks_for_nothing(language: str) -> None:
    mail = render("correction_received", language, CONTEXTS["correction_received"])
    old, new = ("12.345,6", "12.354,6") if language == "de" else ("12,345.6", "12,354.6")
    for part in (mail.text, mail.html):
        assert old in part and new in part and "1ESY1160123456" in part
    without_value = {**CONTEXTS["correction_received"], "new": None}
    assert new not in render("correction_received", language, without_value).text


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("kind", ["confirmation", "received_review", "correction_received"])
def test_a_reply_to_the_address_on_file_says_so_only_when_the_sender_differs(
    kind: str, language: str
) -> None:
    note = "anderen Adresse" if language == "de" else "different address"
    plain = render(kind, language, CONTEXTS[kind])
    assert note not in plain.text and note not in plain.html
    other = render(kind, language, {**CONTEXTS[kind], "not_sender": True})
    assert note in other.text and note in other.html
