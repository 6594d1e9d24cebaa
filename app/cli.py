"""`meter-intake`: the command line.

Each command is a pair: `_add_<command>` declares its arguments, `cmd_<command>` runs it with the
settings and returns the exit code; a new command is a new pair and its `_add_` in COMMANDS. The
stages are imported inside the commands, so `meter-intake user add` does not load OpenCV. Errors
of ours (`core.errors`) become their exit code and a one-line message, never a traceback.
"""

from __future__ import annotations

import argparse
import datetime as dt
import errno
import getpass
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from app.cli_german import GermanArgumentParser
from app.cli_ops import add_backup, add_customer, add_purge
from app.cli_train import add_train
from app.context import migrated_context
from core.errors import DatabaseError, MailboxError, MeterIntakeError, UsageError
from core.formatting import format_number, os_error_text
from core.logging_setup import configure_logging
from core.settings import Settings, load_settings

if TYPE_CHECKING:
    Commands = argparse._SubParsersAction[argparse.ArgumentParser]  # add_subparsers()' result

Handler = Callable[[argparse.Namespace, Settings], int]
UNWRITABLE = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.ENOTDIR}
DESCRIPTION = "Zählerstände aus Kundenmails: abholen, lesen, zuordnen, prüfen, beantworten."


def _parse_date(value: str) -> dt.date:
    for fmt in ("%Y-%m-%d", "%d.%m.%Y"):
        try:
            return dt.datetime.strptime(value, fmt).date()
        except ValueError:
            continue
    raise argparse.ArgumentTypeError(f"kein Datum: {value!r} (JJJJ-MM-TT oder TT.MM.JJJJ)")


def _group(commands: Commands, name: str, help_text: str) -> Commands:
    """A command with subcommands (`db upgrade`, `user add`)."""
    parser = commands.add_parser(name, help=help_text)
    return parser.add_subparsers(dest=f"{name}_cmd", required=True, metavar="BEFEHL")


