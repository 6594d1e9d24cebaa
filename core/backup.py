"""`meter-intake backup DIR` / `restore DIR`: the database and the blob store, with a manifest.

A backup directory holds `database.sqlite3` (SQLite's online backup API: consistent while the
worker writes) or `database.pgdump` (pg_dump's custom format), `blobs/ab/cd/<sha256>` and
`manifest.json`, written last, with the database file's checksum and every blob's digest. The
database is copied first and the blobs after it: a blob is stored before the row that names it
is committed, so every blob the copied database refers to is already there to be copied.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sqlite3
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, inspect, literal, select, table, text
from tqdm import tqdm

from core import pgtools
from core.blobstore import BlobStorage, BlobStore
from core.context import AppContext
from core.errors import BackupError, UsageError
from core.formatting import format_number

log = logging.getLogger(__name__)
MANIFEST = "manifest.json"
FORMAT = 1
DB_FILES = {"sqlite": "database.sqlite3", "postgresql": "database.pgdump"}


@dataclass(frozen=True)
class BackupSummary:
    directory: Path
    database: str
    blobs: int
    blob_bytes: int

    def text(self, verb: str) -> str:
        size = format_number(self.blob_bytes / 1e6, 1)
        return (
            f"{verb}: Datenbank ({self.database}) und {format_number(self.blobs)} Dateien "
            f"({size} MB) – {self.directory}"
        )


def _shown(
    items: Iterable[str], what: str, *, total: int | None = None, progress: bool
) -> Iterator[str]:
    """`items`, with a progress bar on stderr when `progress` (the command line)."""
    yield from tqdm(items, desc=what, total=total, unit=" Dateien", disable=not progress,
                    file=sys.stderr)  # fmt: skip


def backup(ctx: AppContext, target: Path, *, progress: bool = False) -> BackupSummary:
    if target.exists() and any(target.iterdir()):
        raise UsageError(f"{target} ist nicht leer; Sicherungen gehen in ein neues Verzeichnis")
    target.mkdir(parents=True, exist_ok=True)
    kind = _kind(ctx.engine)
    db_file = target / DB_FILES[kind]
    if kind == "sqlite":
        _sqlite_copy(_sqlite_path(ctx.engine), db_file)
    else:
        pgtools.dump(ctx.engine.url.render_as_string(hide_password=False), db_file)
    blobs = _copy_blobs(ctx.blobs, BlobStore(target / "blobs"), progress=progress)
    manifest = {
        "format": FORMAT,
        "created_at": ctx.clock().isoformat(),
        "database": {"kind": kind, "file": db_file.name, "sha256": _file_sha256(db_file),
                     "revision": _revision(ctx.engine)},
        "blobs": blobs,
    }  # fmt: skip
    _write_atomically(target / MANIFEST, json.dumps(manifest, indent=1).encode())
    summary = BackupSummary(target, kind, len(blobs), sum(blobs.values()))
    log.info("%s", summary.text("Gesichert"))
    return summary


def restore(ctx: AppContext, source: Path, *, force: bool, progress: bool = False) -> BackupSummary:
    """Check the whole backup first, then replace the database and add the blobs."""
    manifest = verified_manifest(source, progress=progress)
    kind = _kind(ctx.engine)
    if manifest["database"]["kind"] != kind:
        raise BackupError(
            f"Die Sicherung stammt aus {manifest['database']['kind']}, das Ziel ist {kind}"
        )
    if not force:
        _refuse_if_not_empty(ctx)
    db_file = source / manifest["database"]["file"]
    ctx.engine.dispose()
    if kind == "sqlite":
        _sqlite_copy(db_file, _sqlite_path(ctx.engine))
    else:
        pgtools.restore(ctx.engine.url.render_as_string(hide_password=False), db_file)
    stored = BlobStore(source / "blobs")
    blobs = manifest["blobs"]
    for digest in _shown(blobs, "Zurückspielen", total=len(blobs), progress=progress):
        ctx.blobs.put(stored.get(digest))
    summary = BackupSummary(source, kind, len(manifest["blobs"]), sum(manifest["blobs"].values()))
    log.info("%s", summary.text("Wiederhergestellt"))
    return summary


def verified_manifest(source: Path, *, progress: bool = False) -> dict[str, Any]:
    """The manifest, after checking the database file's checksum and every blob's content."""
    try:
        manifest: dict[str, Any] = json.loads((source / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BackupError(f"{source}: keine vollständige Sicherung ({MANIFEST}: {exc})") from exc
    if manifest.get("format") != FORMAT:
        raise BackupError(f"{source}: unbekanntes Sicherungsformat {manifest.get('format')!r}")
    db_file = source / manifest["database"]["file"]
    if not db_file.is_file() or _file_sha256(db_file) != manifest["database"]["sha256"]:
        raise BackupError(f"{db_file}: fehlt oder Prüfsumme falsch")
    stored = BlobStore(source / "blobs")
    blobs = manifest["blobs"]
    for digest in _shown(blobs, "Prüfen", total=len(blobs), progress=progress):
        try:
            data = stored.get(digest)
        except FileNotFoundError as exc:
            raise BackupError(f"{source}: Datei {digest} fehlt") from exc
        if hashlib.sha256(data).hexdigest() != digest:
            raise BackupError(f"{source}: Datei {digest} ist beschädigt (Prüfsumme falsch)")
    return manifest


def _kind(engine: Engine) -> str:
    name = engine.dialect.name
    if name not in DB_FILES:
        raise BackupError(f"Datenbank {name} wird nicht unterstützt")
    return name


def _sqlite_path(engine: Engine) -> Path:
    database = engine.url.database
    if not database or database == ":memory:":
        raise BackupError("eine SQLite-Datenbank im Arbeitsspeicher lässt sich nicht sichern")
    return Path(database)


def _sqlite_copy(source: Path, target: Path) -> None:
    """SQLite's online backup API: a consistent copy while other connections write."""
    target.parent.mkdir(parents=True, exist_ok=True)
    src = sqlite3.connect(source)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        dst.close()
        src.close()


def _revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return None
        return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


def _copy_blobs(source: BlobStorage, target: BlobStore, *, progress: bool) -> dict[str, int]:
    copied: dict[str, int] = {}
    for digest in _shown(source.digests(), "Sichern", progress=progress):
        try:
            data = source.get(digest)
        except FileNotFoundError:  # purged while we were copying
            continue
        target.put(data)
        copied[digest] = len(data)
    return copied


def _refuse_if_not_empty(ctx: AppContext) -> None:
    with ctx.engine.connect() as conn:
        tables = [t for t in inspect(conn).get_table_names() if t != "alembic_version"]
        filled = [
            t
            for t in tables
            if conn.execute(select(literal(1)).select_from(table(t)).limit(1)).first()
        ]
    if filled:
        raise UsageError(
            f"Die Zieldatenbank enthält Daten ({', '.join(sorted(filled)[:5])}); "
            "mit --force wird sie überschrieben"
        )
    if next(iter(ctx.blobs.digests()), None) is not None:
        raise UsageError("Der Dateispeicher enthält Dateien; mit --force wird ergänzt")


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _write_atomically(path: Path, data: bytes) -> None:
    tmp = path.with_suffix(".tmp")
    with tmp.open("wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
