"""Calibrate how sure the OCR must be of a red drum to book its digit, on held-out folds.

    .venv/bin/python -m bench.ocr_dump /tmp/ocr.jsonl --group water   # the OCR once
    .venv/bin/python -m bench.calibrate_red_drums /tmp/ocr.jsonl [--folds 5] [--seed 1]

A drum counter's booking keeps its decimals up to the first red drum read with less confidence
than `matching.decoding.RED_DRUM_MIN_CONFIDENCE` (`supported_value`). Among the photos whose
integer part the OCR reads right, a booking is "off" when a decimal it keeps is not the label's
(as `bench/decisions.py` counts it: `label_matches`). Per fold the confidence is the lowest one
(keeping the most decimals) with at most `--max-off` of the other folds' bookings off, and
reported on the fold itself; "fitted" chooses and reports on all photos.
"""

from __future__ import annotations

import argparse
import random
import sys
from decimal import Decimal
from pathlib import Path

from bench.calibrate_decision import load, meter_read
from bench.decisions import label_matches
from bench.decisions_sim import LabelledPhoto
from matching.decoding import RED_DRUM_MIN_CONFIDENCE, supported_value

LEVELS = [0.0, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]


def cases(rows: list[dict[str, object]]) -> list[tuple[dict[str, object], LabelledPhoto]]:
    """The drum photos with a labelled fraction whose integer part the OCR read right."""
    found = []
    for row in rows:
        reading, label = row["reading"], str(row["label"])
        if row["group"] != "water" or not isinstance(reading, str) or not reading.isdigit():
            continue
        if int(reading) != int(label) or not row["label_fraction"]:
            continue
        found.append(
            (row, LabelledPhoto(str(row["file"]), "water", label, str(row["label_fraction"])))
        )
    return found


def kept(row: dict[str, object], level: float) -> Decimal:
    value = supported_value(meter_read(row), "drum", level)
    assert value is not None
    return value


def rates(
    chosen: list[tuple[dict[str, object], LabelledPhoto]], level: float
) -> tuple[int, int, int]:
    """(photos, bookings off, decimals kept) at `level`."""
    off = places = 0
    for row, photo in chosen:
        value = kept(row, level)
        off += not label_matches(value, photo, len(photo.fraction))
        places += max(-int(value.as_tuple().exponent), 0)
    return len(chosen), off, places


def choose(chosen: list[tuple[dict[str, object], LabelledPhoto]], max_off: float) -> float:
    for level in LEVELS:
        n, off, _ = rates(chosen, level)
        if off <= max_off * n:
            return level
    return 1.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("dump", type=Path)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--max-off", type=float, default=0.01)
    args = parser.parse_args(argv)
    rows = load(args.dump)
    random.Random(args.seed).shuffle(rows)
    chosen = cases(rows)
    total = off = places = 0
    for k in range(args.folds):
        held = chosen[k :: args.folds]
        level = choose([c for i, c in enumerate(chosen) if i % args.folds != k], args.max_off)
        n, o, p = rates(held, level)
        print(f"  fold {k}: red drum confidence {level}, {o}/{n} off, {p / n:.2f} decimals kept")
        total, off, places = total + n, off + o, places + p
    for name, level in (
        ("fitted", choose(chosen, args.max_off)),
        ("shipped", RED_DRUM_MIN_CONFIDENCE),
    ):
        n, o, p = rates(chosen, level)
        print(f"  {name} {level}: {o}/{n} off ({o / n:.1%}), {p / n:.2f} decimals kept")
    n, o, p = rates(chosen, 0.0)
    print(f"  every red drum: {o}/{n} off ({o / n:.1%}), {p / n:.2f} decimals kept")
    print(f"  held-out: {off}/{total} off ({off / total:.1%}), {places / total:.2f} decimals kept")
    return 0


if __name__ == "__main__":
    sys.exit(main())
