"""`meter-intake demo`: the embedded default from nothing, end to end.

Builds master data, a clerk and a handful of realistic customer mails (rendered meter photos) in the
Maildir, runs the worker once and prints what became of each mail.
"""

from __future__ import annotations

import csv
import logging
import mailbox
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path

from sqlalchemy import func, select

from app.context import migrated_context
from app.wiring import serve_with_worker
from core.context import AppContext
from core.models import InboundMessage, Outbox, ReviewTask, User
from core.settings import Settings
from intake.worker import run_worker
from matching.masterdata import import_csv
from matching.reasons import label
from ocr import synth
from review_ui.auth import add_user

log = logging.getLogger(__name__)

SERVICE_ADDRESS = "zaehlerstand@stadtwerke.example"
DEMO_DATE = "01.05.2026"
MASTER_DATA = [
    # account, name, email, language, meter, kind, unit, display (empty: not known), integer,
    # decimals, last reading
    (
        "100200301",
        "Erika Mustermann",
        "erika.mustermann@example.org",
        "de",
        "7WAS0012345",
        "water",
        "m3",
        "Rollen",
        5,
        3,
        "00312,450",
    ),
    (
        "100200302",
        "Max Müller",
        "max.mueller@example.org",
        "de",
        "3GAS0098765",
        "gas",
        "m3",
        "Rollen",
        5,
        3,
        "04150,000",
    ),
    (
        "100200303",
        "Jana Novak",
        "jana.novak@example.org",
        "en",
        "1ESY1160555001",
        "electricity",
        "kWh",
        "digital",
        6,
        1,
        "018200,0",
    ),
    (
        "100200304",
        "Hans Schmidt",
        "hans.schmidt@example.org",
        "de",
        "7WAS0044556",
        "water",
        "m3",
        "Rollen",
        5,
        3,
        "00087,100",
    ),
    (
        "100200305",
        "Fatma Yılmaz",
        "fatma.yilmaz@example.org",
        "de",
        "1ESY1160555002",
        "electricity",
        "kWh",
        "",
        6,
        1,
        "045000,0",
    ),
]


@dataclass(frozen=True)
class DemoMail:
    sender: str
    subject: str
    body: str
    photo: bytes | None
    note: str  # what the demo shows with this mail


def _photos() -> dict[str, bytes]:
    return {
        "straight": synth.encode_jpeg(
            synth.render_drum_meter("00321", "815", seed=3, meter_number="7WAS0012345")
        ),
        "angled": synth.encode_jpeg(
            synth.render_drum_meter(
                "04187", "236", seed=7, angle=-14, perspective=0.15, meter_number="3GAS0098765"
            )
        ),
        "lcd": synth.encode_jpeg(
            synth.render_lcd_meter("018342", "7", seed=11, meter_number="1ESY1160555001")
        ),
        "unreadable": synth.encode_jpeg(synth.render_unreadable(seed=5, kind="wall")),
        "stranger": synth.encode_jpeg(synth.render_drum_meter("00093", "004", seed=13, angle=6)),
    }


def demo_mails() -> list[DemoMail]:
    photos = _photos()
    return [
        DemoMail(
            "Erika Mustermann <erika.mustermann@example.org>",
            "Zählerstand Wasser",
            "Guten Tag,\nanbei mein Zählerstand.\nViele Grüße\nErika Mustermann",
            photos["straight"],
            "klares Foto einer Wasseruhr",
        ),
        DemoMail(
            "Max Müller <max.mueller@example.org>",
            "Gaszähler",
            "Hallo, hier das Foto vom Gaszähler.",
            photos["angled"],
            "Foto schräg aufgenommen",
        ),
        DemoMail(
            "Jana Novak <jana.novak@example.org>",
            "Meter reading",
            "Hello, please find my electricity meter attached.",
            photos["lcd"],
            "digitaler Stromzähler (LCD), englischsprachige Kundin",
        ),
        DemoMail(
            "Hans Schmidt <hans.schmidt@example.org>",
            "Zählerstand",
            "Foto anbei",
            photos["unreadable"],
            "Foto ohne erkennbaren Zähler",
        ),
        DemoMail(
            "Unbekannt <someone@elsewhere.example>",
            "<script>alert('x')</script> Zähler",
            "Mein Zählerstand, bitte eintragen.",
            photos["stranger"],
            "unbekannter Absender, HTML im Betreff",
        ),
        DemoMail(
            "Fatma Yılmaz <fatma.yilmaz@example.org>",
            "Zählerstand Strom",
            "Sehr geehrte Damen und Herren,\nmein Zählerstand für Zähler 1ESY1160555002 "
            "beträgt 45.873,4 kWh.\nMit freundlichen Grüßen\nFatma Yılmaz",
            None,
            "Zählerstand im Text getippt, kein Foto",
        ),
    ]


