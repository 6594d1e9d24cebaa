"""`meter-intake read [--integer-digits N] [--display drum|lcd] [--json] IMAGE…`: OCR on files.

With `--json`: one JSON object per image and line, in argument order, also for missing or
unreadable files (`reading: null` and a `reason`). Without: one readable line per image.
With `--hypothesis DIGITS[:KIND]` (repeatable; DIGITS `-` when not known) each image is read
under every hypothesis, the counter located once: the JSON line lists them as `candidates`
(surest first, each with its `integer_digits` and `display`) and its own fields are the
surest candidate's. A drum counter read without a digit count (no `--integer-digits`) lists the
read under each digit count as `candidates` (surest first, the first is the line's own read),
each with its `evidence` (the count's share of what the drum window shows); a hypothesis
without a count lists them as its `digit_counts`.
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
from ocr.reader import Hypothesis, OcrEngine

KINDS: tuple[Display, ...] = ("drum", "lcd")


def parse_hypothesis(text: str) -> Hypothesis:
    """`5:drum`, `6`, `-:lcd`, `-` -> (integer_digits, display); raises ValueError."""
    digits, _, kind = text.partition(":")
    count = None if digits == "-" else int(digits)
    if count is not None and not 1 <= count <= 12:
        raise ValueError(f"digit count {count} out of 1..12")
    if kind and kind not in KINDS:
        raise ValueError(f"kind {kind!r} is not one of {', '.join(KINDS)}")
    return count, next((k for k in KINDS if k == kind), None)


def _read_one(
    engine: OcrEngine, path: str, integer_digits: int | None, display: Display | None
) -> MeterRead:
    file = Path(path)
    if not file.is_file():
        return MeterRead(reading=None, reason="file_not_found")
    return engine.read(file, integer_digits=integer_digits, display=display)


def _read_hypotheses(
    engine: OcrEngine, path: str, hypotheses: list[Hypothesis]
) -> tuple[MeterRead, list[dict[str, object]]]:
    """The surest read under `hypotheses` and every read as a JSON candidate, surest first."""
    file = Path(path)
    if not file.is_file():
        return MeterRead(reading=None, reason="file_not_found"), []
    reads = engine.read_hypotheses(file, hypotheses)
    ranked = sorted(zip(hypotheses, reads, strict=True), key=lambda hr: -hr[1].confidence)
    candidates = [
        {"integer_digits": digits, "display": kind, **_fields(read)} | _digit_counts(read)
        for (digits, kind), read in ranked
    ]
    return ranked[0][1], candidates


def _digit_counts(read: MeterRead) -> dict[str, object]:
    if not read.digit_count_hypotheses:
        return {}
    return {"digit_counts": [h.as_json() for h in read.digit_count_hypotheses]}


def _fields(read: MeterRead) -> dict[str, object]:
    record = read.as_json("")
    return {k: v for k, v in record.items() if k not in ("file", "seconds")}


def format_line(path: str, result: MeterRead) -> str:
    """One human-readable line (German labels, machine reason codes)."""
    if result.reading is None:
        return f"{path}: nicht lesbar / unreadable ({result.reason})"
    value = result.reading + (f",{result.fraction}" if result.fraction else "")
    value += f" {result.unit}" if result.unit else ""
    value += f" ({result.obis})" if result.obis else ""
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
    hypotheses: list[Hypothesis] | None = None,
    settings: Settings | None = None,
    out: TextIO | None = None,
) -> int:
    """Read every image in `paths`, write one line each to `out` (stdout); return the exit code."""
    stream = out or sys.stdout
    engine = default_engine(settings)
    all_read = True
    for path in paths:
        candidates: list[dict[str, object]] = []
        if hypotheses:
            result, candidates = _read_hypotheses(engine, path, hypotheses)
        else:
            result = _read_one(engine, path, integer_digits, display)
            candidates = [h.as_json() for h in result.digit_count_hypotheses]
        all_read = all_read and result.reading is not None
        if as_json:
            listed = hypotheses or result.digit_count_hypotheses
            record = result.as_json(path) | ({"candidates": candidates} if listed else {})
            stream.write(json.dumps(record, ensure_ascii=False) + "\n")
        else:
            stream.write(format_line(path, result) + "\n")
        stream.flush()
    return 0 if all_read else 1
