"""Engine, sessions and the two locking primitives the workers rely on."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, select, text, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from core.errors import DatabaseError
from core.models import Lease, Meter


def make_engine(url: str) -> Engine:
    """Create an engine; SQLite gets WAL, foreign keys and a busy timeout."""
    if url.startswith("sqlite"):
        _ensure_sqlite_dir(url)
        engine = create_engine(url, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True)


def _ensure_sqlite_dir(url: str) -> None:
    path = url.split("///", 1)[-1]
    if path and path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any exception."""
    with factory() as session, session.begin():
        yield session


def check_connection(engine: Engine) -> None:
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except OperationalError as exc:
        raise DatabaseError(f"Datenbank nicht erreichbar: {exc.orig}") from exc


def is_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def try_named_lock(session: Session, name: str, holder: str, *, seconds: float) -> bool:
    """Take a lock for the rest of the transaction (PostgreSQL) or for `seconds` (SQLite lease)."""
    if is_postgres(session):
        key = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)
        got = session.execute(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": key}).scalar()
        return bool(got)
    return _take_lease(session, name, holder, seconds)


def _take_lease(session: Session, name: str, holder: str, seconds: float) -> bool:
    now = dt.datetime.now(dt.UTC)
    lease = session.get(Lease, name)
    if lease is None:
        session.add(Lease(name=name, holder=holder, expires_at=now + dt.timedelta(seconds=seconds)))
        session.flush()
        return True
    if lease.holder != holder and lease.expires_at > now:
        return False
    lease.holder = holder
    lease.expires_at = now + dt.timedelta(seconds=seconds)
    session.flush()
    return True


def lock_meters(session: Session, meter_ids: Iterable[int]) -> None:
    """Hold the meters until the transaction ends: another transaction booking on one of them
    waits here until this one has committed, and then reads what it booked.

    PostgreSQL: a row lock per meter (`SELECT … FOR UPDATE`, in id order, so two bookers never
    wait for each other crosswise). SQLite: a write starts the database's one write lock, which
    every other writer waits for (busy timeout)."""
    ids = sorted(set(meter_ids))
    if not ids:
        return
    if is_postgres(session):
        session.execute(
            select(Meter.id).where(Meter.id.in_(ids)).order_by(Meter.id).with_for_update()
        )
        return
    session.execute(
        update(Meter)
        .where(Meter.id.in_(ids))
        .values(registers=Meter.registers)
        .execution_options(synchronize_session=False)
    )
