"""How well OCR's counter box covers the labelled reading window on the dev photos.

    PYTHONPATH=. .venv/bin/python bench/counter_boxes.py [--limit N] [--every K]

The dev photos with a `box` in ../shared/corpus/meter-photos/labels.csv (drum counters: the
water meters' whole reading window, integer and red drums; the electricity meters' counter, as
`x1 y1 x2 y2` in the EXIF-upright photo) are read as the pipeline reads a drum meter
(`integer_digits` 5, `display="drum"`). For each photo with a reading, the counter box (a
quadrilateral) is compared with the labelled box by the intersection over union of their
polygons; the share of photos whose box overlaps by at least 0.3 and 0.5, and the median, are
printed, for all reads and for the reads whose value is right. The box's margins were set on
synthetic photos (ocr/geometry.py), not on these.
"""

from __future__ import annotations

import argparse
import csv
import os
import statistics
import sys
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from ocr import read_meter  # noqa: E402 (the repository on the path first)

CORPUS = Path(os.environ.get("METER_INTAKE_CORPUS", REPO.parent / "shared" / "corpus"))
PHOTOS = CORPUS / "meter-photos"


def iou(quad: object, box: tuple[float, float, float, float]) -> float:
    x1, y1, x2, y2 = box
    truth = np.array([[x1, y1], [x2, y1], [x2, y2], [x1, y2]], np.float32)
    found = cv2.convexHull(np.asarray(quad, np.float32))
    inter, _ = cv2.intersectConvexConvex(found, truth)
    union = cv2.contourArea(found) + cv2.contourArea(truth) - inter
    return float(inter / union) if union > 0 else 0.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=0, help="at most this many photos")
    parser.add_argument("--every", type=int, default=1, help="every K-th labelled photo")
    args = parser.parse_args()
    cv2.setNumThreads(1)
    with (PHOTOS / "labels.csv").open(newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["box"]][:: args.every]
    if args.limit:
        rows = rows[: args.limit]
    scores: list[tuple[float, bool]] = []
    unread = 0
    for row in rows:
        result = read_meter(PHOTOS / row["file"], integer_digits=5, display="drum")
        if result.reading is None or not result.counter_box:
            unread += 1
            continue
        box = tuple(float(v) for v in row["box"].split())
        right = int(result.reading) == int(row["reading"])
        scores.append((iou(result.counter_box, box), right))  # type: ignore[arg-type]
    print(f"{len(rows)} photos with a labelled box, {len(scores)} read, {unread} without a read")
    for name, part in (("all reads", scores), ("right reads", [s for s in scores if s[1]])):
        values = [s for s, _ in part]
        if not values:
            continue
        at_03 = sum(v >= 0.3 for v in values) / len(values)
        at_05 = sum(v >= 0.5 for v in values) / len(values)
        print(
            f"{name:<12} n={len(values):<4} median IoU {statistics.median(values):.2f}  "
            f"IoU>=0.3: {at_03:.0%}  IoU>=0.5: {at_05:.0%}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
