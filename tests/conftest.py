"""Shared fixtures. Every database test runs twice: on SQLite and on PostgreSQL."""

from __future__ import annotations

import datetime as dt
import logging
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from core.context import AppContext
from core.db import make_engine
from core.migrate import upgrade
from core.settings import Settings, load_settings

pytest_plugins = [
    "tests.fixtures_smtp",
    "tests.fixtures_dovecot",
    "tests.fixtures_tls",
    "tests.fixtures_ui",
    "tests.fixtures_s3",
]

REPO = Path(__file__).resolve().parents[1]
PG_ADMIN_URL = os.environ.get(
    "METER_INTAKE_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


@pytest.fixture(autouse=True)
def _cli_logging_undone() -> Iterator[None]:
    """`meter-intake` commands run in-process point the root logger at this test's captured
    stderr (`configure_logging`). Left there, threads of later tests (aiosmtpd's controller)
    log into the closed capture: "--- Logging error ---" in the test log."""
    root = logging.getLogger()
    level = root.level
    yield
    for handler in root.handlers[:]:
        if type(handler) is logging.StreamHandler:  # pytest's own handlers are subclasses
            root.removeHandler(handler)
    root.setLevel(level)


def corpus_dir() -> Path:
    return Path(os.environ.get("METER_INTAKE_CORPUS", REPO.parent / "shared" / "corpus"))


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite-template") / "template.sqlite3"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def pg_copies() -> Iterator[PgCopies]:
    """Migrated databases for the tests, made from one migrated template."""
    admin = _pg_admin_engine()
    template = f"mi_tmpl_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{template}"'))
    engine = make_engine(_pg_url(template))
    upgrade(engine)
    engine.dispose()
    copies = PgCopies(admin, template)
    yield copies
    copies.drop_all()
    _drop_database(admin, template)
    admin.dispose()


class PgCopies:
    """Copies of the migrated template, each emptied and renamed after its test and handed to the
    next one (renamed: what a process keeps per database URL stays with the test that used it).

    Emptying a copy (its rows deleted, its sequences restarted) makes it what a fresh copy is and
    takes a few milliseconds; CREATE DATABASE … TEMPLATE and DROP DATABASE each take a second or
    more on a busy machine. A copy whose schema its test changed, or which cannot be emptied, is
    dropped instead.
    """

    def __init__(self, admin: Engine, template: str) -> None:
        self._admin = admin
        self._template = template
        self._free: list[str] = []
        self._made: set[str] = set()
        self._schema: str | None = None

    def take(self) -> str:
        if self._free:
            return self._free.pop()
        name = _copy_name()
        with self._admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{self._template}"'))
        self._made.add(name)
        if self._schema is None:
            self._schema = self._fingerprint(name)
        return name

    def give_back(self, name: str) -> None:
        self._made.discard(name)
        with self._admin.connect() as conn:
            conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE datname = :name AND pid <> pg_backend_pid()"
                ),
                {"name": name},
            )
        try:
            fresh = self._renewed(name)
        except SQLAlchemyError:
            fresh = None
        if fresh is None:
            _drop_database(self._admin, name)
        else:
            self._made.add(fresh)
            self._free.append(fresh)

    def _renewed(self, name: str) -> str | None:
        """The copy emptied and under a new name; None where its test changed its schema."""
        if self._fingerprint(name) != self._schema:
            return None
        self._empty(name)
        fresh = _copy_name()
        with self._admin.connect() as conn:
            conn.execute(text(f'ALTER DATABASE "{name}" RENAME TO "{fresh}"'))
        return fresh

    def drop_all(self) -> None:
        for name in self._made:
            _drop_database(self._admin, name)
        self._made.clear()
        self._free.clear()

    @staticmethod
    def _fingerprint(name: str) -> str:
        engine = create_engine(_pg_url(name), poolclass=NullPool)
        try:
            with engine.connect() as conn:
                return str(conn.execute(text(_SCHEMA_FINGERPRINT)).scalar_one())
        finally:
            engine.dispose()

    @staticmethod
    def _empty(name: str) -> None:
        engine = create_engine(_pg_url(name), poolclass=NullPool)
        try:
            with engine.begin() as conn:
                tables = conn.execute(
                    text(
                        "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
                        " AND tablename <> 'alembic_version'"
                    )
                ).scalars()
                sequences = conn.execute(
                    text("SELECT sequencename FROM pg_sequences WHERE schemaname = 'public'")
                ).scalars()
                conn.execute(text("SET LOCAL lock_timeout = '5s'"))
                conn.execute(text("SET LOCAL synchronous_commit = off"))
                conn.execute(text("SET LOCAL session_replication_role = replica"))
                for table in list(tables):
                    conn.execute(text(f'DELETE FROM "{table}"'))
                for sequence in list(sequences):
                    conn.execute(text(f'ALTER SEQUENCE "{sequence}" RESTART'))
        finally:
            engine.dispose()


_SCHEMA_FINGERPRINT = """
SELECT md5(coalesce(string_agg(item, ';' ORDER BY item), '')) FROM (
    SELECT 'column ' || table_name || '.' || column_name || ' ' || data_type || ' '
        || is_nullable || ' ' || coalesce(column_default, '') AS item
    FROM information_schema.columns WHERE table_schema = 'public'
    UNION ALL SELECT 'index ' || indexdef FROM pg_indexes WHERE schemaname = 'public'
    UNION ALL SELECT 'constraint ' || conname || ' ' || pg_get_constraintdef(oid)
    FROM pg_constraint WHERE connamespace = 'public'::regnamespace
    UNION ALL SELECT 'type ' || typname FROM pg_type WHERE typnamespace = 'public'::regnamespace
    UNION ALL SELECT 'version ' || version_num FROM alembic_version
) AS schema
"""


def _copy_name() -> str:
    return f"mi_test_{uuid.uuid4().hex[:10]}"


def _pg_url(database: str) -> str:
    return make_url(PG_ADMIN_URL).set(database=database).render_as_string(hide_password=False)


def _pg_admin_engine() -> Engine:
    engine = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:
        pytest.fail(
            f"PostgreSQL at {PG_ADMIN_URL} is not reachable ({exc}); start it with "
            "`pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start`"
        )
    return engine


def _drop_database(admin: Engine, name: str) -> None:
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, migrated, empty database for one test."""
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        path = tmp_path / "test.sqlite3"
        shutil.copy(template, path)
        yield f"sqlite:///{path}"
        return
    copies: PgCopies = request.getfixturevalue("pg_copies")
    name = copies.take()
    yield _pg_url(name)
    copies.give_back(name)


class FrozenClock:
    """A clock the test moves by hand."""

    def __init__(self, start: dt.datetime) -> None:
        self.now = start

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += dt.timedelta(**delta)


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(dt.datetime(2026, 11, 20, 9, 30, tzinfo=dt.UTC))


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return load_settings(
        var_dir=tmp_path / "var",
        database_url=database_url,
        smtp_enabled=True,
        _env_file=None,
    )


@pytest.fixture
def ctx(settings: Settings, clock: FrozenClock) -> Iterator[AppContext]:
    context = AppContext.from_settings(settings, clock=clock)
    yield context
    context.engine.dispose()
