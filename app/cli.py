"""`meter-intake` command line: the composition root. Stages are imported lazily."""

from __future__ import annotations

import argparse
import datetime as dt
import getpass
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from core.context import AppContext
from core.errors import MeterIntakeError, UsageError
from core.logging_setup import configure_logging
from core.settings import Settings, load_settings

log = logging.getLogger(__name__)
Handler = Callable[[argparse.Namespace, Settings], int]


def _context(settings: Settings) -> AppContext:
    return AppContext.from_settings(settings)


def _parse_date(value: str) -> dt.date:
    for fmt in ("%Y-%m-%d", "%d.%m.%Y"):
        try:
            return dt.datetime.strptime(value, fmt).date()
        except ValueError:
            continue
    raise argparse.ArgumentTypeError(f"kein Datum: {value!r} (JJJJ-MM-TT oder TT.MM.JJJJ)")


def cmd_db_upgrade(args: argparse.Namespace, settings: Settings) -> int:
    from core.migrate import upgrade

    ctx = _context(settings)
    upgrade(ctx.engine)
    print(f"Datenbank ist auf dem neuesten Stand: {ctx.engine.url.render_as_string()}")
    return 0


def cmd_read(args: argparse.Namespace, settings: Settings) -> int:
    from ocr.cli import run_read

    return run_read(
        args.images, integer_digits=args.integer_digits, display=args.display, as_json=args.json
    )


def cmd_import(args: argparse.Namespace, settings: Settings) -> int:
    from matching.masterdata import import_csv

    report = import_csv(migrated_context(settings), Path(args.file), progress=not args.quiet)
    print(report.summary())
    return 0 if not report.errors else 1


def cmd_export(args: argparse.Namespace, settings: Settings) -> int:
    from matching.export import export_readings

    out = sys.stdout if args.output == "-" else open(args.output, "w", newline="", encoding="utf-8")  # noqa: SIM115
    try:
        count = export_readings(migrated_context(settings), out, since=args.since, mark=args.mark)
    finally:
        if out is not sys.stdout:
            out.close()
    print(f"{count} Zählerstände exportiert.", file=sys.stderr)
    return 0


def cmd_user_add(args: argparse.Namespace, settings: Settings) -> int:
    from review_ui.auth import add_user

    password = sys.stdin.readline().rstrip("\n") if args.password_stdin else None
    if password is None:
        password = getpass.getpass("Passwort: ")
    add_user(
        migrated_context(settings), args.username, password, role=args.role, display_name=args.name
    )
    print(f"Benutzer {args.username!r} angelegt ({args.role}).")
    return 0


def cmd_campaign_start(args: argparse.Namespace, settings: Settings) -> int:
    from notifications.campaigns import start_campaign

    result = start_campaign(
        migrated_context(settings),
        args.name,
        due_from=args.due_from,
        due_to=args.due_to,
        actor="cli",
    )
    print(result.summary())
    return 0


def cmd_worker(args: argparse.Namespace, settings: Settings) -> int:
    from core.metrics import MetricsServer
    from intake.worker import run_worker

    ctx = migrated_context(settings)
    port, host = settings.worker_metrics_port, settings.worker_metrics_host
    server = MetricsServer(host, port, token=settings.metrics_token) if port else None
    try:
        run_worker(ctx, once=args.once)
    finally:
        if server is not None:
            server.close()
    return 0


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    from review_ui.server import serve

    serve(
        migrated_context(settings),
        host=args.host or settings.ui_host,
        port=args.port or settings.ui_port,
    )
    return 0


def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    from app.demo import run_demo

    return run_demo(settings, serve_after=args.serve)


def cmd_backup(args: argparse.Namespace, settings: Settings) -> int:
    from core.backup import backup
    from core.db import check_connection

    ctx = _context(settings)
    check_connection(ctx.engine)
    print(backup(ctx, Path(args.directory)).text("Gesichert"))
    return 0


def cmd_restore(args: argparse.Namespace, settings: Settings) -> int:
    from core.backup import restore
    from core.db import check_connection
    from core.migrate import upgrade

    ctx = _context(settings)
    check_connection(ctx.engine)
    summary = restore(ctx, Path(args.directory), force=args.force)
    upgrade(ctx.engine)  # a backup of an older release gets today's schema
    print(summary.text("Wiederhergestellt"))
    return 0


def cmd_purge(args: argparse.Namespace, settings: Settings) -> int:
    from core.retention import purge

    print(purge(migrated_context(settings), dry_run=args.dry_run).summary())
    return 0


def _actor() -> str:
    return f"cli:{getpass.getuser()}"


def cmd_customer_export(args: argparse.Namespace, settings: Settings) -> int:
    from core.customer_data import export_customer

    target = Path(args.output or f"kunde-{args.account}.zip")
    report = export_customer(migrated_context(settings), args.account, target, actor=_actor())
    print(f"{report.summary('exportiert')} → {target}")
    return 0


def cmd_customer_erase(args: argparse.Namespace, settings: Settings) -> int:
    from core.customer_data import erase_customer

    if not args.yes:
        raise UsageError("Löschen ist endgültig: mit --yes bestätigen")
    report = erase_customer(migrated_context(settings), args.account, actor=_actor())
    print(report.summary("gelöscht bzw. pseudonymisiert"))
    return 0


