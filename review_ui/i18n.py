"""UI texts in German (first) and English, and the choice of language per request.

Numbers and dates stay German in both languages: the clerks work on German billing data.
"""

from __future__ import annotations

from collections.abc import Callable

from matching import reasons
from review_ui import i18n_mail, i18n_work

LANGUAGES = ("de", "en")
LANG_COOKIE = "mi_lang"

Translator = Callable[[str], str]

_DE: dict[str, str] = {
    "app.title": "Zählerstand-Prüfung",
    "nav.queue": "Prüfliste",
    "nav.messages": "Posteingang",
    "nav.logout": "Abmelden",
    "nav.language": "English",
    "login.title": "Anmelden",
    "login.username": "Benutzername",
    "login.password": "Passwort",
    "login.submit": "Anmelden",
    "login.failed": "Benutzername oder Passwort ist falsch.",
    "login.locked": "Zu viele Fehlversuche. Bitte in {seconds} Sekunden erneut versuchen.",
    "login.expired": "Ihre Sitzung ist abgelaufen. Bitte melden Sie sich erneut an.",
    "queue.title": "Offene Prüfaufgaben",
    "queue.empty": "Keine offenen Aufgaben – alles erledigt.",
    "queue.received": "Eingang",
    "queue.age": "Alter",
    "queue.sender": "Absender",
    "queue.subject": "Betreff",
    "queue.reasons": "Grund",
    "queue.value": "Vorschlag",
    "queue.open": "Öffnen",
    "queue.count": "Offen: {count}",
    "task.title": "Prüfaufgabe #{id}",
    "task.photo": "Foto",
    "task.no_photo": "Kein Foto vorhanden.",
    "task.mail": "E-Mail",
    "facts.earlier_mail": "Foto schon eingesandt mit Eingang",
    "facts.distance": "Bildabstand (Bits)",
    "facts.taken": "Foto aufgenommen",
    "facts.last_reading_on": "Letzter Stand vom",
    "facts.corrected_mail": "Korrigiert den Stand aus Eingang",
    "facts.old_value": "Bisher gebucht",
    "facts.new_value": "Vom Kunden jetzt angegeben",
    "facts.same_day_mail": "Anderer Stand desselben Tages aus Eingang",
    "facts.same_day_value": "Am selben Tag gebucht (wird beim Buchen ersetzt)",
    "facts.sender_check": "Absenderprüfung",
    "facts.new_photo": "Neues Foto angefordert",
    "facts.replaced_by_mail": "Erledigt: Stand vom neuen Foto gebucht aus Eingang",
    "task.ocr": "Erkannter Stand",
    "task.ocr_none": "Kein Wert erkannt.",
    "task.confidence": "Sicherheit",
    "task.display_shows": "Auf der Anzeige",
    "task.meter_counts_in": "Zähler rechnet in",
    "task.digits": "Linie unter der Ziffer: grün sicher, gelb fraglich, rot unsicher.",
    "task.hints": "Hinweise",
    "hint.value_typed": "Im Text getippter Stand",
    "hint.value_photo": "Stand vom Foto",
    "hint.value_ocr_alternative": "Andere mögliche Lesart",
    "hint.ocr_meter_number": "Zählernummer auf dem Foto",
    "task.candidates": "Zähler",
    "task.no_candidates": "Kein passender Zähler gefunden – bitte Zählernummer suchen.",
    "task.search": "Zählernummer suchen",
    "task.search_button": "Suchen",
    "task.search_none": "Kein Zähler gefunden.",
    "task.value": "Zählerstand",
    "task.value_help": "Deutsches Format, z. B. 12.345,6 – Enter übernimmt.",
    "task.accept": "Übernehmen",
    "task.correct": "Korrigiert speichern",
    "task.reject": "Ablehnen",
    "task.reject_reason": "Ablehnungsgrund",
    "task.reject_help": "Kunden per E-Mail um ein neues Foto bitten",
    "task.decided": "Diese Aufgabe wurde bereits entschieden ({decision}, {clerk}, {at}).",
    "task.done_flash": "Aufgabe #{id} erledigt: {decision}.",
    "task.warnings": "Hinweise zur Plausibilität",
    "task.error_value": "Bitte einen gültigen Zählerstand eingeben (z. B. 12.345,6).",
    "task.error_meter": "Bitte einen Zähler auswählen.",
    "task.error_reason": "Bitte einen Ablehnungsgrund angeben.",
    "task.history": "Verlauf",
    "task.last_reading": "Letzter Stand",
    "task.customer": "Kunde",
    "task.account": "Vertragskonto",
    "meter.title": "Zähler {number}",
    "meter.history": "Ablesungen",
    "meter.chart": "Verbrauch pro Tag",
    "meter.no_history": "Noch keine Ablesungen.",
    "hist.date": "Datum",
    "hist.value": "Stand",
    "hist.source": "Quelle",
    "hist.status": "Status",
    "hist.by": "Erfasst von",
    "hist.consumption": "Verbrauch",
    "hist.per_day": "pro Tag",
    "messages.title": "Posteingang (alle E-Mails)",
    "messages.all": "Alle",
    "messages.status": "Status",
    "messages.error": "Fehler",
    "messages.attempts": "Versuche",
    "messages.empty": "Keine E-Mails mit diesem Status.",
    "messages.task": "Aufgabe",
    "error.not_found": "Nicht gefunden.",
    "error.photo_unavailable": (
        "Dieses Foto lässt sich nicht anzeigen (beschädigt, zu groß oder ein unbekanntes Format)."
    ),
    "error.csrf": "Ungültiges Formular-Token. Bitte Seite neu laden.",
    "common.kind": "Art",
    "common.unit": "Einheit",
    "common.back": "Zurück zur Liste",
}

