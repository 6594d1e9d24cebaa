"""`meter-intake read [--integer-digits N] [--display drum|lcd] [--json] IMAGE…`: OCR on files.

With `--json`: one JSON object per image and line, in argument order, also for missing or
unreadable files (`reading: null` and a `reason`). Without: one readable line per image.
Exit code 0 when every image gave a reading, 1 when at least one did not. A missing Tesseract
raises `ToolMissingError`, which the CLI turns into its own exit code and message.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TextIO

from core.settings import Settings
from core.types import Display, MeterRead
from ocr import default_engine
from ocr.reader import OcrEngine


def _read_one(
    engine: OcrEngine, path: str, integer_digits: int | None, display: Display | None
) -> MeterRead:
    file = Path(path)
    if not file.is_file():
        return MeterRead(reading=None, reason="file_not_found")
    return engine.read(file, integer_digits=integer_digits, display=display)


def format_line(path: str, result: MeterRead) -> str:
    """One human-readable line (German labels, machine reason codes)."""
    if result.reading is None:
        return f"{path}: nicht lesbar / unreadable ({result.reason})"
    value = result.reading + (f",{result.fraction}" if result.fraction else "")
    verdict = "akzeptiert / accepted" if result.accepted else f"Prüfung / review ({result.reason})"
    number = f"  Zählernummer {result.meter_number}" if result.meter_number else ""
    return (
        f"{path}: Stand {value}  Konfidenz {result.confidence:.2f}  {verdict}{number}"
        f"  [{result.seconds:.2f} s]"
    )


def run_read(
    paths: list[str],
    *,
    integer_digits: int | None,
    as_json: bool,
    display: Display | None = None,
    settings: Settings | None = None,
    out: TextIO | None = None,
) -> int:
    """Read every image in `paths`, write one line each to `out` (stdout); return the exit code."""
    stream = out or sys.stdout
    engine = default_engine(settings)
    all_read = True
    for path in paths:
        result = _read_one(engine, path, integer_digits, display)
        all_read = all_read and result.reading is not None
        if as_json:
            stream.write(json.dumps(result.as_json(path), ensure_ascii=False) + "\n")
        else:
            stream.write(format_line(path, result) + "\n")
        stream.flush()
    return 0 if all_read else 1
