"""UI texts of the outbox ("Postausgang") and campaign ("Kampagnen") pages, German and English.

Kept apart from `review_ui.i18n` (which merges them) so neither module grows past its size.
"""

from __future__ import annotations

DE: dict[str, str] = {
    "nav.outbox": "Postausgang",
    "nav.campaigns": "Kampagnen",
    "error.forbidden": "Dafür fehlt Ihnen die Berechtigung.",
    "outbox.title": "Postausgang",
    "outbox.kind": "Art",
    "outbox.all_kinds": "Alle Arten",
    "outbox.recipient": "Empfänger",
    "outbox.created": "Eingeplant",
    "outbox.next_attempt": "Nächster Versuch",
    "outbox.last_error": "Letzter Fehler",
    "outbox.sent": "Gesendet",
    "outbox.answers": "Antwort auf",
    "outbox.empty": "Keine E-Mails mit diesem Filter.",
    "outbox.mail": "E-Mail #{id}",
    "outbox.detail_title": "Ausgehende E-Mail #{id}",
    "outbox.body": "Text",
    "outbox.html": "HTML-Teil (Quelltext)",
    "outbox.headers": "Kopfzeilen beim Versand",
    "outbox.headers_unusable": "Diese E-Mail kann so nicht versendet werden: {error}",
    "outbox.key": "Idempotenzschlüssel",
    "outbox.language": "Sprache",
    "outbox.campaign": "Kampagne",
    "outbox.retry": "Erneut versuchen",
    "outbox.retry_help": "Setzt die E-Mail auf „Ausstehend“; der Versand versucht sie sofort neu.",
    "outbox.retried": "E-Mail #{id} wird erneut versucht.",
    "outbox.not_failed": "E-Mail #{id} ist nicht fehlgeschlagen – nichts geändert.",
    "outbox.back": "Zurück zum Postausgang",
    "reply.label": "Antwort",
    "reply.pending": "eingeplant {at}",
    "reply.sent": "gesendet {at}",
    "reply.failed": "fehlgeschlagen",
    "reply.none": "keine",
    "campaigns.title": "Kampagnen",
    "campaigns.name": "Name",
    "campaigns.window": "Ablesezeitraum",
    "campaigns.status": "Status",
    "campaigns.recipients": "Zähler",
    "campaigns.answered": "Beantwortet",
    "campaigns.reminded": "Erinnert, offen",
    "campaigns.pending": "Nicht erinnert",
    "campaigns.reminders": "Erinnerungen",
    "campaigns.reminders_count": "{sent} gesendet, {pending} ausstehend, {failed} fehlgeschlagen",
    "campaigns.progress": "Fortschritt",
    "campaigns.progress_text": "{answered} von {total} Zählern beantwortet ({percent})",
    "campaigns.empty": "Noch keine Kampagnen.",
    "campaigns.created_by": "Gestartet von {who} am {at}",
    "campaigns.start": "Kampagne starten",
    "campaigns.start_help": (
        "Erinnert jeden Zähler, für den im Zeitraum noch kein Stand vorliegt. Derselbe Name "
        "noch einmal plant nur neu fällige Zähler ein – niemand bekommt eine Erinnerung doppelt."
    ),
    "campaigns.due_from": "Fällig ab",
    "campaigns.due_to": "Fällig bis",
    "campaigns.date_help": "TT.MM.JJJJ",
    "campaigns.read_only": "Kampagnen starten darf nur die Administration.",
    "campaigns.created": (
        "Kampagne „{name}“ ({due_from} bis {due_to}) angelegt: {mails} für {meters} eingeplant, "
        "{skipped} Zähler übersprungen (keine, ungültige oder unzustellbare E-Mail-Adresse), "
        "{opted_out} abgemeldet."
    ),
    "campaigns.existed": (
        "Kampagne „{name}“ ({due_from} bis {due_to}) gab es schon – nichts doppelt eingeplant: "
        "{mails} für {meters} neu fällige Zähler, {already} waren schon dabei, {skipped} "
        "übersprungen, {opted_out} abgemeldet."
    ),
    "campaigns.dry_run": (
        "Probelauf für „{name}“ ({due_from} bis {due_to}), nichts gespeichert: es würden {mails} "
        "für {meters} eingeplant, {already} Zähler sind schon dabei, {skipped} würden "
        "übersprungen, {opted_out} sind abgemeldet."
    ),
    "campaigns.preview": "Vorschau (Probelauf)",
    "campaigns.preview_title": "Vorschau der Erinnerungen",
    "campaigns.preview_note": (
        "So sähen die ersten Mails aus. Gespeichert und verschickt wird nichts."
    ),
    "campaigns.preview_to": "An",
    "campaigns.preview_none": "Niemand wäre zu erinnern.",
    "campaigns.pause": "Anhalten",
    "campaigns.resume": "Fortsetzen",
    "campaigns.cancel": "Abbrechen",
    "campaigns.control_help": (
        "Anhalten hält noch nicht verschickte Erinnerungen zurück, Abbrechen zieht sie endgültig "
        "zurück. Beides wird protokolliert."
    ),
    "campaigns.mail_one": "Erinnerung",
    "campaigns.mail_many": "Erinnerungen",
    "campaigns.meter_one": "Zähler",
    "campaigns.meter_many": "Zähler",
    "campaigns.error_name": "Bitte einen Namen für die Kampagne angeben.",
    "campaigns.error_date": "Bitte gültige Daten im Format TT.MM.JJJJ angeben.",
    "campaigns.detail_title": "Kampagne „{name}“",
    "campaigns.meter": "Zähler",
    "campaigns.customer": "Kunde",
    "campaigns.reminders_sent": "Erinnerungen",
    "campaigns.last_reminded": "Zuletzt erinnert",
    "campaigns.no_recipients": "Keine Zähler mit diesem Status.",
    "campaigns.unreached": "Nicht per E-Mail erreichbar: {count} Zähler",
    "campaigns.unreached_help": (
        "Fällige Zähler ohne Stand, deren Kunden keine Erinnerung bekommen können – "
        "bitte auf anderem Weg (Brief, Telefon) um den Stand bitten."
    ),
    "campaigns.address": "E-Mail-Adresse",
    "campaigns.why": "Grund",
    "campaigns.why_no_address": "keine, ungültige oder unzustellbare E-Mail-Adresse",
    "campaigns.why_opted_out": "von Erinnerungen abgemeldet",
    "campaigns.all": "Alle",
    "campaigns.back": "Zurück zu den Kampagnen",
}