_EN: dict[str, str] = {
    "app.title": "Meter reading review",
    "nav.queue": "Review queue",
    "nav.messages": "Inbox",
    "nav.logout": "Log out",
    "nav.language": "Deutsch",
    "login.title": "Log in",
    "login.username": "User name",
    "login.password": "Password",
    "login.submit": "Log in",
    "login.failed": "User name or password is wrong.",
    "login.locked": "Too many failed attempts. Please try again in {seconds} seconds.",
    "login.expired": "Your session has expired. Please log in again.",
    "queue.title": "Open review tasks",
    "queue.empty": "No open tasks – all done.",
    "queue.received": "Received",
    "queue.age": "Age",
    "queue.sender": "Sender",
    "queue.subject": "Subject",
    "queue.reasons": "Reason",
    "queue.value": "Proposal",
    "queue.open": "Open",
    "queue.count": "Open: {count}",
    "task.title": "Review task #{id}",
    "task.photo": "Photo",
    "task.no_photo": "No photo.",
    "task.mail": "Mail",
    "facts.earlier_mail": "Photo already sent with mail",
    "facts.distance": "Image distance (bits)",
    "facts.taken": "Photo taken",
    "facts.last_reading_on": "Last reading on",
    "facts.corrected_mail": "Corrects the reading from mail",
    "facts.old_value": "Booked so far",
    "facts.new_value": "Customer now gives",
    "facts.same_day_mail": "Other reading of the same day from mail",
    "facts.same_day_value": "Booked for the same day (replaced when you book)",
    "facts.sender_check": "Sender check",
    "facts.new_photo": "New photo requested",
    "facts.replaced_by_mail": "Done: reading from the new photo booked from mail",
    "task.ocr": "Recognised reading",
    "task.ocr_none": "No value recognised.",
    "task.confidence": "Confidence",
    "task.display_shows": "On the display",
    "task.meter_counts_in": "meter counts in",
    "task.digits": "Line under each digit: green certain, yellow doubtful, red uncertain.",
    "task.hints": "Hints",
    "hint.value_typed": "Reading typed in the mail",
    "hint.value_photo": "Reading from the photo",
    "hint.value_ocr_alternative": "Other possible reading",
    "hint.ocr_meter_number": "Meter number on the photo",
    "task.candidates": "Meter",
    "task.no_candidates": "No matching meter found – please search by meter number.",
    "task.search": "Search meter number",
    "task.search_button": "Search",
    "task.search_none": "No meter found.",
    "task.value": "Reading",
    "task.value_help": "German format, e.g. 12.345,6 – Enter accepts.",
    "task.accept": "Accept",
    "task.correct": "Save correction",
    "task.reject": "Reject",
    "task.reject_reason": "Reason for rejection",
    "task.reject_help": "Ask the customer for a new photo by email",
    "task.decided": "This task has already been decided ({decision}, {clerk}, {at}).",
    "task.done_flash": "Task #{id} done: {decision}.",
    "task.warnings": "Plausibility notes",
    "task.error_value": "Please enter a valid reading (e.g. 12.345,6).",
    "task.error_meter": "Please choose a meter.",
    "task.error_reason": "Please give a reason for the rejection.",
    "task.history": "History",
    "task.last_reading": "Last reading",
    "task.customer": "Customer",
    "task.account": "Contract account",
    "meter.title": "Meter {number}",
    "meter.history": "Readings",
    "meter.chart": "Consumption per day",
    "meter.no_history": "No readings yet.",
    "hist.date": "Date",
    "hist.value": "Reading",
    "hist.source": "Source",
    "hist.status": "Status",
    "hist.by": "Recorded by",
    "hist.consumption": "Consumption",
    "hist.per_day": "per day",
    "messages.title": "Inbox (all mails)",
    "messages.all": "All",
    "messages.status": "Status",
    "messages.error": "Error",
    "messages.attempts": "Attempts",
    "messages.empty": "No mails with this status.",
    "messages.task": "Task",
    "error.not_found": "Not found.",
    "error.photo_unavailable": "This photo cannot be shown (damaged, too large, unknown kind).",
    "error.csrf": "Invalid form token. Please reload the page.",
    "common.kind": "Kind",
    "common.unit": "Unit",
    "common.back": "Back to the list",
}

