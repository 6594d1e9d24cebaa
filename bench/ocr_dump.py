"""Dump what the OCR reads on the dev photos, with per-digit alternatives, as JSON lines.

    .venv/bin/python -m bench.ocr_dump OUT.jsonl [--group water|lcd|electricity] [--limit N]
                                      [--as-meter DIGITS,DISPLAY]

The decision calibration (bench/calibrate_decision.py) replays these reads against simulated
meter histories, so the expensive OCR runs once. Each photo is read as master data would give it:
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
        "digits": [[d.value, d.confidence, [list(a) for a in d.alternatives]] for d in read.digits],
    }


def main(argv: list[str] | None = None) -> int:
    from ocr import read_meter

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("out", type=Path)
    parser.add_argument("--group", choices=sorted(set(GROUPS.values())))
    parser.add_argument("--limit", type=int)
    parser.add_argument("--as-meter", help="DIGITS,DISPLAY for every photo, e.g. 6,lcd")
    args = parser.parse_args(argv)
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
            read = read_meter(
                corpus / row["file"], integer_digits=digits, display=display, meter_number=False
            )
            out.write(json.dumps(record(row["file"], group, row, read)) + "\n")
            out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