EN: dict[str, str] = {
    "nav.outbox": "Outbox",
    "nav.campaigns": "Campaigns",
    "error.forbidden": "You are not allowed to do that.",
    "outbox.title": "Outbox",
    "outbox.kind": "Kind",
    "outbox.all_kinds": "All kinds",
    "outbox.recipient": "Recipient",
    "outbox.created": "Queued",
    "outbox.next_attempt": "Next attempt",
    "outbox.last_error": "Last error",
    "outbox.sent": "Sent",
    "outbox.answers": "Answers",
    "outbox.empty": "No mails match this filter.",
    "outbox.mail": "Mail #{id}",
    "outbox.detail_title": "Outgoing mail #{id}",
    "outbox.body": "Text",
    "outbox.html": "HTML part (source)",
    "outbox.headers": "Headers when sent",
    "outbox.headers_unusable": "This mail cannot be sent as it is: {error}",
    "outbox.key": "Idempotency key",
    "outbox.language": "Language",
    "outbox.campaign": "Campaign",
    "outbox.retry": "Try again",
    "outbox.retry_help": "Sets the mail back to pending; sending tries it again right away.",
    "outbox.retried": "Mail #{id} will be tried again.",
    "outbox.not_failed": "Mail #{id} has not failed – nothing changed.",
    "outbox.back": "Back to the outbox",
    "reply.label": "Reply",
    "reply.pending": "queued {at}",
    "reply.sent": "sent {at}",
    "reply.failed": "failed",
    "reply.none": "none",
    "campaigns.title": "Campaigns",
    "campaigns.name": "Name",
    "campaigns.window": "Reading window",
    "campaigns.status": "Status",
    "campaigns.recipients": "Meters",
    "campaigns.answered": "Answered",
    "campaigns.reminded": "Reminded, open",
    "campaigns.pending": "Not reminded",
    "campaigns.reminders": "Reminders",
    "campaigns.reminders_count": "{sent} sent, {pending} pending, {failed} failed",
    "campaigns.progress": "Progress",
    "campaigns.progress_text": "{answered} of {total} meters answered ({percent})",
    "campaigns.empty": "No campaigns yet.",
    "campaigns.created_by": "Started by {who} on {at}",
    "campaigns.start": "Start a campaign",
    "campaigns.start_help": (
        "Reminds every meter without a reading in the window. The same name again queues only "
        "meters that became due since – nobody gets a reminder twice."
    ),
    "campaigns.due_from": "Due from",
    "campaigns.due_to": "Due until",
    "campaigns.date_help": "DD.MM.YYYY",
    "campaigns.read_only": "Only administrators can start campaigns.",
    "campaigns.created": (
        "Campaign “{name}” ({due_from} to {due_to}) created: {mails} for {meters} queued, "
        "{skipped} meters skipped (no email address, an invalid or a bouncing one), "
        "{opted_out} unsubscribed."
    ),
    "campaigns.existed": (
        "Campaign “{name}” ({due_from} to {due_to}) existed already – nothing queued twice: "
        "{mails} for {meters} newly due, {already} were in already, {skipped} skipped, "
        "{opted_out} unsubscribed."
    ),
    "campaigns.dry_run": (
        "Dry run of “{name}” ({due_from} to {due_to}), nothing stored: it would queue {mails} "
        "for {meters}, {already} meters are in already, {skipped} would be skipped, "
        "{opted_out} unsubscribed."
    ),
    "campaigns.preview": "Preview (dry run)",
    "campaigns.preview_title": "Preview of the reminders",
    "campaigns.preview_note": (
        "This is what the first mails would look like. Nothing is stored or sent."
    ),
    "campaigns.preview_to": "To",
    "campaigns.preview_none": "Nobody would be reminded.",
    "campaigns.pause": "Pause",
    "campaigns.resume": "Resume",
    "campaigns.cancel": "Cancel",
    "campaigns.control_help": (
        "Pause holds reminders not yet sent, cancel withdraws them for good. Both are logged."
    ),
    "campaigns.mail_one": "reminder",
    "campaigns.mail_many": "reminders",
    "campaigns.meter_one": "meter",
    "campaigns.meter_many": "meters",
    "campaigns.error_name": "Please give the campaign a name.",
    "campaigns.error_date": "Please enter valid dates as DD.MM.YYYY.",
    "campaigns.detail_title": "Campaign “{name}”",
    "campaigns.meter": "Meter",
    "campaigns.customer": "Customer",
    "campaigns.reminders_sent": "Reminders",
    "campaigns.last_reminded": "Last reminded",
    "campaigns.no_recipients": "No meters with this status.",
    "campaigns.unreached": "Not reachable by email: {count} meters",
    "campaigns.unreached_help": (
        "Due meters without a reading whose customers cannot get a reminder – "
        "please ask for the reading another way (letter, phone)."
    ),
    "campaigns.address": "Email address",
    "campaigns.why": "Reason",
    "campaigns.why_no_address": "no email address, an invalid or a bouncing one",
    "campaigns.why_opted_out": "unsubscribed from reminders",
    "campaigns.all": "All",
    "campaigns.back": "Back to the campaigns",
}

# Stored codes of outbox rows and campaigns shown as words.
CODES_DE: dict[str, str] = {
    "pending": "Ausstehend",
    "sent": "Gesendet",
    "reminded": "Erinnert",
    "answered": "Beantwortet",
    "running": "Läuft",
    "paused": "Angehalten",
    "cancelled": "Abgebrochen",
    "held": "Zurückgehalten",
    "finished": "Beendet",
    "confirmation": "Bestätigung",
    "received_review": "Eingangsbestätigung",
    "resend_request": "Bitte neues Foto",
    "reminder": "Erinnerung",
    "reminder_followup": "Zweite Erinnerung",
    "correction_received": "Korrektur erhalten",
}

CODES_EN: dict[str, str] = {
    "pending": "Pending",
    "sent": "Sent",
    "reminded": "Reminded",
    "answered": "Answered",
    "running": "Running",
    "paused": "Paused",
    "cancelled": "Cancelled",
    "held": "Held",
    "finished": "Finished",
    "confirmation": "Confirmation",
    "received_review": "Receipt notice",
    "resend_request": "New photo requested",
    "reminder": "Reminder",
    "reminder_followup": "Second reminder",
    "correction_received": "Correction received",
}
