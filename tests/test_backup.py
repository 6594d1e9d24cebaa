"""Backup and restore round trips on SQLite (online backup API) and PostgreSQL (pg_dump)."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

from app.cli import main
from core.backup import MANIFEST, backup, restore, verified_manifest
from core.context import AppContext
from core.db import transaction
from core.errors import BackupError, UsageError
from core.migrate import alembic_config, upgrade
from core.models import Customer, Photo, Reading
from core.settings import Settings, load_settings
from tests.conftest import PG_ADMIN_URL, FrozenClock
from tests.ui_seed import seed_task


@pytest.fixture
def empty_target(settings: Settings, tmp_path: Path, clock: FrozenClock) -> Iterator[AppContext]:
    """A second installation of the same kind: a database without tables, no blobs."""
    if settings.database_url.startswith("sqlite"):
        url = f"sqlite:///{tmp_path / 'restored.sqlite3'}"
        admin = None
    else:
        admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        name = f"mi_restore_{uuid.uuid4().hex[:10]}"
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        url = make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    target_settings = load_settings(  # not model_copy: it would keep the cached database URL
        var_dir=tmp_path / "restored", database_url=url, _env_file=None
    )
    target = AppContext.from_settings(target_settings, clock=clock)
    yield target
    target.engine.dispose()
    if admin is not None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _facts(ctx: AppContext) -> tuple[list[str], list[str], list[str]]:
    with ctx.sessions() as session:
        customers = list(session.scalars(select(Customer.email).order_by(Customer.email)))
        readings = [str(v) for v in session.scalars(select(Reading.value).order_by(Reading.id))]
        photos = list(session.scalars(select(Photo.sha256).order_by(Photo.id)))
    return customers, readings, photos  # type: ignore[return-value]


def test_round_trip_into_an_empty_installation(
    ctx: AppContext, empty_target: AppContext, tmp_path: Path
) -> None:
    seed_task(ctx, key="1")
    seed_task(ctx, key="2")
    mail = ctx.blobs.put(b"From: max1@example.org\r\n\r\nZaehlerstand")
    summary = backup(ctx, tmp_path / "backup")
    assert summary.blobs == 2  # the PNG shared by both tasks once, and the mail
    manifest = json.loads((tmp_path / "backup" / MANIFEST).read_text())
    head = ScriptDirectory.from_config(alembic_config(ctx.engine)).get_current_head()
    assert manifest["database"]["revision"] == head and mail in manifest["blobs"]
    restore(empty_target, tmp_path / "backup", force=False)
    upgrade(empty_target.engine)
    assert _facts(empty_target) == _facts(ctx)
    assert sorted(empty_target.blobs.digests()) == sorted(ctx.blobs.digests())
    assert empty_target.blobs.get(mail).endswith(b"Zaehlerstand")


def test_restore_refuses_a_database_with_data_unless_forced(
    ctx: AppContext, tmp_path: Path
) -> None:
    seed_task(ctx, key="1")
    backup(ctx, tmp_path / "backup")
    before = _facts(ctx)
    with transaction(ctx.sessions) as session:
        session.add(Customer(name="Später Angelegt", email="spaet@example.org"))
    with pytest.raises(UsageError, match="--force"):
        restore(ctx, tmp_path / "backup", force=False)
    assert len(_facts(ctx)[0]) == 2
    restore(ctx, tmp_path / "backup", force=True)
    assert _facts(ctx) == before


def test_a_damaged_backup_is_refused_before_anything_changes(
    ctx: AppContext, tmp_path: Path
) -> None:
    seed_task(ctx, key="1")
    target = tmp_path / "backup"
    backup(ctx, target)
    with pytest.raises(UsageError, match="nicht leer"):
        backup(ctx, target)
    [blob] = (target / "blobs").glob("??/??/*")
    blob.write_bytes(b"bit rot")
    with pytest.raises(BackupError, match="beschädigt"):
        restore(ctx, target, force=True)
    blob.unlink()
    with pytest.raises(BackupError, match="fehlt"):
        verified_manifest(target)
    (target / MANIFEST).unlink()
    with pytest.raises(BackupError, match="keine vollständige Sicherung"):
        verified_manifest(target)
    with ctx.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Customer)) == 1


def test_the_cli_backs_up_and_restores(
    settings: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    clock: FrozenClock,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("METER_INTAKE_DATABASE_URL", settings.effective_database_url)
    monkeypatch.setenv("METER_INTAKE_VAR_DIR", str(settings.var_dir))
    ctx = AppContext.from_settings(settings, clock=clock)
    seed_task(ctx, key="1")
    ctx.engine.dispose()
    assert main(["backup", str(tmp_path / "b")]) == 0
    assert main(["restore", str(tmp_path / "b")]) == 2  # the database holds data
    assert main(["restore", "--force", str(tmp_path / "b")]) == 0
    captured = capsys.readouterr()
    shown = captured.err  # a long copy shows how far it is
    assert "Sichern: " in shown and "Prüfen: 100%" in shown and "Zurückspielen: 100%" in shown
    assert re.search(r"Gesichert: Datenbank \(\w+\) und \d+ Dateien \(\d+,\d MB\)", captured.out)
    assert main(["restore", str(tmp_path / "nothing-here")]) == 7


def test_an_s3_blob_store_is_copied_into_the_backup_and_back(
    s3_settings: Settings, clock: FrozenClock, tmp_path: Path
) -> None:
    ctx = AppContext.from_settings(s3_settings, clock=clock)
    try:
        seed_task(ctx, key="1")
        mail = ctx.blobs.put(b"From: max1@example.org\r\n\r\nZaehlerstand")
        summary = backup(ctx, tmp_path / "backup")
        assert summary.blobs == 2 and (tmp_path / "backup" / "blobs" / mail[:2]).is_dir()
        assert ctx.blobs.delete(mail)
        restore(ctx, tmp_path / "backup", force=True)
        assert ctx.blobs.get(mail).endswith(b"Zaehlerstand")
    finally:
        ctx.engine.dispose()
