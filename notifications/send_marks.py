"""The two marks around DATA, on one database connection held for the SMTP conversation.

`sending` (with the Message-ID) is committed before DATA, as every other write: durably. From the
server's 250 to the commit of `sent` a crash sends the mail twice, so that commit is made as short
as the database allows: one autocommitted UPDATE on the connection already open, without waiting
for the disk (PostgreSQL `synchronous_commit = off`, SQLite `synchronous = NORMAL` in WAL mode).
Such a commit survives the death of the worker at once (it is in the database server, or in the
operating system's file cache); only a crash of the database host within the next fraction of a
second can undo it, and then the row is `sending` again and goes out again with the same
Message-ID, the same as a worker killed inside the window. The connection gets its settings back
before it returns to the pool.
"""

from __future__ import annotations

import datetime as dt
import logging
from types import TracebackType

from sqlalchemy import Connection, update

from core.context import AppContext
from core.models import Outbox

log = logging.getLogger(__name__)


class SendMarks:
    """`sending` and `sent` for one outbox row; use as a context manager around the delivery."""

    def __init__(self, ctx: AppContext, outbox_id: int, message_id: str, lease: dt.timedelta):
        self.ctx = ctx
        self.outbox_id = outbox_id
        self.message_id = message_id
        self.lease = lease
        self._conn: Connection | None = None
        self._durable_setting: str | None = None

    def __enter__(self) -> SendMarks:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def sending(self) -> None:
        """Before DATA: from here a crash may leave a mail that arrived but is not marked sent."""
        conn = self._connection()
        conn.execute(
            update(Outbox)
            .where(Outbox.id == self.outbox_id, Outbox.status == "pending")
            .values(
                status="sending",
                message_id=self.message_id,
                next_attempt_at=self.ctx.clock() + self.lease,
            )
        )
        self._relax(conn)

    def sent(self) -> None:
        """Right after the server's 250; recorded whatever the row's status meanwhile."""
        conn = self._conn or self._connection()
        conn.execute(
            update(Outbox)
            .where(Outbox.id == self.outbox_id)
            .values(
                status="sent",
                sent_at=self.ctx.clock(),
                message_id=self.message_id,
                last_error=None,
                claimed_by=None,
            )
        )

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            self._restore(conn)
        except Exception:  # a broken connection must not go back to the pool relaxed
            log.debug("outbox %d: connection dropped after sending", self.outbox_id, exc_info=True)
            conn.invalidate()
        finally:
            conn.close()

    def _connection(self) -> Connection:
        if self._conn is None:
            conn = self.ctx.engine.connect()
            self._conn = conn.execution_options(isolation_level="AUTOCOMMIT")
        return self._conn

    def _relax(self, conn: Connection) -> None:
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("SET synchronous_commit = off")
            self._durable_setting = "postgresql"
        elif conn.dialect.name == "sqlite":
            self._durable_setting = str(conn.exec_driver_sql("PRAGMA synchronous").scalar())
            conn.exec_driver_sql("PRAGMA synchronous = NORMAL")

    def _restore(self, conn: Connection) -> None:
        if self._durable_setting is None:
            return
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("RESET synchronous_commit")
        else:
            conn.exec_driver_sql(f"PRAGMA synchronous = {int(self._durable_setting)}")
