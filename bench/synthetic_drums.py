"""Benchmark the OCR on synthetic drum counters of many makes (`ocr/synth_drums.py`).

    .venv/bin/python bench/synthetic_drums.py [--set gas] [--n 60] [--first-seed 0] [--jobs 1]
                                              [--without-extras]

Each set is a seeded renderer: photo k of a set is `SETS[name](first_seed + k)`, so a run is the
same photos every time, and another `--first-seed` gives photos never looked at (report the
seeds used for tuning beside a held-out range). A photo is read as master data gives its meter:
its integer and decimal drum counts and `display="drum"`, without the plate. `exact`: the
integer reading as shown (leading zeros included) equals the rendered one; `digits`: integer
digits right, right-aligned; `fraction`: the decimal drums right too (the last drum may be caught
rolling, by convention its lower digit counts); `accepted`: share of the photos whose read the
OCR accepted, `precision`: share of those with the integer reading exact (nothing is fitted on
these renders, so both are held-out figures for each range of seeds); `median s`: seconds per
photo inside `read_meter`. `--without-extras` renders the Ferraris meters without the marker
pen's letters and the unit on the window's band (`random_meter(..., extras=False)`).
"""

from __future__ import annotations

import argparse
import statistics
import sys
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from multiprocessing import Pool
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from ocr.synth_drums import Sample, random_meter  # noqa: E402

SETS: dict[str, Callable[[int], Sample]] = {
    "gas": partial(random_meter, "gas"),
    "ferraris": partial(random_meter, "ferraris"),
    "water-dials": partial(random_meter, "water"),
}


@dataclass(frozen=True)
class Outcome:
    name: str
    seed: int
    truth: str
    fraction: str
    reading: str | None
    read_fraction: str | None
    seconds: float
    accepted: bool = False

    @property
    def exact(self) -> bool:
        return self.reading == self.truth

    @property
    def digits(self) -> tuple[int, int]:
        pred = (self.reading or "").rjust(len(self.truth), "?")[-len(self.truth) :]
        return sum(a == b for a, b in zip(self.truth, pred, strict=True)), len(self.truth)


def init_worker(extras: bool = True) -> None:
    import cv2

    cv2.setNumThreads(1)
    if not extras:
        SETS["ferraris"] = partial(random_meter, "ferraris", extras=False)


def read_one(task: tuple[str, int]) -> Outcome:
    from ocr import read_meter

    name, seed = task
    sample = SETS[name](seed)
    r = read_meter(
        sample.image,
        integer_digits=sample.integer_digits,
        display="drum",
        decimal_digits=len(sample.fraction),
        meter_number=False,
    )
    truth = (sample.reading, sample.fraction)
    return Outcome(name, seed, *truth, r.reading, r.fraction, r.seconds, r.accepted)


def report(outcomes: list[Outcome]) -> list[str]:
    head = f"{'set':<12} {'n':>4} {'exact':>7} {'digits':>7} {'fraction':>9}"
    lines = [f"{head} {'accepted':>9} {'precision':>9} {'median s':>9}"]
    for name in SETS:
        rows = [o for o in outcomes if o.name == name]
        if not rows:
            continue
        exact = sum(o.exact for o in rows) / len(rows)
        hits = [o.digits for o in rows]
        digits = sum(h for h, _ in hits) / sum(n for _, n in hits)
        fraction = sum(o.exact and (o.read_fraction or "") == o.fraction for o in rows) / len(rows)
        accepted = [o.exact for o in rows if o.accepted]
        precision = f"{sum(accepted) / len(accepted):>9.1%}" if accepted else f"{'-':>9}"
        median = statistics.median(o.seconds for o in rows)
        rates = f"{exact:>7.1%} {digits:>7.1%} {fraction:>9.1%}"
        share = f"{len(accepted) / len(rows):>9.1%} {precision}"
        lines.append(f"{name:<12} {len(rows):>4} {rates} {share} {median:>9.3f}")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", action="append", choices=list(SETS), help="repeatable; all")
    parser.add_argument("--n", type=int, default=60, help="photos per set")
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--jobs", type=int, default=1, help="worker processes (one core each)")
    parser.add_argument("--failures", action="store_true", help="list the photos read wrong")
    parser.add_argument(
        "--without-extras", action="store_true", help="Ferraris without marker letters, unit band"
    )
    args = parser.parse_args(argv)
    tasks = [(name, args.first_seed + k) for name in args.set or list(SETS) for k in range(args.n)]
    extras = not args.without_extras
    if args.jobs <= 1:
        init_worker(extras)
        outcomes = list(map(read_one, tasks))
    else:
        with Pool(args.jobs, initializer=init_worker, initargs=(extras,)) as pool:
            outcomes = list(pool.imap(read_one, tasks, chunksize=2))
    print(f"seeds {args.first_seed}..{args.first_seed + args.n - 1}")
    print("\n".join(report(outcomes)))
    if args.failures:
        for o in outcomes:
            if not o.exact:
                read = f"{o.reading}.{o.read_fraction}{' (accepted)' if o.accepted else ''}"
                print(f"{o.name} seed {o.seed}: {o.truth}.{o.fraction} read {read}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
