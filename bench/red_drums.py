"""How many red drums the OCR misses on drum counters: the shares behind
`matching.red_drums.MISSED_RED_SHARE`.

    .venv/bin/python bench/red_drums.py [--corpus ../shared/corpus] [--n 150] [--first-seed 2000]
        [--jobs 2]

Each photo is read as the worker reads it for its meter (integer and decimal drums from master
data): the dev water photos as 5 black (or as many as labelled) and 3 red drums (4 where the label
shows four), and rendered gas meters (`ocr.synth_drums`, 5 + 3, seeds from `--first-seed`, never
tuned on). Printed per source: the share of reads that find 0, 1, 2, 3 or more red drums fewer
than the meter has, of the photos read at all.
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections import Counter
from multiprocessing import Pool
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.ocr import corpus_dir
from matching.red_drums import MISSED_RED_SHARE

WATER_PREFIX = "toloka__"
# (source, photo: a corpus file or a render seed, integer drums, red drums)
Task = tuple[str, str, int, int]


def init_worker() -> None:
    import cv2

    cv2.setNumThreads(1)


def missed(task: Task) -> tuple[str, int | None]:
    """The source and how many red drums the read missed (None: nothing read)."""
    from ocr import read_meter
    from ocr.synth_drums import random_meter

    source, photo, integers, decimals = task
    image = random_meter("gas", int(photo)).image if source == "gas" else Path(photo)
    read = read_meter(
        image, integer_digits=integers, display="drum", decimal_digits=decimals,
        meter_number=False,
    )  # fmt: skip
    if read.reading is None:
        return source, None
    return source, max(0, decimals - len(read.fraction or ""))


def water_tasks(corpus: Path) -> list[Task]:
    photos = corpus / "meter-photos"
    with (photos / "labels.csv").open(encoding="utf-8", newline="") as handle:
        rows = [r for r in csv.DictReader(handle) if r["file"].startswith(WATER_PREFIX)]
    return [
        ("water", str(photos / r["file"]), max(5, len(r["reading"])), max(3, len(r["fraction"])))
        for r in rows
        if r["reading"].strip()
    ]


def shares(found: list[int | None]) -> str:
    read = [m for m in found if m is not None]
    top = len(MISSED_RED_SHARE) - 1
    counts = Counter(min(m, top) for m in read)
    cells = " ".join(f"{counts[k] / max(1, len(read)):>7.1%}" for k in range(top + 1))
    return f"{len(read):>5} {cells}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", help="corpus folder (default ../shared/corpus)")
    parser.add_argument("--n", type=int, default=150, help="rendered gas meters")
    parser.add_argument("--first-seed", type=int, default=2000)
    parser.add_argument("--jobs", type=int, default=1)
    args = parser.parse_args(argv)
    corpus = corpus_dir(args.corpus)
    tasks: list[Task] = []
    if (corpus / "meter-photos" / "labels.csv").is_file():
        tasks += water_tasks(corpus)
    else:
        sys.stderr.write(f"no dev photos under {corpus}: rendered gas meters only\n")
    tasks += [("gas", str(args.first_seed + k), 5, 3) for k in range(args.n)]
    with Pool(max(1, args.jobs), initializer=init_worker) as pool:
        results = pool.map(missed, tasks, chunksize=4)
    top = len(MISSED_RED_SHARE) - 1
    labels = [f"{k} fewer" for k in range(top)] + [f"{top}+ fewer"]
    head = " ".join(f"{label:>7}" for label in labels)
    print(f"{'source':<8} {'read':>5} {head}")
    for source in dict.fromkeys(s for s, _ in results):
        print(f"{source:<8} {shares([m for s, m in results if s == source])}")
    shipped = " ".join(f"{share:>7.1%}" for share in MISSED_RED_SHARE)
    print(f"{'shipped':<8} {'':>5} {shipped}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
