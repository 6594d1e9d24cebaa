"""OCR of meter photos: image in, `MeterRead` out (no database, no mail).

    from ocr import read_meter
    result = read_meter(Path("photo.jpg"), integer_digits=5)

`read_meter_hypotheses` reads one photo against several (digit count, kind) hypotheses, e.g. the
meters a sender has, locating the counter once:

    reads = read_meter_hypotheses(Path("photo.jpg"), [(5, "drum"), (6, "lcd"), (None, None)])

`read_meter` never raises for bad input (corrupt, empty, huge, tiny images, Tesseract failures):
the result then has `reading=None` and a machine `reason`. It raises `ToolMissingError` only when
Tesseract or its language data is missing (an installation problem, not a photo problem).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from core.settings import Settings
from core.types import DigitRead, Display, MeterRead
from ocr import site_model
from ocr.reader import Hypothesis, OcrEngine

__all__ = [
    "DigitRead",
    "Hypothesis",
    "MeterRead",
    "OcrEngine",
    "default_engine",
    "read_meter",
    "read_meter_hypotheses",
]

_engines: dict[tuple[object, ...], OcrEngine] = {}
_lock = threading.Lock()


def default_engine(settings: Settings | None = None) -> OcrEngine:
    """One engine per distinct OCR configuration, built on first use (the model loads once),
    with the active site model (`ocr/site_model.py`: checked on every call, so a model that
    `meter-intake train` switches to is used from the next photo on)."""
    settings = settings or Settings()
    root = settings.site_model_dir
    configuration = (
        settings.tesseract_data_dir,
        settings.tesseract_timeout_seconds,
        settings.max_image_pixels,
        settings.auto_accept_min_confidence,
        str(root.resolve()),
    )
    key = (*configuration, site_model.active_version(root))
    with _lock:
        if key not in _engines:
            for stale in [k for k in _engines if k[:-1] == configuration]:
                del _engines[stale]  # the site model this configuration used before
            _engines[key] = OcrEngine(settings, site=site_model.load_active(root))
        return _engines[key]


def read_meter(
    image: bytes | Path | np.ndarray,
    *,
    integer_digits: int | None = None,
    display: Display | None = None,
    settings: Settings | None = None,
    engine: OcrEngine | None = None,
    meter_number: bool = True,
    decimal_digits: int | None = None,
) -> MeterRead:
    """Read the counter of one meter photo; `integer_digits` (master data) helps pick drums,
    `display` (master data: "drum" or "lcd", None when not known) says which kind to look for,
    `decimal_digits` (master data) how many decimal drums the meter has.

    `meter_number=False` skips reading the serial number from the plate (saves the Tesseract
    call when the meter is already known); `engine` is a seam for tests and workers.
    """
    engine = engine or default_engine(settings)
    return engine.read(
        image,
        integer_digits=integer_digits,
        display=display,
        meter_number=meter_number,
        decimal_digits=decimal_digits,
    )


def read_meter_hypotheses(
    image: bytes | Path | np.ndarray,
    hypotheses: Sequence[Hypothesis],
    *,
    settings: Settings | None = None,
    engine: OcrEngine | None = None,
    meter_number: bool = True,
    decimal_digits: int | None = None,
) -> list[MeterRead]:
    """One `MeterRead` per (integer_digits, display) hypothesis, in order, each the same as
    `read_meter` gives under that hypothesis (`decimal_digits` for all of them); the photo is
    loaded and its counter located once, so each further hypothesis costs only its own choice
    (see `OcrEngine.read_hypotheses`)."""
    engine = engine or default_engine(settings)
    return engine.read_hypotheses(
        image, hypotheses, meter_number=meter_number, decimal_digits=decimal_digits
    )