def migrated_context(settings: Settings) -> AppContext:
    """A context whose database is migrated (embedded default: created on first use)."""
    from core.db import check_connection
    from core.migrate import upgrade

    ctx = _context(settings)
    check_connection(ctx.engine)
    upgrade(ctx.engine)
    return ctx


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="meter-intake", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    db = sub.add_parser("db", help="Datenbank verwalten").add_subparsers(
        dest="db_cmd", required=True
    )
    db.add_parser("upgrade", help="Migrationen anwenden").set_defaults(handler=cmd_db_upgrade)

    read = sub.add_parser("read", help="Zählerstand aus Fotos lesen")
    read.add_argument("images", nargs="+", metavar="IMAGE")
    read.add_argument("--integer-digits", type=int, default=None)
    read.add_argument(
        "--display",
        choices=["drum", "lcd"],
        default=None,
        help="Zählwerk des Zählers: Rollen (drum) oder Digitalanzeige (lcd); ohne: unbekannt",
    )
    read.add_argument("--json", action="store_true", help="eine JSON-Zeile je Bild")
    read.set_defaults(handler=cmd_read)

    imp = sub.add_parser("import", help="Stammdaten (CSV) importieren")
    imp.add_argument("file", metavar="FILE.csv")
    imp.add_argument("--quiet", action="store_true", help="kein Fortschrittsbalken")
    imp.set_defaults(handler=cmd_import)

    exp = sub.add_parser("export", help="Daten für die Abrechnung exportieren")
    exp_sub = exp.add_subparsers(dest="export_cmd", required=True)
    readings = exp_sub.add_parser("readings", help="angenommene Zählerstände als CSV")
    readings.add_argument("--since", type=_parse_date, required=True, metavar="DATE")
    readings.add_argument("--output", "-o", default="-", help="Datei (Standard: stdout)")
    readings.add_argument("--mark", action="store_true", help="als exportiert markieren")
    readings.set_defaults(handler=cmd_export)

    user = sub.add_parser("user", help="Benutzer der Prüfoberfläche").add_subparsers(
        dest="user_cmd", required=True
    )
    add = user.add_parser("add", help="Sachbearbeiter anlegen")
    add.add_argument("username")
    add.add_argument("--role", choices=["clerk", "admin"], default="clerk")
    add.add_argument("--name", default="", help="Anzeigename")
    add.add_argument("--password-stdin", action="store_true")
    add.set_defaults(handler=cmd_user_add)

    campaign = sub.add_parser("campaign", help="Ablesekampagnen").add_subparsers(
        dest="campaign_cmd", required=True
    )
    start = campaign.add_parser("start", help="Erinnerungen für fällige Zähler einplanen")
    start.add_argument("name")
    start.add_argument("--due-from", type=_parse_date, required=True, metavar="DATE")
    start.add_argument("--due-to", type=_parse_date, required=True, metavar="DATE")
    start.set_defaults(handler=cmd_campaign_start)

    worker = sub.add_parser("worker", help="Postfach abholen und verarbeiten")
    worker.add_argument("--once", action="store_true", help="nur ein Durchlauf")
    worker.set_defaults(handler=cmd_worker)

    serve = sub.add_parser("serve", help="Prüfoberfläche starten")
    serve.add_argument("--host", default=None)
    serve.add_argument("--port", type=int, default=None)
    serve.set_defaults(handler=cmd_serve)

    save = sub.add_parser("backup", help="Datenbank und Dateispeicher sichern")
    save.add_argument("directory", metavar="DIR", help="neues, leeres Verzeichnis")
    save.set_defaults(handler=cmd_backup)
    back = sub.add_parser("restore", help="eine Sicherung zurückspielen")
    back.add_argument("directory", metavar="DIR")
    back.add_argument("--force", action="store_true", help="eine Datenbank mit Daten ersetzen")
    back.set_defaults(handler=cmd_restore)

    purge = sub.add_parser("purge", help="Aufbewahrungsfristen anwenden (Fotos, Mails löschen)")
    purge.add_argument("--dry-run", action="store_true", help="nur zählen, nichts löschen")
    purge.set_defaults(handler=cmd_purge)
    customer = sub.add_parser("customer", help="Kundendaten (DSGVO)").add_subparsers(
        dest="customer_cmd", required=True
    )
    export = customer.add_parser("export", help="alle Daten eines Kunden als ZIP")
    export.add_argument("account", metavar="ACCOUNT", help="Vertragskontonummer")
    export.add_argument("--output", "-o", default=None, help="ZIP-Datei (kunde-ACCOUNT.zip)")
    export.set_defaults(handler=cmd_customer_export)
    erase = customer.add_parser("erase", help="Kundendaten löschen/pseudonymisieren")
    erase.add_argument("account", metavar="ACCOUNT", help="Vertragskontonummer")
    erase.add_argument("--yes", action="store_true", help="endgültiges Löschen bestätigen")
    erase.set_defaults(handler=cmd_customer_erase)

    demo = sub.add_parser("demo", help="Demo mit eingebetteter Datenbank und Maildir")
    demo.add_argument("--serve", action="store_true", help="danach Oberfläche und Worker starten")
    demo.set_defaults(handler=cmd_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings()
        configure_logging(settings.log_level, json_lines=settings.log_json)
        return int(args.handler(args, settings))
    except MeterIntakeError as exc:
        print(f"Fehler: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130


__all__ = ["UsageError", "build_parser", "main"]
