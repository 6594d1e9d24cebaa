"""Dialect-aware `INSERT … ON CONFLICT DO NOTHING` (PostgreSQL and SQLite share the syntax)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from core.db import is_postgres


def insert_ignoring_conflict(
    session: Session, model: Any, values: Mapping[str, Any], *, conflict: Sequence[str]
) -> int | None:
    """Insert one row; return its id, or None if a row with the same `conflict` key exists.

    A concurrent transaction inserting the same key neither raises nor inserts twice: PostgreSQL
    waits for it and then does nothing; SQLite serialises writers.
    """
    dialect_insert = postgresql.insert if is_postgres(session) else sqlite.insert
    stmt = (
        dialect_insert(model)
        .values(**values)
        .on_conflict_do_nothing(index_elements=list(conflict))
        .returning(model.id)
    )
    inserted: int | None = session.execute(stmt).scalar_one_or_none()
    return inserted
