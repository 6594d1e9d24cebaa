"""A few real dev photos from ../shared/corpus (skipped with a reason where the corpus is absent).

The full measurement is `bench/ocr.py` (about 62 % of water meters and 72 % of LCDs exact today,
see docs/ocr.md); this only guards against a pipeline that stops working on real photos: a fair
part of a small fixed sample must be read right, and whatever is accepted must be right.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

import pytest

from ocr import read_meter

REPO = Path(__file__).resolve().parents[1]
CORPUS = Path(os.environ.get("METER_INTAKE_CORPUS", REPO.parent / "shared" / "corpus"))
PHOTOS = CORPUS / "meter-photos"
SAMPLE = 12  # per group, spread over the labels file

pytestmark = pytest.mark.corpus


def _sample(display: str) -> list[dict[str, str]]:
    if not (PHOTOS / "labels.csv").is_file():
        pytest.skip(f"dev photos not found at {PHOTOS} (set METER_INTAKE_CORPUS)")
    with (PHOTOS / "labels.csv").open(newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["display"] == display]
    step = max(1, len(rows) // SAMPLE)
    return rows[::step][:SAMPLE]


@pytest.mark.parametrize(("display", "digits"), [("drum", 5), ("lcd", None)])
def test_dev_photos_are_mostly_read_and_accepted_reads_are_right(
    display: str, digits: int | None
) -> None:
    rows = _sample(display)
    right = accepted_wrong = 0
    for row in rows:
        result = read_meter(PHOTOS / row["file"], integer_digits=digits)
        exact = result.reading is not None and int(result.reading) == int(row["reading"])
        right += exact
        accepted_wrong += result.accepted and not exact
        if digits is not None and result.reading is not None:
            assert len(result.reading) <= digits  # never more drums than the meter has
    assert right >= len(rows) // 4, f"only {right} of {len(rows)} {display} photos read right"
    assert accepted_wrong == 0
