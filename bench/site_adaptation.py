"""Site adaptation played with the dev photos: a utility whose clerks verified the water photos.

    .venv/bin/python bench/site_adaptation.py [--folds 5] [--limit N] [--jobs J] [--samples F]

The water photos of ../shared/corpus/meter-photos (label = the booked reading, 5 integer digits,
drum counters) are split into k folds. Each photo is read once with the shipped models, which
gives its cells (labelled as `meter-intake train` labels them) and the shipped model's read
(`--samples F` keeps them in F and reads them from there the next time). For each fold a site
model is fitted on the other folds (`ocr.site_training.fit_heads`, the code `meter-intake train`
runs) and reads the fold's photos, accepting as `meter-intake train`'s models accept (where the
shipped models accept the same reading); the shipped and the site model are compared on the
same held-out photos, with what the switch rule (`Figures.shortfalls`) says of the site model.
`--limit N` takes N photos drawn at random (seeded).
"""

from __future__ import annotations

import argparse
import os
import pickle
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from multiprocessing import get_context
from pathlib import Path
from typing import TYPE_CHECKING, Any

# one BLAS thread: the head's fit runs beside the reading workers on a shared machine, where
# BLAS's own threads slow it down many times over
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
import numpy as np
from tqdm import tqdm

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from bench import ocr as bench_ocr  # noqa: E402 (the repository on the path first)

if TYPE_CHECKING:
    from core.types import MeterRead
    from ocr.digits import Head
    from ocr.reader import OcrEngine
    from ocr.site_training import Figures, Sample, Verified

_ENGINE: OcrEngine | None = None


def _init(heads: dict[str, Head] | None) -> None:
    from core.settings import Settings
    from ocr.reader import OcrEngine
    from ocr.site_training import site_engine

    global _ENGINE
    bench_ocr.init_worker()
    settings = Settings()
    _ENGINE = OcrEngine(settings) if heads is None else site_engine(settings, heads)


def _sample(photo: Verified) -> Sample:
    from ocr.site_training import sample

    assert _ENGINE is not None
    found = sample(_ENGINE, photo)
    features = {k: v.astype(np.float32) for k, v in found.features.items()}
    return type(found)(features, found.labels, found.read)


def _read(photo: Verified) -> MeterRead:
    assert _ENGINE is not None
    return _ENGINE.read(
        photo.image, integer_digits=photo.integer_digits, display=photo.display, meter_number=False
    )


def water_photos(photos_dir: Path, limit: int | None, seed: int = 0) -> list[Verified]:
    from ocr.site_training import Verified

    tasks = bench_ocr.photo_tasks(photos_dir, "water", None, False)
    photos = [
        Verified(Path(path), bench_ocr.WATER_DIGITS, "drum", int(label))
        for path, _, _, label, _ in tasks
        if label.isdigit() and len(label) <= bench_ocr.WATER_DIGITS
    ]
    if limit:
        order = np.random.default_rng(seed).permutation(len(photos))[:limit]
        photos = [photos[i] for i in sorted(order)]
    return photos


def _mapped(
    jobs: int,
    heads: dict[str, Head] | None,
    fn: Callable[[Any], Any],
    items: Sequence[Any],
    what: str,
) -> list[Any]:
    # spawned, not forked: the parent holds OpenCV nets (and their threads' locks) by then
    with get_context("spawn").Pool(jobs, initializer=_init, initargs=(heads,)) as pool:
        return list(tqdm(pool.imap(fn, items, chunksize=2), total=len(items), desc=what))


def shipped_samples(photos: list[Verified], jobs: int, cache: Path | None) -> list[Sample]:
    """Each photo's cells, labels and shipped read (from `cache` where it holds them)."""
    if cache is not None and cache.is_file():
        with cache.open("rb") as fh:
            stored: tuple[list[str], list[Sample]] = pickle.load(fh)
        if stored[0] == [str(p.image) for p in photos]:
            return stored[1]
    samples: list[Sample] = _mapped(jobs, None, _sample, photos, "Zellen (ausgeliefert)")
    if cache is not None:
        with cache.open("wb") as fh:
            pickle.dump(([str(p.image) for p in photos], samples), fh)
    return samples


def run(
    photos: list[Verified], k: int, jobs: int, cache: Path | None
) -> Iterator[tuple[int, Figures, Figures, int]]:
    """Per fold: the shipped and the site model's figures on it and the labelled cells the
    site model was fitted on."""
    from core.settings import Settings
    from ocr.reader import OcrEngine
    from ocr.site_training import Figures, digit_models, fit_heads, folds

    samples = shipped_samples(photos, jobs, cache)
    models = digit_models(OcrEngine(Settings()))
    for fold, (training, held) in enumerate(folds(len(photos), k)):
        chosen = [samples[i] for i in training]
        heads = fit_heads(chosen, models)
        held_photos = [photos[i] for i in held]
        site = _mapped(jobs, heads, _read, held_photos, f"Falte {fold + 1}/{k}")
        shipped = Figures.of([samples[i].read for i in held], held_photos)
        cells = sum(s.labelled for s in chosen)
        yield fold, shipped, Figures.of(site, held_photos), cells


def _line(name: str, f: Figures) -> str:
    return (
        f"{name:<10}{f.photos:>5}{f.exact / f.photos:>9.1%}{f.accepted / f.photos:>10.1%}"
        f"{f.precision:>11.1%}{f.accepted - f.accepted_exact:>7}"
    )


def main(argv: list[str] | None = None) -> int:
    from ocr.site_training import Figures

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", help="corpus folder (default ../shared/corpus)")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--limit", type=int, default=None, help="N water photos (seeded draw)")
    parser.add_argument("--jobs", type=int, default=1, help="worker processes (one core each)")
    parser.add_argument("--samples", type=Path, help="file keeping the shipped pass (pickle)")
    args = parser.parse_args(argv)
    photos_dir = bench_ocr.corpus_dir(args.corpus) / "meter-photos"
    if not (photos_dir / "labels.csv").is_file():
        sys.stderr.write(f"corpus not found: {photos_dir}/labels.csv\n")
        return 2
    photos = water_photos(photos_dir, args.limit)
    start = time.perf_counter()
    totals = {"shipped": Figures(0, 0, 0, 0), "site": Figures(0, 0, 0, 0)}
    header = f"{'model':<10}{'n':>5}{'exact':>9}{'accepted':>10}{'precision':>11}{'wrong':>7}"
    print(f"{len(photos)} water photos, {args.folds} folds")
    for fold, shipped, site, cells in run(photos, args.folds, args.jobs, args.samples):
        refused = ", ".join(site.shortfalls(shipped)) or "none"
        print(
            f"fold {fold + 1}: site model fitted on {cells} labelled cells; "
            f"switch refused for: {refused}\n  {header}"
        )
        for name, f in (("shipped", shipped), ("site", site)):
            print("  " + _line(name, f))
            t = totals[name]
            totals[name] = Figures(
                t.photos + f.photos,
                t.exact + f.exact,
                t.accepted + f.accepted,
                t.accepted_exact + f.accepted_exact,
            )
    print(f"all folds (every photo held out once):\n  {header}")
    for name, f in totals.items():
        print("  " + _line(name, f))
    gain = totals["site"].exact - totals["shipped"].exact
    refused = ", ".join(totals["site"].shortfalls(totals["shipped"])) or "none"
    print(f"gain: {gain:+d} exact photos; all folds' switch refused for: {refused}")
    print(f"{time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
