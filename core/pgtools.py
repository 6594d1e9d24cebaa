"""The one wrapper around PostgreSQL's client programs (pg_dump, pg_restore)."""

from __future__ import annotations

import logging
import shutil
import subprocess
from pathlib import Path

from sqlalchemy.engine import make_url

from core.errors import BackupError, ToolMissingError

log = logging.getLogger(__name__)
TIMEOUT_SECONDS = 6 * 3600


def libpq_url(sqlalchemy_url: str) -> str:
    """`postgresql+psycopg://…` → `postgresql://…`, which the client programs understand."""
    url = make_url(sqlalchemy_url).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


def _program(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise ToolMissingError(
            f"{name} nicht gefunden: das Paket postgresql-client (gleiche Hauptversion wie der "
            "Server) installieren, oder die Datenbank wie in docs/operations.md beschrieben sichern"
        )
    return path


def _run(args: list[str]) -> None:
    log.info("%s", " ".join(a if "://" not in a else "<url>" for a in args))
    try:
        done = subprocess.run(  # noqa: S603 - fixed program, arguments from our settings
            args, capture_output=True, text=True, timeout=TIMEOUT_SECONDS, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise BackupError(f"{Path(args[0]).name}: Zeitüberschreitung") from exc
    for line in done.stderr.splitlines():
        log.warning("%s: %s", Path(args[0]).name, line)
    if done.returncode != 0:
        last = done.stderr.strip().splitlines()[-1:] or ["ohne Meldung"]
        raise BackupError(f"{Path(args[0]).name} fehlgeschlagen ({done.returncode}): {last[0]}")


def dump(sqlalchemy_url: str, target: Path) -> None:
    """The whole database in pg_dump's custom format (consistent: one snapshot)."""
    _run([_program("pg_dump"), "--format=custom", "--no-owner", f"--file={target}",
          f"--dbname={libpq_url(sqlalchemy_url)}"])  # fmt: skip


def restore(sqlalchemy_url: str, source: Path) -> None:
    """Load a dump, replacing the objects it contains (one transaction: all or nothing)."""
    _run([_program("pg_restore"), "--clean", "--if-exists", "--no-owner", "--single-transaction",
          "--exit-on-error", f"--dbname={libpq_url(sqlalchemy_url)}", str(source)])  # fmt: skip
