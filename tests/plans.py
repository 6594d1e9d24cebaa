"""The query plans of what a piece of code runs: which statements read a whole table."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, event


@contextmanager
def whole_table_reads(engine: Engine, tables: set[str]) -> Iterator[list[str]]:
    """Collect, for the statements run meanwhile, each read of all rows of one of `tables`
    (SQLite: `SCAN t`, also of a covering index; PostgreSQL: `Seq Scan on t` with sequential
    scans switched off, so that one shows only where no index can serve)."""
    found: list[str] = []
    postgres = engine.dialect.name == "postgresql"

    def explain(conn: Any, cursor: Any, statement: str, params: Any, *_: Any) -> None:
        if statement.lstrip().split(None, 1)[0].upper() not in ("SELECT", "UPDATE", "DELETE"):
            return
        cur = conn.connection.cursor()
        if postgres:
            cur.execute("SET LOCAL enable_seqscan = off")
        cur.execute(("EXPLAIN " if postgres else "EXPLAIN QUERY PLAN ") + statement, params)
        plan = "\n".join(str(row[0] if postgres else row[-1]) for row in cur.fetchall())
        pattern = r"Seq Scan on (\w+)" if postgres else r"\bSCAN (\w+)"
        for table in re.findall(pattern, plan):
            if table in tables:
                found.append(f"{table}: {' '.join(statement.split())[:160]}")

    event.listen(engine, "before_cursor_execute", explain)
    try:
        yield found
    finally:
        event.remove(engine, "before_cursor_execute", explain)
