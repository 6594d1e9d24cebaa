"""The context every long-running command starts from: settings, a reachable and migrated
database, the blob store and the clock."""

from __future__ import annotations

from core.context import AppContext
from core.db import check_connection
from core.migrate import upgrade
from core.settings import Settings


def migrated_context(settings: Settings) -> AppContext:
    """A context whose database is reachable and migrated (embedded default: created on first
    use). Raises `DatabaseError` with a message for a person when the database cannot be reached."""
    ctx = AppContext.from_settings(settings)
    check_connection(ctx.engine)
    upgrade(ctx.engine)
    return ctx
