"""A per-photo OCR cache for benchmarks that run the real worker again and again.

`cached_reader(folder)` wraps the pipeline's OCR reader: a photo read once under a hint (integer
and decimal digit counts, display) is stored as JSON in `folder`, keyed by the image data (EXIF
times blanked, so a photo re-stamped as taken today hits the same entry), the whole hint and a
fingerprint of the OCR's code and models; the hints of a photo not cached yet are read in one
call. Changing anything under ocr/ or core/types.py starts a fresh cache; the decision code is not
part of the key, so decision runs after the first reuse every read.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any

from core.settings import Settings
from core.types import DigitRead, MeterHint, MeterRead
from intake.pipeline import Reader, ocr_reader

REPO = Path(__file__).resolve().parents[1]
DEFAULT_FOLDER = Path(tempfile.gettempdir()) / "meter-intake-ocr-cache"
_EXIF_TIME = re.compile(rb"\d{4}:\d\d:\d\d \d\d:\d\d:\d\d")


@cache
def code_version() -> str:
    """A fingerprint of everything that decides what the OCR reads."""
    digest = hashlib.sha256()
    files = [*sorted((REPO / "ocr").rglob("*")), REPO / "core" / "types.py"]
    for path in files:
        if path.is_file() and path.suffix in {".py", ".onnx", ".npz", ".json", ".traineddata"}:
            digest.update(str(path.relative_to(REPO)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def cache_key(data: bytes, hint: MeterHint, settings: Settings) -> str:
    digest = hashlib.sha256(_EXIF_TIME.sub(b"0000:00:00 00:00:00", data))
    hinted = f"|{hint.integer_digits}|{hint.display}|{hint.decimal_digits}"
    digest.update(f"{hinted}|{code_version()}".encode())
    digest.update(f"|{settings.auto_accept_min_confidence}|{settings.max_image_pixels}".encode())
    return digest.hexdigest()


def to_json(read: MeterRead) -> dict[str, Any]:
    return {
        "reading": read.reading,
        "fraction": read.fraction,
        "confidence": read.confidence,
        "accepted": read.accepted,
        "meter_number": read.meter_number,
        "meter_number_candidates": list(read.meter_number_candidates),
        "reason": read.reason,
        "seconds": read.seconds,
        "display": read.display,
        "obis": read.obis,
        "unit": read.unit,
        "printed_unit": read.printed_unit,
        "dials": read.dials,
        "digits": [[d.value, d.confidence, [list(a) for a in d.alternatives]] for d in read.digits],
    }


def from_json(record: dict[str, Any]) -> MeterRead:
    digits = tuple(
        DigitRead(value, confidence, tuple((int(a), float(c)) for a, c in alternatives))
        for value, confidence, alternatives in record["digits"]
    )
    return MeterRead(
        reading=record["reading"], fraction=record["fraction"],
        confidence=record["confidence"], accepted=record["accepted"],
        meter_number=record["meter_number"],
        meter_number_candidates=tuple(record["meter_number_candidates"]),
        reason=record["reason"], seconds=record["seconds"], display=record["display"],
        obis=record.get("obis"), unit=record.get("unit"), digits=digits,
        printed_unit=record.get("printed_unit"), dials=record.get("dials"),
    )  # fmt: skip


def cached_reader(folder: Path = DEFAULT_FOLDER, reader: Reader = ocr_reader) -> Reader:
    folder.mkdir(parents=True, exist_ok=True)

    def read(data: bytes, hints: Sequence[MeterHint], settings: Settings) -> list[MeterRead]:
        paths = [folder / f"{cache_key(data, hint, settings)}.json" for hint in hints]
        cached = {p: from_json(json.loads(p.read_text())) for p in paths if p.is_file()}
        missing = [(hint, p) for hint, p in zip(hints, paths, strict=True) if p not in cached]
        if missing:  # the hints not cached yet, read in one call
            fresh = reader(data, [hint for hint, _ in missing], settings)
            for (_, path), result in zip(missing, fresh, strict=True):
                _store(path, result)
                cached[path] = result
        return [cached[p] for p in paths]

    return read


def _store(path: Path, result: MeterRead) -> None:
    handle, temp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    with os.fdopen(handle, "w") as out:
        json.dump(to_json(result), out)
    os.replace(temp, path)  # atomic: parallel jobs never see half an entry
