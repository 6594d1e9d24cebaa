"""Measure where the OCR search may stop early (`ocr.tuning.EARLY_EXIT`) on the dev photos.

    .venv/bin/python bench/early_exit.py [--jobs J] [--limit N] [--group G] [--corpus DIR]

Every photo is searched to the end (water meters with `integer_digits=5`, displays without, as
in bench/ocr.py); after each stage the ranker's choice and its probability are noted. Per mode
(digit count known or not) and threshold it prints how many photos a stop at that probability
would end early, how many of those early reads differ from the whole search's read, and how
many are wrong against the label. A threshold is safe on these photos when no early read
differs; `ocr/choice.py` uses the thresholds in EARLY_EXIT, which this script checks.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from multiprocessing import Pool
from pathlib import Path

from tqdm import tqdm

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from bench import ocr as bench_ocr  # noqa: E402 (the repository on the path first)

THRESHOLDS = (0.7, 0.75, 0.8, 0.85, 0.9, 0.95)


@dataclass(frozen=True)
class Searched:
    """One photo's search: per stage (rows refined) the reading chosen and its probability."""

    mode: str
    label: str
    stages: list[tuple[int, str, float, bool]]  # refined rows, reading, probability, sure-able

    @property
    def whole(self) -> str:
        return self.stages[-1][1]


def _search(task: tuple[str, str, str, str, bool]) -> Searched | None:
    from core.settings import Settings
    from ocr import default_engine, ranking
    from ocr.choice import choice, complete
    from ocr.reader import load_work_image

    path, _, group, label, _ = task
    digits = bench_ocr.meter_hint(group, label).integer_digits
    engine = default_engine()
    image = load_work_image(Path(path), max_pixels=Settings().max_image_pixels)
    model = engine.ranker[ranking.mode(digits)]
    stages = []
    for stage in engine.search.stages(image, digits):
        if stage.described:
            best, likely = choice(stage.described, image.shape, model)
            stages.append((stage.refined, best.text, likely, complete(best)))
    return Searched(ranking.mode(digits), label, stages) if stages else None


def _right(reading: str, label: str) -> bool:
    return reading.isdigit() and int(reading) == int(label)


@dataclass(frozen=True)
class Stops:
    """What stopping at one threshold would do to a set of photos."""

    photos: int
    stopped: int
    differ: int  # early reads other than the whole search's
    wrong: int  # early reads other than the label
    by_rows: dict[int, int]  # stops by rows refined at the stop


def stops(photos: list[Searched], threshold: float) -> Stops:
    """The first stage (not the last) whose read is complete and at least `threshold` sure."""
    early = []
    for photo in photos:
        for refined, reading, likely, complete in photo.stages[:-1]:
            if complete and likely >= threshold:
                early.append((photo, refined, reading))
                break
    by_rows: dict[int, int] = {}
    for _, refined, _ in early:
        by_rows[refined] = by_rows.get(refined, 0) + 1
    return Stops(
        len(photos),
        len(early),
        sum(reading != photo.whole for photo, _, reading in early),
        sum(not _right(reading, photo.label) for photo, _, reading in early),
        dict(sorted(by_rows.items())),
    )


def report(photos: list[Searched], mode: str) -> list[str]:
    mine = [p for p in photos if p.mode == mode]
    lines = [
        f"{mode}: {len(mine)} photos",
        "  threshold  stopped early  differ  wrong   (by rows refined at the stop)",
    ]
    for threshold in THRESHOLDS:
        s = stops(mine, threshold)
        share = s.stopped / max(1, s.photos)
        lines.append(
            f"  {threshold:9.2f}  {s.stopped:5d} ({share:4.0%})  {s.differ:6d}  {s.wrong:5d}"
            f"   {s.by_rows}"
        )
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", help="corpus folder (default ../shared/corpus)")
    parser.add_argument("--jobs", type=int, default=1, help="worker processes (one core each)")
    parser.add_argument("--limit", type=int, help="first N photos only")
    parser.add_argument("--group", choices=bench_ocr.GROUPS, help="only one group")
    args = parser.parse_args()
    photos_dir = bench_ocr.corpus_dir(args.corpus) / "meter-photos"
    if not (photos_dir / "labels.csv").is_file():
        sys.stderr.write(f"corpus not found: {photos_dir}/labels.csv (set --corpus)\n")
        return 2
    tasks = bench_ocr.photo_tasks(photos_dir, args.group, args.limit, False)
    with Pool(args.jobs, initializer=bench_ocr.init_worker) as pool:
        searched = list(tqdm(pool.imap(_search, tasks, chunksize=4), total=len(tasks)))
    photos = [s for s in searched if s is not None]
    from ocr.tuning import EARLY_EXIT

    for mode in sorted({p.mode for p in photos}):
        print("\n".join(report(photos, mode)))
        print(f"  shipped threshold: {EARLY_EXIT[mode]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