def build_message(mail: DemoMail, index: int, now_rfc: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = mail.sender
    message["To"] = SERVICE_ADDRESS
    message["Subject"] = mail.subject
    message["Date"] = now_rfc
    message["Message-ID"] = make_msgid(idstring=f"demo{index}", domain="demo.meter-intake")
    message.set_content(mail.body)
    if mail.photo is not None:
        message.add_attachment(
            mail.photo, maintype="image", subtype="jpeg", filename=f"zaehler-{index}.jpg"
        )
    return message


def write_master_data(path: Path) -> None:
    header = [
        "vertragskonto",
        "name",
        "email",
        "sprache",
        "zaehlernummer",
        "art",
        "einheit",
        "anzeige",
        "vorkommastellen",
        "nachkommastellen",
        "letzter_stand",
        "letzter_stand_datum",
    ]
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, delimiter=";")
        writer.writerow(header)
        for row in MASTER_DATA:
            writer.writerow([*row, DEMO_DATE])


def _ensure_clerk(ctx: AppContext) -> str | None:
    """Create the demo clerk and a separate admin once; returns the clerk's new password (None if
    the clerk exists). Both passwords go to var/demo-zugang.txt."""

    with ctx.sessions() as session:
        if session.scalar(select(User).where(User.username == "sachbearbeiter")):
            return None
    password = secrets.token_urlsafe(9)
    admin_password = secrets.token_urlsafe(12)
    add_user(ctx, "sachbearbeiter", password, role="clerk", display_name="Demo-Sachbearbeiter")
    add_user(ctx, "leitung", admin_password, role="admin", display_name="Demo-Leitung")
    (ctx.settings.var_dir / "demo-zugang.txt").write_text(
        f"Benutzer: sachbearbeiter\nPasswort: {password}\n\n"
        f"Administration: leitung\nPasswort: {admin_password}\n",
        encoding="utf-8",
    )
    return password


def _seed_mails(ctx: AppContext) -> list[DemoMail]:
    with ctx.sessions() as session:
        if session.scalar(select(func.count()).select_from(InboundMessage)):
            return []
    box = mailbox.Maildir(ctx.settings.effective_maildir, create=True)
    mails = demo_mails()
    now_rfc = format_datetime(ctx.clock())
    for index, mail in enumerate(mails, start=1):
        box.add(build_message(mail, index, now_rfc))
    return mails


STATUS_DE = {
    "accepted": "angenommen",
    "review": "zur Prüfung",
    "rejected": "abgelehnt",
    "ignored": "ignoriert",
    "duplicate": "Duplikat",
    "failed": "Fehler",
}
REPLY_DE = {
    "confirmation": "Bestätigung",
    "received_review": "Eingang, wird geprüft",
    "resend_request": "Bitte neues Foto",
}


@contextmanager
def _quiet_logs() -> Iterator[None]:
    """The demo prints its own table; per-mail INFO lines would bury it."""
    root = logging.getLogger()
    level = root.level
    root.setLevel(max(level, logging.WARNING))
    try:
        yield
    finally:
        root.setLevel(level)


def _print_table(ctx: AppContext, mails: list[DemoMail]) -> None:
    notes = {mail.subject: mail.note for mail in mails}
    with ctx.sessions() as session:
        rows = session.scalars(select(InboundMessage).order_by(InboundMessage.id)).all()
        replies = {r.inbound_message_id: r.kind for r in session.scalars(select(Outbox))}
        tasks = {t.inbound_message_id: t.reason_codes for t in session.scalars(select(ReviewTask))}
    print(f"\n{'Nr':>3}  {'Absender':<30} {'Ergebnis':<12} {'Antwort':<22} Hinweis")
    print("-" * 110)
    for row in rows:
        reasons = ", ".join(label(code) for code in tasks.get(row.id, []))
        note = notes.get(row.subject or "", "")
        detail = f"{note}" + (f" [{reasons}]" if reasons else "")
        if row.error:
            detail += f" Fehler: {row.error[:60]}"
        status = STATUS_DE.get(row.status, row.status)
        reply = REPLY_DE.get(replies.get(row.id, ""), "-")
        print(f"{row.id:>3}  {(row.sender or '?')[:30]:<30} {status:<12} {reply:<22} {detail}")


def run_demo(settings: Settings, *, serve_after: bool) -> int:
    demo_settings = settings.model_copy(update={"mailbox": "maildir", "smtp_enabled": False})
    ctx = migrated_context(demo_settings)
    ctx.settings.var_dir.mkdir(parents=True, exist_ok=True)
    master = ctx.settings.var_dir / "demo-stammdaten.csv"
    write_master_data(master)
    print(import_csv(ctx, master, progress=False).summary())
    password = _ensure_clerk(ctx)
    mails = _seed_mails(ctx)
    with _quiet_logs():
        report = run_worker(ctx, once=True)
    print(report.summary())
    _print_table(ctx, mails)
    _print_access(ctx, password)
    if serve_after:
        serve_with_worker(ctx)
    return 0


def _print_access(ctx: AppContext, password: str | None) -> None:
    url = f"http://{ctx.settings.ui_host}:{ctx.settings.ui_port}/"
    access = ctx.settings.var_dir / "demo-zugang.txt"
    print(f"\nPrüfoberfläche: {url}  (meter-intake serve)")
    if password:
        print(f"Anmeldung: sachbearbeiter / {password}  (gespeichert in {access})")
    else:
        print(f"Anmeldung: sachbearbeiter (Passwort in {access})")
    print(f"Administration: leitung (Passwort in {access})")
    print("Antworten an Kunden liegen im Postausgang (SMTP ist in der Demo ausgeschaltet).")
