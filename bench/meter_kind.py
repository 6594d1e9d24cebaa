"""How often the OCR finds the marks of a meter's kind on drum photos: the shares behind
`matching.meter_kind` (pointer dials around the drums, the unit printed after them).

    .venv/bin/python bench/meter_kind.py [--corpus ../shared/corpus] [--renders 100]
        [--first-seed 3000] [--ocr-cache /tmp/meter-intake-ocr-cache] [--cached-only] [--jobs 1]

Each photo is read as the worker reads it for a drum meter, plate included: the dev water photos
as 5 black and 3 red drums (split by the source's own train / test halves), the `emic`
electricity photos as 5 + 1, the LCD photos as a 5 + 3 drum meter would be (what a customer's
water meter's hint makes of a display photo), and rendered gas, Ferraris and water meters
(`ocr.synth_drums`, seeds from `--first-seed`: the marks' constants are set on seeds
3000-3099 and the water photos' train half, seeds 5000-5099 hold out) as master data gives
them. Corpus photos go through the decision benchmark's OCR cache (`bench/ocr_cache.py`).
Printed per source: photos read as drums, the share with a dial found, with `kWh` and with
`m³` read.
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections import defaultdict
from multiprocessing import Pool
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.ocr import corpus_dir
from bench.ocr_cache import DEFAULT_FOLDER

# (source, a corpus file or a render seed, integer drums, decimal drums)
Task = tuple[str, str, int, int]
Marks = tuple[str, bool, str | None]  # source, read as drums, printed unit; dials apart
RENDERED = {"gas": "gas", "ferraris": "ferraris", "water render": "water"}


def source_of(file: str) -> str | None:
    if file.startswith("toloka__images__train"):
        return "water train"
    if file.startswith("toloka__"):
        return "water test"
    if file.startswith("anhkhoi-emic__"):
        return "emic"
    if file.startswith("sacha-7seg__"):
        return "lcd"
    return None


def corpus_tasks(corpus: Path) -> list[Task]:
    photos = corpus / "meter-photos"
    with (photos / "labels.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    tasks = []
    for row in rows:
        source = source_of(row["file"])
        if source is not None:
            decimals = 1 if source == "emic" else 3
            tasks.append((source, str(photos / row["file"]), 5, decimals))
    return tasks


def init_worker() -> None:
    import cv2

    cv2.setNumThreads(1)


def marks(task: Task, cache: Path, cached_only: bool) -> tuple[str, int | None, str | None]:
    """The source, the dials found (None: not read as drums, or not cached with `cached_only`)
    and the printed unit."""
    from bench.ocr_cache import cache_key, cached_reader
    from core.settings import Settings
    from core.types import MeterHint
    from ocr import read_meter
    from ocr.synth_drums import random_meter

    source, photo, integers, decimals = task
    if source in RENDERED:
        sample = random_meter(RENDERED[source], int(photo))  # type: ignore[arg-type]
        read = read_meter(
            sample.image, integer_digits=sample.integer_digits, display="drum",
            decimal_digits=len(sample.fraction),
        )  # fmt: skip
    else:
        hint = MeterHint(integer_digits=integers, display="drum", decimal_digits=decimals)
        data = Path(photo).read_bytes()
        if cached_only and not (cache / f"{cache_key(data, hint, Settings())}.json").is_file():
            return source, None, None
        (read,) = cached_reader(cache)(data, [hint], Settings())
    if read.reading is None or read.display != "drum":
        return source, None, None
    return source, read.dials or 0, read.printed_unit


def report(results: list[tuple[str, int | None, str | None]]) -> list[str]:
    by_source: dict[str, list[tuple[int, str | None]]] = defaultdict(list)
    for source, dials, unit in results:
        if dials is not None:
            by_source[source].append((dials, unit))
    lines = [f"{'source':<14} {'drums':>6} {'dials':>7} {'kWh':>7} {'m³':>7}"]
    for source, rows in by_source.items():
        n = len(rows)
        seen = sum(d > 0 for d, _ in rows) / n
        kwh = sum(u == "kWh" for _, u in rows) / n
        m3 = sum(u == "m³" for _, u in rows) / n
        lines.append(f"{source:<14} {n:>6} {seen:>7.1%} {kwh:>7.1%} {m3:>7.1%}")
    return lines


def main(argv: list[str] | None = None) -> int:
    from functools import partial

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", help="corpus folder (default ../shared/corpus)")
    parser.add_argument("--renders", type=int, default=100, help="photos per rendered kind")
    parser.add_argument("--first-seed", type=int, default=3000)
    parser.add_argument("--no-corpus", action="store_true", help="the renders only")
    parser.add_argument("--ocr-cache", type=Path, default=DEFAULT_FOLDER)
    parser.add_argument("--cached-only", action="store_true", help="skip photos not cached")
    parser.add_argument("--jobs", type=int, default=1)
    args = parser.parse_args(argv)
    seeds = range(args.first_seed, args.first_seed + args.renders)
    tasks: list[Task] = [(name, str(s), 0, 0) for name in RENDERED for s in seeds]
    if not args.no_corpus:
        tasks += corpus_tasks(corpus_dir(args.corpus))
    work = partial(marks, cache=args.ocr_cache, cached_only=args.cached_only)
    if args.jobs <= 1:
        init_worker()
        results = list(map(work, tasks))
    else:
        with Pool(args.jobs, initializer=init_worker) as pool:
            results = list(pool.imap(work, tasks, chunksize=2))
    print(f"render seeds {seeds.start}..{seeds.stop - 1}")
    print("\n".join(report(results)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
