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
def pg_template() -> Iterator[str]:
    """A migrated template database; each test gets a fresh copy (CREATE DATABASE … TEMPLATE)."""
    admin = _pg_admin_engine()
    name = f"mi_tmpl_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine = make_engine(str(make_url(PG_ADMIN_URL).set(database=name)))
    upgrade(engine)
    engine.dispose()
    yield name
    _drop_database(admin, name)
    admin.dispose()


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
    template_name: str = request.getfixturevalue("pg_template")
    admin = _pg_admin_engine()
    name = f"mi_test_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template_name}"'))
    yield str(make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False))
    _drop_database(admin, name)
    admin.dispose()


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
