"""Fake OCR for the pipeline: a function answering per photo and hint, as the pipeline's reader
(one call per photo, one read per hint in order)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from core.settings import Settings
from core.types import MeterHint, MeterRead
from intake.pipeline import Reader

ReadOne = Callable[[bytes, MeterHint, Settings], MeterRead]


def per_hint(read: ReadOne) -> Reader:
    def reader(data: bytes, hints: Sequence[MeterHint], settings: Settings) -> list[MeterRead]:
        return [read(data, hint, settings) for hint in hints]

    return reader
