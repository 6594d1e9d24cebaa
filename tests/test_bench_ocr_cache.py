"""The benchmarks' per-photo OCR cache: one read per photo and hint, whatever its EXIF time."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from PIL import Image

from bench.decisions_sim import taken_recently
from bench.ocr_cache import cached_reader
from core.settings import Settings
from core.types import DigitRead, MeterHint, MeterRead
from tests.samples import meter_photo

READ = MeterRead(
    reading="00123", fraction="45", confidence=0.8, accepted=False, meter_number="W-1",
    meter_number_candidates=("W-1", "W-7"), reason="low_confidence_digit_3", seconds=1.5,
    display="drum", digits=(DigitRead(1, 0.9, ((1, 0.9), (7, 0.1))),),
)  # fmt: skip


def with_exif_time(jpeg: bytes) -> bytes:
    image, out = Image.open(io.BytesIO(jpeg)), io.BytesIO()
    exif = Image.Exif()
    exif[0x0132] = "2019:05:04 10:11:12"  # DateTime
    image.save(out, "JPEG", exif=exif.tobytes())
    return out.getvalue()


def test_a_photo_is_read_once_per_hint_and_comes_back_whole(tmp_path: Path) -> None:
    calls: list[list[MeterHint]] = []

    def reader(data: bytes, hints: Sequence[MeterHint], settings: Settings) -> list[MeterRead]:
        calls.append(list(hints))
        return [replace(READ, display=hint.display) for hint in hints]

    read = cached_reader(tmp_path, reader)
    photo, settings = with_exif_time(meter_photo("00123", seed=3)), Settings()
    today = taken_recently(photo, dt.datetime(2026, 12, 1, 9, 0))
    later = taken_recently(photo, dt.datetime(2027, 1, 5, 18, 30))
    assert today != later
    drum, lcd, unknown = MeterHint(5, "drum"), MeterHint(6, "lcd"), MeterHint()
    assert read(today, [drum], settings) == [READ]
    assert read(later, [drum], settings) == [READ]  # the same photo, re-stamped
    both = read(today, [lcd, drum, unknown], settings)  # in the order asked, each its own
    assert [r.display for r in both] == ["lcd", "drum", None] and both[1] == READ
    assert read(later, [unknown, lcd], settings) == [both[2], both[0]]
    assert calls == [[drum], [lcd, unknown]]  # the hints not cached yet, in one call


def test_hints_that_differ_only_in_their_decimal_drums_are_read_apart(tmp_path: Path) -> None:
    def reader(data: bytes, hints: Sequence[MeterHint], settings: Settings) -> list[MeterRead]:
        return [replace(READ, confidence=0.5 + 0.1 * (hint.decimal_digits or 0)) for hint in hints]

    read = cached_reader(tmp_path, reader)
    photo, settings = meter_photo("00123", seed=3), Settings()
    electricity, water = MeterHint(5, "drum", 1), MeterHint(5, "drum", 3)
    assert [r.confidence for r in read(photo, [electricity], settings)] == [0.6]
    assert [r.confidence for r in read(photo, [water, electricity], settings)] == [0.8, 0.6]
