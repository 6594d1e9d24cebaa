"""The composition root's bundle: settings, database, blob store and clock, passed explicitly."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from core.blobstore import BlobStorage, open_blob_store
from core.db import make_engine, make_session_factory
from core.settings import Settings

BERLIN = ZoneInfo("Europe/Berlin")


def system_clock() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass
class AppContext:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    blobs: BlobStorage
    clock: Callable[[], dt.datetime] = field(default=system_clock)

    @classmethod
    def from_settings(
        cls, settings: Settings, *, clock: Callable[[], dt.datetime] = system_clock
    ) -> AppContext:
        engine = make_engine(settings.effective_database_url)
        return cls(
            settings=settings,
            engine=engine,
            sessions=make_session_factory(engine),
            blobs=open_blob_store(settings),
            clock=clock,
        )

    def today(self) -> dt.date:
        return self.clock().astimezone(BERLIN).date()
