"""German number and date formats for everything customers and clerks read."""

from __future__ import annotations

import datetime as dt
import errno
import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

UNIT_LABELS = {"m3": "m³", "kWh": "kWh"}
OS_ERRORS_DE = {
    errno.ENOENT: "Datei oder Verzeichnis nicht gefunden",
    errno.EACCES: "Keine Berechtigung",
    errno.EPERM: "Vorgang nicht erlaubt",
    errno.ENOSPC: "Kein Speicherplatz mehr auf dem Gerät",
    errno.EDQUOT: "Speicherkontingent (Quota) überschritten",
    errno.EROFS: "Dateisystem ist nur lesbar",
    errno.EISDIR: "Ist ein Verzeichnis",
    errno.ENOTDIR: "Ist kein Verzeichnis",
}


def format_number(value: Decimal | float | int, places: int = 0, *, lang: str = "de") -> str:
    """12345.6 -> '12.345,6' (de) or '12,345.6' (en); `places` fixes the decimals."""
    quantum = Decimal(1).scaleb(-places)
    number = Decimal(str(value)).quantize(quantum, rounding=ROUND_HALF_UP)
    english = f"{number:,.{places}f}"
    if lang == "en":
        return english
    return english.replace(",", "\0").replace(".", ",").replace("\0", ".")


def os_error_text(exc: OSError, *, named: bool = False) -> str:
    """The reason of an OS error for a German message, without errno (`named`: after its file
    name); the system's own (English) text for the rare ones."""
    reason = OS_ERRORS_DE.get(exc.errno or 0) or exc.strerror or str(exc)
    return f"{exc.filename}: {reason}" if named and exc.filename else reason


def rate_places(value: Decimal | float | int, places: int = 2) -> int:
    """Decimals for a consumption per day: `places`, more where that would leave fewer than two
    significant digits (0,022 MWh a day on a heat meter billed in MWh, not 0,02), but none the
    value does not have (0,005, not 0,0050)."""
    size = abs(Decimal(str(value)))
    if size == 0 or not size.is_finite() or size.adjusted() + places >= 1:
        return places
    own = -int(size.as_tuple().exponent)
    return min(1 - size.adjusted(), max(own, places), 6)


def format_reading(value: Decimal, decimal_digits: int, unit: str, *, lang: str = "de") -> str:
    return f"{format_number(value, decimal_digits, lang=lang)} {UNIT_LABELS.get(unit, unit)}"


def format_date(value: dt.date, *, lang: str = "de") -> str:
    return value.strftime("%d.%m.%Y") if lang == "de" else value.isoformat()


def format_datetime(value: dt.datetime, *, lang: str = "de") -> str:
    from core.context import BERLIN

    local = value.astimezone(BERLIN)
    return local.strftime("%d.%m.%Y %H:%M") if lang == "de" else local.strftime("%Y-%m-%d %H:%M")


def parse_german_decimal(text: str) -> Decimal:
    """'12.345,6' -> 12345.6; '12345,6' -> 12345.6; '12345.6' (one dot, ≠3 decimals) -> 12345.6."""
    cleaned = text.strip().replace(" ", "").replace("\u00a0", "")
    if not re.fullmatch(r"[0-9.,]*[0-9][0-9.,]*", cleaned):  # no signs, exponents, NaN
        raise ValueError(f"keine Zahl: {text!r}")
    if "," in cleaned:
        cleaned = cleaned.replace(".", "").replace(",", ".")
    elif cleaned.count(".") > 1 or (cleaned.count(".") == 1 and len(cleaned.split(".")[1]) == 3):
        cleaned = cleaned.replace(".", "")
    try:
        return Decimal(cleaned)
    except InvalidOperation as exc:
        raise ValueError(f"keine Zahl: {text!r}") from exc


def parse_date(text: str) -> dt.date:
    """'01.11.2026' or '2026-11-01'."""
    value = text.strip()
    for fmt in ("%d.%m.%Y", "%Y-%m-%d", "%d.%m.%y"):
        try:
            return dt.datetime.strptime(value, fmt).replace(tzinfo=dt.UTC).date()
        except ValueError:
            continue
    raise ValueError(f"kein Datum: {text!r} (TT.MM.JJJJ oder JJJJ-MM-TT)")