# Codes stored by other stages (statuses, sources, kinds) shown as words. Reason codes come with
# their German labels from `matching.reasons`; English ones are kept here.
_CODES_DE: dict[str, str] = {
    "new": "Neu",
    "processing": "In Bearbeitung",
    "accepted": "Angenommen",
    "review": "In Prüfung",
    "rejected": "Abgelehnt",
    "ignored": "Ignoriert",
    "duplicate": "Duplikat",
    "failed": "Fehlgeschlagen",
    "corrected": "Korrigiert",
    "superseded": "Ersetzt",
    "open": "Offen",
    "done": "Erledigt",
    "import": "Import",
    "photo": "Foto",
    "typed": "Getippt",
    "clerk": "Sachbearbeitung",
    "auto": "Automatisch",
    "electricity": "Strom",
    "gas": "Gas",
    "water": "Wasser",
    "heat": "Wärme",
    "drum": "Rollenzählwerk",
    "lcd": "Digitalanzeige",
    "sender": "Absender",
    "meter_number_text": "Zählernummer im Text",
    "meter_number_photo": "Zählernummer auf dem Foto",
    "account": "Vertragskonto im Text",
    **i18n_mail.CODES_DE,
    **i18n_work.CODES_DE,
}

_CODES_EN: dict[str, str] = {
    reasons.UNKNOWN_SENDER: "Sender is not a known customer",
    reasons.NO_METER: "No meter found",
    reasons.AMBIGUOUS_METER: "Several meters possible",
    reasons.METER_BY_TYPED_UNIT: "Meter proposed only by the typed unit (kWh / m³)",
    reasons.METER_NUMBER_MISMATCH: "Meter number does not belong to the customer",
    reasons.ACCOUNT_MISMATCH: "Contract account does not belong to the customer",
    reasons.METER_REMOVED: "Meter has been removed",
    reasons.MULTIPLE_REGISTERS: "Meter has several registers",
    reasons.NO_VALUE: "No reading recognised",
    reasons.NO_CONTENT: "Neither photo nor reading in the mail",
    reasons.UNREADABLE_PHOTO: "Photo unreadable",
    reasons.LOW_CONFIDENCE: "Recognition uncertain",
    reasons.TYPED_WITHOUT_PHOTO: "Reading typed only, no photo",
    reasons.TYPED_PHOTO_MISMATCH: "Typed reading differs from the photo",
    reasons.AMBIGUOUS_TYPED_VALUE: "Several typed readings",
    reasons.TOO_MANY_DIGITS: "More integer digits than the meter has",
    reasons.TOO_MANY_DECIMALS: "More decimals than the meter has",
    reasons.NEGATIVE_VALUE: "Negative reading",
    reasons.BELOW_LAST_READING: "Below the last reading",
    reasons.METER_ROLLOVER: "Meter rolled over",
    reasons.CONSUMPTION_TOO_HIGH: "Unusually high consumption per day",
    reasons.DATE_BEFORE_LAST_READING: "Read date before the last reading",
    reasons.TYPED_MATCHES_PHOTO: "Typed reading confirms the photo",
    reasons.PHOTO_REUSED: "Photo was sent before",
    reasons.PHOTO_SIMILAR: "Photo resembles one sent before",
    reasons.PHOTO_OLD: "Photo is older than the mail or the last reading",
    reasons.CORRECTION_REQUEST: "Customer corrects a confirmed reading",
    reasons.OTHER_READING_SAME_DAY: "Another reading is already booked for this day",
    reasons.SENDER_NOT_VERIFIED: "Sender not confirmed (SPF/DKIM/DMARC)",
    reasons.OTHER_COUNTER_SHOWN: "Display shows another quantity or register (unit / OBIS code)",
    "corrected": "Corrected",
    "superseded": "Replaced",
    "typed": "Typed",
    "clerk": "Clerk",
    "auto": "Automatic",
    "electricity": "Electricity",
    "water": "Water",
    "heat": "Heat",
    "drum": "Drum counter",
    "lcd": "Digital display",
    "sender": "Sender",
    "meter_number_text": "Meter number in the text",
    "meter_number_photo": "Meter number on the photo",
    "account": "Contract account in the text",
    "review": "In review",
    "photo": "Photo",
    **i18n_mail.CODES_EN,
    **i18n_work.CODES_EN,
}

