"""One log line per change of a service's state (database, mailbox, SMTP, the blob store), not one
per failure.

While a service stays down, repeated failures go to the debug log only; the first failure logs a
warning naming the service and the cause in one line, the first success after it logs how long
the outage lasted.
"""

from __future__ import annotations

import errno
import logging
import threading
import time
from collections.abc import Callable

from sqlalchemy.exc import DBAPIError, OperationalError

from core.errors import BlobStoreError, DatabaseError

log = logging.getLogger(__name__)
DATABASE = "Datenbank"
MAILBOX = "Postfach"
SMTP = "SMTP-Server"
STORAGE = "Ablage (Mails und Fotos)"
_FULL_OR_LOCKED = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM}
_WORDS = {STORAGE: ("nicht beschreibbar", "wieder beschreibbar")}
_REACHABLE = ("nicht erreichbar", "wieder erreichbar")


def one_line(exc: BaseException) -> str:
    """The cause without the SQL statement or traceback, on one line."""
    if isinstance(exc, DBAPIError) and exc.orig is not None:
        exc = exc.orig
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text[:300]}"


# PostgreSQL's answers to two transactions in each other's way: deadlock detected, could not
# serialise. The database is there; the transaction only has to run again.
LOCK_CONFLICTS = frozenset({"40P01", "40001"})


def is_lock_conflict(exc: BaseException) -> bool:
    return isinstance(exc, DBAPIError) and getattr(exc.orig, "sqlstate", None) in LOCK_CONFLICTS


def is_database_outage(exc: BaseException) -> bool:
    if is_lock_conflict(exc):
        return False
    if isinstance(exc, DatabaseError):
        return True
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    return isinstance(exc, OperationalError) and "locked" not in str(exc).lower()


def is_storage_outage(exc: BaseException) -> bool:
    """A full, read-only or forbidden disk, or an unreachable object store: not a bug."""
    if isinstance(exc, BlobStoreError):
        return True
    return isinstance(exc, OSError) and exc.errno in _FULL_OR_LOCKED


def is_infrastructure_fault(exc: BaseException) -> bool:
    """The database or the disk failed, or another transaction was in the way, not the mail
    being processed: it costs no attempt."""
    return is_database_outage(exc) or is_storage_outage(exc) or is_lock_conflict(exc)


class Outages:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._down: dict[str, float] = {}
        self._lock = threading.Lock()

    def failed(self, service: str, exc: BaseException | str) -> None:
        cause = exc if isinstance(exc, str) else one_line(exc)
        with self._lock:
            first = service not in self._down
            if first:
                self._down[service] = self._clock()
        down, _back = _WORDS.get(service, _REACHABLE)
        if first:
            log.warning("%s %s: %s", service, down, cause)
        else:
            log.debug("%s weiter %s: %s", service, down, cause)

    def ok(self, service: str) -> None:
        with self._lock:
            since = self._down.pop(service, None)
        if since is not None:
            _down, back = _WORDS.get(service, _REACHABLE)
            log.warning("%s %s nach %.0f s", service, back, self._clock() - since)

    def is_down(self, service: str) -> bool:
        with self._lock:
            return service in self._down
