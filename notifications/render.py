"""Render a customer mail (subject, text, HTML) from the Jinja2 templates in `templates/`.

Layout: `templates/<lang>/<kind>.txt` sets the subject (`{% set subject %}…{% endset %}`) and is
the plain-text body; `templates/<lang>/<kind>.html` extends the shared `templates/_base.html`.
Partials start with `_`. HTML is autoescaped, text is not (it is never interpreted as markup).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import (
    Environment,
    FileSystemLoader,
    StrictUndefined,
    UndefinedError,
    pass_context,
    select_autoescape,
)
from jinja2.runtime import Context

from core.formatting import format_date, format_number, format_reading, rate_places
from notifications.errors import TemplateContextError
from notifications.headers import clean_header_text

TEMPLATE_DIR = Path(__file__).parent / "templates"
LANGUAGES = ("de", "en")
DEFAULT_LANGUAGE = "de"
# why we ask for a new photo; `clerk`: a clerk rejected the reading, `clerk_note` says why
RESEND_REASONS = ("no_photo", "unreadable", "unknown_sender", "too_large", "clerk")

# Required context keys per mail kind; see docs/notifications.md for their meaning.
REQUIRED: dict[str, frozenset[str]] = {
    "confirmation": frozenset({"readings"}),
    "received_review": frozenset(),
    "resend_request": frozenset({"reason"}),
    "reminder": frozenset({"meters", "due_from", "due_to"}),
    "reminder_followup": frozenset({"meters", "due_from", "due_to"}),
    "correction_received": frozenset({"meter_number", "old"}),
}
OPTIONAL_DEFAULTS: dict[str, Any] = {
    "customer_name": None,
    "meter_number": None,
    "meter_kind": None,
    "limit_mb": None,  # resend_request for a too large mail: the mailbox's limit, German format
    "unsubscribe_url": None,  # reminders: the one-click link (notifications.unsubscribe)
    "installment": None,  # confirmation: the Abschlag hint (notifications.installment)
    "clerk_note": None,  # resend_request with reason clerk: the clerk's words to the customer
    "not_sender": False,  # a reply to the address on file, about a mail from another address
    "new": None,  # correction_received: the value the customer gives now (a reading mapping)
}
KINDS = tuple(REQUIRED)

_METER_KINDS = {
    "de": {"electricity": "Stromzähler", "gas": "Gaszähler", "water": "Wasserzähler",
           "heat": "Wärmemengenzähler"},
    "en": {"electricity": "electricity meter", "gas": "gas meter", "water": "water meter",
           "heat": "heat meter"},
}  # fmt: skip


@dataclass(frozen=True)
class RenderedMail:
    subject: str
    text: str
    html: str


def normalize_language(language: str | None) -> str:
    """'de-DE' -> 'de', 'EN' -> 'en'; anything we have no templates for -> 'de'."""
    code = (language or "").strip().lower().replace("_", "-").split("-")[0]
    return code if code in LANGUAGES else DEFAULT_LANGUAGE


def render(kind: str, language: str, context: Mapping[str, Any]) -> RenderedMail:
    """Render mail `kind` in `language` (unknown languages fall back to German)."""
    lang = normalize_language(language)
    values = _checked_context(kind, context)
    env = _environment()
    try:
        module = env.get_template(f"{lang}/{kind}.txt").make_module({**values, "lang": lang})
        subject = clean_header_text(str(getattr(module, "subject", "")))
        text = str(module).strip() + "\n"
        html = env.get_template(f"{lang}/{kind}.html").render(
            {**values, "lang": lang, "subject": subject}
        )
    except UndefinedError as exc:
        raise TemplateContextError(f"Vorlage {lang}/{kind}: {exc.message}") from exc
    return RenderedMail(subject=subject, text=text, html=html)


def _checked_context(kind: str, context: Mapping[str, Any]) -> dict[str, Any]:
    if kind not in REQUIRED:
        raise TemplateContextError(f"unbekannte Mail-Art {kind!r} (bekannt: {', '.join(KINDS)})")
    missing = sorted(key for key in REQUIRED[kind] if context.get(key) is None)
    if missing:
        raise TemplateContextError(f"Mail-Art {kind!r}: es fehlt {', '.join(missing)}")
    if kind in ("reminder", "reminder_followup") and not context["meters"]:
        raise TemplateContextError(f"Mail-Art {kind!r}: die Liste der Zähler ist leer")
    if kind == "resend_request" and context["reason"] not in RESEND_REASONS:
        raise TemplateContextError(
            f"unbekannter Grund {context['reason']!r} (bekannt: {', '.join(RESEND_REASONS)})"
        )
    return {**OPTIONAL_DEFAULTS, **context}


@cache
def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATE_DIR),
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["date"] = _date_filter
    env.filters["reading"] = _reading_filter
    env.filters["meter_kind"] = _meter_kind_filter
    env.filters["number"] = _number_filter
    env.filters["rate"] = _rate_filter
    env.filters["unit"] = _unit_filter
    env.filters["euros"] = _euros_filter
    return env


@pass_context
def _date_filter(ctx: Context, value: dt.date | dt.datetime) -> str:
    day = value.date() if isinstance(value, dt.datetime) else value
    return format_date(day, lang=ctx["lang"])


@pass_context
def _reading_filter(ctx: Context, reading: Mapping[str, Any]) -> str:
    """A reading mapping (`value`, `unit`, `decimal_digits`) -> '12.345,6 kWh'."""
    value = Decimal(str(reading["value"]))
    return format_reading(
        value, int(reading.get("decimal_digits") or 0), str(reading["unit"]), lang=ctx["lang"]
    )


@pass_context
def _number_filter(ctx: Context, value: Decimal | float | int, places: int = 0) -> str:
    return format_number(Decimal(str(value)), places, lang=ctx["lang"])


@pass_context
def _rate_filter(ctx: Context, value: Decimal | float | int) -> str:
    """A consumption per day: two decimals, more for a small one (`rate_places`)."""
    return format_number(Decimal(str(value)), rate_places(value), lang=ctx["lang"])


@pass_context
def _euros_filter(ctx: Context, value: Decimal) -> str:
    amount = format_number(Decimal(str(value)), 0, lang=ctx["lang"])
    return f"{amount} €" if ctx["lang"] == "de" else f"€{amount}"


def _unit_filter(unit: str) -> str:
    return {"m3": "m³"}.get(unit, unit)


@pass_context
def _meter_kind_filter(ctx: Context, kind: str | None) -> str:
    labels = _METER_KINDS[ctx["lang"]]
    return labels.get(kind or "", "Zähler" if ctx["lang"] == "de" else "meter")