def _hypothesis(value: str) -> tuple[int | None, str | None]:
    from ocr.cli import parse_hypothesis

    try:
        return parse_hypothesis(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(
            f"keine Annahme: {value!r} ({exc}; z. B. 5:drum, 6:lcd, -)"
        ) from exc


# db upgrade


def cmd_db_upgrade(args: argparse.Namespace, settings: Settings) -> int:
    ctx = migrated_context(settings)
    print(f"Datenbank ist auf dem neuesten Stand: {ctx.engine.url.render_as_string()}")
    return 0


def _add_db(commands: Commands) -> None:
    db = _group(commands, "db", "Datenbank verwalten")
    db.add_parser("upgrade", help="Migrationen anwenden").set_defaults(handler=cmd_db_upgrade)


# read


def cmd_read(args: argparse.Namespace, settings: Settings) -> int:
    from ocr.cli import run_read

    return run_read(
        args.images,
        integer_digits=args.integer_digits,
        display=args.display,
        hypotheses=args.hypothesis,
        as_json=args.json,
    )


def _add_read(commands: Commands) -> None:
    read = commands.add_parser("read", help="Zählerstand aus Fotos lesen")
    read.add_argument("images", nargs="+", metavar="IMAGE", help="Fotos (JPEG, PNG, HEIC)")
    read.add_argument("--integer-digits", type=int, default=None, metavar="N",
                      help="Vorkommastellen des Zählwerks; ohne: erkennen")  # fmt: skip
    read.add_argument(
        "--display",
        choices=["drum", "lcd"],
        default=None,
        help="Zählwerk des Zählers: Rollen (drum) oder Digitalanzeige (lcd); ohne: unbekannt",
    )
    read.add_argument(
        "--hypothesis",
        action="append",
        type=_hypothesis,
        metavar="STELLEN[:ART]",
        help="je Annahme (z. B. 5:drum, 6:lcd, -): jedes Bild unter allen Annahmen lesen",
    )
    read.add_argument("--json", action="store_true", help="eine JSON-Zeile je Bild")
    read.set_defaults(handler=cmd_read)


# import


def cmd_import(args: argparse.Namespace, settings: Settings) -> int:
    from matching.masterdata import import_csv

    report = import_csv(migrated_context(settings), Path(args.file), progress=not args.quiet)
    print(report.summary())
    return 0 if not report.errors else 1


def _add_import(commands: Commands) -> None:
    imp = commands.add_parser("import", help="Stammdaten (CSV) importieren")
    imp.add_argument("file", metavar="FILE.csv", help="Stammdaten, Spalten: docs/masterdata.md")
    imp.add_argument("--quiet", action="store_true", help="kein Fortschrittsbalken")
    imp.set_defaults(handler=cmd_import)


# export readings


@contextmanager
def _output_file(path: str) -> Iterator[TextIO]:
    """A CSV file written whole or not at all: into a temporary file beside it, renamed over
    `path` once complete, so that a full disk never leaves a cut-off export in its place."""
    target = Path(path)
    partial = target.with_name(f".{target.name}.unfertig")
    try:
        with open(partial, "w", newline="", encoding="utf-8") as out:
            yield out
        os.replace(partial, target)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        reason = os_error_text(exc)
        raise UsageError(f"Datei kann nicht geschrieben werden: {path} ({reason})") from exc
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


def cmd_export_readings(args: argparse.Namespace, settings: Settings) -> int:
    from matching.export import export_readings

    if args.since is None and not args.new:
        raise UsageError("--since DATUM oder --new angeben")
    ctx = migrated_context(settings)
    options = {"since": args.since, "mark": args.mark, "new_only": args.new}
    if args.output == "-":
        count = export_readings(ctx, sys.stdout, **options)
    else:
        with _output_file(args.output) as out:
            count = export_readings(ctx, out, **options)
    noun = "Zählerstand" if count == 1 else "Zählerstände"
    print(f"{format_number(count)} {noun} exportiert.", file=sys.stderr)
    return 0


def _add_export(commands: Commands) -> None:
    export = _group(commands, "export", "Daten für die Abrechnung exportieren")
    readings = export.add_parser("readings", help="angenommene Zählerstände als CSV")
    readings.add_argument("--since", type=_parse_date, metavar="DATE", help="abgelesen ab")
    readings.add_argument(
        "--new", action="store_true", help="nur noch nicht exportierte (mit --mark markierte)"
    )
    readings.add_argument("--output", "-o", default="-", help="Datei (Standard: stdout)")
    readings.add_argument("--mark", action="store_true", help="als exportiert markieren")
    readings.set_defaults(handler=cmd_export_readings)


# user add


def cmd_user_add(args: argparse.Namespace, settings: Settings) -> int:
    from review_ui.auth import add_user

    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass("Passwort: ")
    ctx = migrated_context(settings)
    add_user(ctx, args.username, password, role=args.role, display_name=args.name)
    print(f"Benutzer {args.username!r} angelegt ({args.role}).")
    return 0


def _add_user(commands: Commands) -> None:
    user = _group(commands, "user", "Benutzer der Prüfoberfläche")
    add = user.add_parser("add", help="Sachbearbeiter anlegen")
    add.add_argument("username")
    add.add_argument("--role", choices=["clerk", "admin"], default="clerk")
    add.add_argument("--name", default="", help="Anzeigename")
    add.add_argument("--password-stdin", action="store_true")
    add.set_defaults(handler=cmd_user_add)


# campaign start | pause | resume | cancel


def _parse_datetime(value: str) -> dt.datetime:
    for fmt in ("%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M", "%d.%m.%Y %H:%M"):
        try:
            return dt.datetime.strptime(value, fmt)
        except ValueError:
            continue
    raise argparse.ArgumentTypeError(
        f"kein Zeitpunkt: {value!r} (JJJJ-MM-TT HH:MM oder TT.MM.JJJJ HH:MM, Ortszeit)"
    )


def cmd_campaign_start(args: argparse.Namespace, settings: Settings) -> int:
    from notifications.campaigns import start_campaign

    result = start_campaign(
        migrated_context(settings),
        args.name,
        due_from=args.due_from,
        due_to=args.due_to,
        actor="cli",
        send_from=args.send_from,
        dry_run=args.dry_run,
        preview=args.preview,
        progress=not args.quiet,
    )
    for mail in result.previews:
        print(f"--- an {mail.recipient}: {mail.subject}\n{mail.text}")
    print(result.summary())
    return 0


def cmd_campaign_control(args: argparse.Namespace, settings: Settings) -> int:
    from notifications.campaign_control import control_campaign

    ctx = migrated_context(settings)
    print(control_campaign(ctx, args.campaign, args.campaign_cmd, actor="cli").summary())
    return 0


def _add_campaign(commands: Commands) -> None:
    campaign = _group(commands, "campaign", "Ablesekampagnen")
    start = campaign.add_parser("start", help="Erinnerungen für fällige Zähler einplanen")
    start.add_argument("name", help="Name der Kampagne (eindeutig)")
    start.add_argument("--due-from", type=_parse_date, required=True, metavar="DATE",
                       help="fällig ab (TT.MM.JJJJ oder JJJJ-MM-TT)")  # fmt: skip
    start.add_argument("--due-to", type=_parse_date, required=True, metavar="DATE",
                       help="fällig bis (TT.MM.JJJJ oder JJJJ-MM-TT)")  # fmt: skip
    start.add_argument(
        "--send-from", type=_parse_datetime, metavar="ZEIT", help="erste Mail nicht vor (Ortszeit)"
    )
    start.add_argument("--dry-run", action="store_true", help="nur zählen, nichts speichern")
    start.add_argument("--preview", type=int, default=0, metavar="N", help="N Mails zeigen")
    start.add_argument("--quiet", action="store_true", help="kein Fortschrittsbalken")
    start.set_defaults(handler=cmd_campaign_start)
    for action, text in (("pause", "anhalten"), ("resume", "fortsetzen"), ("cancel", "abbrechen")):
        control = campaign.add_parser(action, help=f"Kampagne {text}")
        control.add_argument("campaign", help="Name oder Nummer der Kampagne")
        control.set_defaults(handler=cmd_campaign_control)


# worker


def cmd_worker(args: argparse.Namespace, settings: Settings) -> int:
    from core.metrics import MetricsServer
    from intake.outages import one_line
    from intake.worker import run_worker

    ctx = migrated_context(settings)
    port, host = settings.worker_metrics_port, settings.worker_metrics_host
    server = MetricsServer(host, port, token=settings.metrics_token) if port else None
    try:
        report = run_worker(ctx, once=args.once)
    finally:
        if server is not None:
            server.close()
    if args.once and not args.quiet:
        print(report.outcome())
    if report.fetch_failure is not None:  # a single pass (cron, a systemd timer) must say so
        what, code = _fetch_failure(report.fetch_failure)
        print(f"Fehler: {what}: {one_line(report.fetch_failure)}", file=sys.stderr)  # one line
        return code
    return 0


def _fetch_failure(exc: BaseException) -> tuple[str, int]:
    """What went wrong while fetching, in German, and the exit code."""
    from intake.outages import is_database_outage, is_storage_outage

    if isinstance(exc, MailboxError):
        return "Postfach nicht abgeholt", MailboxError.exit_code
    if is_database_outage(exc):
        return "Datenbank nicht erreichbar, Postfach nicht abgeholt", DatabaseError.exit_code
    if is_storage_outage(exc):
        return "Ablage (Mails und Fotos) nicht beschreibbar, Postfach nicht abgeholt", 1
    return "Postfach nicht abgeholt", 1


def _add_worker(commands: Commands) -> None:
    worker = commands.add_parser("worker", help="Postfach abholen und verarbeiten")
    worker.add_argument("--once", action="store_true", help="nur ein Durchlauf")
    worker.add_argument(
        "--quiet", action="store_true", help="mit --once: keine Zusammenfassung (für cron)"
    )
    worker.set_defaults(handler=cmd_worker)


# serve


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    from review_ui.server import serve

    host = args.host or settings.ui_host
    serve(migrated_context(settings), host=host, port=args.port or settings.ui_port)
    return 0


def _add_serve(commands: Commands) -> None:
    serve = commands.add_parser("serve", help="Prüfoberfläche starten")
    serve.add_argument("--host", default=None, help="Adresse (Standard: METER_INTAKE_UI_HOST)")
    serve.add_argument(
        "--port", type=int, default=None, help="Port (Standard: METER_INTAKE_UI_PORT)"
    )
    serve.set_defaults(handler=cmd_serve)


# demo


def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    from app.demo import run_demo

    return run_demo(settings, serve_after=args.serve)


def _add_demo(commands: Commands) -> None:
    demo = commands.add_parser("demo", help="Demo mit eingebetteter Datenbank und Maildir")
    demo.add_argument("--serve", action="store_true", help="danach Oberfläche und Worker starten")
    demo.set_defaults(handler=cmd_demo)


COMMANDS: tuple[Callable[[Commands], None], ...] = (
    _add_db,
    _add_read,
    _add_import,
    _add_export,
    _add_user,
    _add_campaign,
    _add_worker,
    _add_serve,
    _add_demo,
    add_backup,
    add_purge,
    add_customer,
    add_train,
)


def build_parser() -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = GermanArgumentParser(
        prog="meter-intake", description=DESCRIPTION
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="BEFEHL")
    for add_command in COMMANDS:
        add_command(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler: Handler = args.handler
    try:
        settings = load_settings()
        configure_logging(settings.log_level, json_lines=settings.log_json)
        return handler(args, settings)
    except MeterIntakeError as exc:
        print(f"Fehler: {' '.join(str(exc).split())}", file=sys.stderr)  # one line
        return exc.exit_code
    except OSError as exc:
        if exc.errno not in UNWRITABLE:
            raise  # a bug: its traceback is what helps
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"Fehler: {where}{os_error_text(exc)} – Rechte und freien Platz im Datenverzeichnis "
              "(METER_INTAKE_VAR_DIR, METER_INTAKE_BLOB_DIR) prüfen", file=sys.stderr)  # fmt: skip
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
