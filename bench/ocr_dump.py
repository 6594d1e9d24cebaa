"""Dump what the OCR reads on the dev photos, with per-digit alternatives, as JSON lines.

    .venv/bin/python -m bench.ocr_dump OUT.jsonl [--group water|lcd|electricity] [--limit N]
                                      [--as-meter DIGITS,DISPLAY]

The decision calibration (bench/calibrate_decision.py) replays these reads against simulated
meter histories, so the expensive OCR runs once (and reads come from the cache bench/decisions.py
fills, bench/ocr_cache.py). Each photo is read as master data would give it:
water and electricity drum counters with their label's digit count (at least 5) and `drum`, LCD
photos with their label's digit count and `lcd`. `--as-meter 6,lcd` reads every photo as another
meter would show it (for a customer with several meters: the hypotheses that must lose).
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

from bench.ocr import corpus_dir
from core.types import Display, MeterRead

GROUPS = {"toloka": "water", "sacha-7seg": "lcd", "anhkhoi-emic": "electricity"}


def group_of(file: str) -> str:
    return GROUPS.get(file.split("__", 1)[0], "other")


def hint_for(group: str, label: str) -> tuple[int, Display]:
    if group == "lcd":
        return len(label), "lcd"
    return max(5, len(label)), "drum"


def record(file: str, group: str, label: dict[str, str], read: MeterRead) -> dict[str, object]:
    return {
        "file": file,
        "group": group,
        "label": label["reading"],
        "label_fraction": label["fraction"],
        "reading": read.reading,
        "fraction": read.fraction,
        "confidence": read.confidence,
        "accepted": read.accepted,
        "display": read.display,
        "dials": read.dials,
        "printed_unit": read.printed_unit,
        "digits": [[d.value, d.confidence, [list(a) for a in d.alternatives]] for d in read.digits],
    }


def main(argv: list[str] | None = None) -> int:
    from bench.ocr_cache import DEFAULT_FOLDER, cached_reader
    from core.settings import Settings
    from core.types import MeterHint

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("out", type=Path)
    parser.add_argument("--group", choices=sorted(set(GROUPS.values())))
    parser.add_argument("--limit", type=int)
    parser.add_argument("--as-meter", help="DIGITS,DISPLAY for every photo, e.g. 6,lcd")
    parser.add_argument(
        "--ocr-cache", type=Path, default=DEFAULT_FOLDER, help="cached reads (bench/ocr_cache.py)"
    )
    args = parser.parse_args(argv)
    reader, settings = cached_reader(args.ocr_cache), Settings()
    corpus = corpus_dir(None) / "meter-photos"
    with (corpus / "labels.csv").open(newline="") as handle:
        labels = [row for row in csv.DictReader(handle) if row["reading"]]
    labels = [row for row in labels if not args.group or group_of(row["file"]) == args.group]
    with args.out.open("w") as out:
        for row in labels[: args.limit]:
            group = group_of(row["file"])
            digits, display = hint_for(group, row["reading"])
            if args.as_meter:
                count, kind = args.as_meter.split(",")
                digits, display = int(count), "lcd" if kind == "lcd" else "drum"
            data = (corpus / row["file"]).read_bytes()
            [read] = reader(data, [MeterHint(digits, display)], settings)  # as the worker reads it
            out.write(json.dumps(record(row["file"], group, row, read)) + "\n")
            out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
