"""Operators' commands: backup and restore, the retention purge, and a customer's data
(DSGVO Art. 15 export, Art. 17 erasure). Declared and run like the commands in `app.cli`."""

from __future__ import annotations

import argparse
import getpass
from pathlib import Path
from typing import TYPE_CHECKING

from app.context import migrated_context
from core.context import AppContext
from core.errors import UsageError
from core.settings import Settings

if TYPE_CHECKING:
    Commands = argparse._SubParsersAction[argparse.ArgumentParser]


def _connected(settings: Settings) -> AppContext:
    """A context whose database answers, not migrated: restore brings its own schema."""
    from core.db import check_connection

    ctx = AppContext.from_settings(settings)
    check_connection(ctx.engine)
    return ctx


def cmd_backup(args: argparse.Namespace, settings: Settings) -> int:
    from core.backup import backup

    summary = backup(_connected(settings), Path(args.directory), progress=not args.quiet)
    print(summary.text("Gesichert"))
    return 0


def cmd_restore(args: argparse.Namespace, settings: Settings) -> int:
    from core.backup import restore
    from core.migrate import upgrade

    ctx = _connected(settings)
    summary = restore(ctx, Path(args.directory), force=args.force, progress=not args.quiet)
    upgrade(ctx.engine)  # a backup of an older release gets today's schema
    print(summary.text("Wiederhergestellt"))
    return 0


def add_backup(commands: Commands) -> None:
    save = commands.add_parser("backup", help="Datenbank und Dateispeicher sichern")
    save.add_argument("directory", metavar="DIR", help="neues, leeres Verzeichnis")
    save.add_argument("--quiet", action="store_true", help="kein Fortschrittsbalken")
    save.set_defaults(handler=cmd_backup)
    back = commands.add_parser("restore", help="eine Sicherung zurückspielen")
    back.add_argument("directory", metavar="DIR")
    back.add_argument("--force", action="store_true", help="eine Datenbank mit Daten ersetzen")
    back.add_argument("--quiet", action="store_true", help="kein Fortschrittsbalken")
    back.set_defaults(handler=cmd_restore)


def cmd_purge(args: argparse.Namespace, settings: Settings) -> int:
    from core.retention import purge

    print(purge(migrated_context(settings), dry_run=args.dry_run).summary())
    return 0


def add_purge(commands: Commands) -> None:
    purge = commands.add_parser(
        "purge", help="Aufbewahrungsfristen anwenden (Fotos, Mails löschen)"
    )
    purge.add_argument("--dry-run", action="store_true", help="nur zählen, nichts löschen")
    purge.set_defaults(handler=cmd_purge)


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


def add_customer(commands: Commands) -> None:
    customer = commands.add_parser("customer", help="Kundendaten (DSGVO)").add_subparsers(
        dest="customer_cmd", required=True, metavar="BEFEHL"
    )
    export = customer.add_parser("export", help="alle Daten eines Kunden als ZIP")
    export.add_argument("account", metavar="ACCOUNT", help="Vertragskontonummer")
    export.add_argument("--output", "-o", default=None, help="ZIP-Datei (kunde-ACCOUNT.zip)")
    export.set_defaults(handler=cmd_customer_export)
    erase = customer.add_parser("erase", help="Kundendaten löschen/pseudonymisieren")
    erase.add_argument("account", metavar="ACCOUNT", help="Vertragskontonummer")
    erase.add_argument("--yes", action="store_true", help="endgültiges Löschen bestätigen")
    erase.set_defaults(handler=cmd_customer_erase)