_TEXTS = {
    "de": {**_DE, **i18n_mail.DE, **i18n_work.DE},
    "en": {**_EN, **i18n_mail.EN, **i18n_work.EN},
}


def translator(lang: str) -> Translator:
    german = _TEXTS["de"]
    texts = _TEXTS.get(lang, german)

    def translate(key: str) -> str:
        return texts.get(key) or german.get(key, key)

    return translate


def code_label(code: str | None, lang: str) -> str:
    """A stored code as a word; unknown codes are shown as they are (never hidden)."""
    if not code:
        return ""
    if lang == "en":
        return _CODES_EN.get(code, code.replace("_", " ").capitalize())
    return _CODES_DE.get(code) or reasons.LABELS.get(code, code)


def choose_language(query: str | None, cookie: str | None, accept_language: str | None) -> str:
    """`?lang=` wins, then the remembered cookie, then Accept-Language; else German."""
    for candidate in (query, cookie):
        if candidate in LANGUAGES:
            return candidate
    return _from_accept_language(accept_language or "")


def _from_accept_language(header: str) -> str:
    best, best_q = "de", -1.0
    for part in header.split(","):
        pieces = part.strip().split(";")
        tag = pieces[0].strip().lower()[:2]
        q = 1.0
        for param in pieces[1:]:
            name, _, raw = param.strip().partition("=")
            if name == "q":
                try:
                    q = float(raw)
                except ValueError:
                    q = 0.0
        if tag in LANGUAGES and q > best_q:
            best, best_q = tag, q
    return best
