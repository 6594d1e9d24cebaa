"""Benchmark the OCR on seeded synthetic meter photos, one set per kind of meter.

    .venv/bin/python bench/synthetic.py [--set electricity_lcd ...] [--seeds tuning|held-out]
                                        [--n N] [--jobs J] [--no-meter-number] [--failures]
                                        [--wide]

Each set renders its photos from seeds: the tuning seeds (0, 1, ...) are the ones looked at while
the reader was developed, the held-out seeds (from HELD_OUT_START on) never were. Per set it
prints exact (integer and decimal digits both right), digits (right-aligned against the truth),
OBIS-right and unit-right (a code or unit the photo does not show must come back as None), the
median seconds per photo inside `read_meter`, the share accepted and how many accepted reads have
a wrong integer value (what a utility would book wrongly).

`SETS` is the registry: a name and a function from a seed to a photo and its `Truth`. A set is
added by adding an entry. The `_wide` sets draw the displays from the renderer's wider ranges
(`random_display(..., wide=True)`), run with `--wide`.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing import Pool
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
HELD_OUT_START = 100_000


@dataclass(frozen=True)
class Truth:
    """What a synthetic photo shows, and what master data tells the reader about its meter."""

    reading: str
    fraction: str
    obis: str | None = None
    unit: str | None = None
    integer_digits: int | None = None
    display: str | None = None


Render = Callable[[int], tuple[np.ndarray, Truth]]


def _display_set(kind: str, *, wide: bool = False) -> Render:
    def render(seed: int) -> tuple[np.ndarray, Truth]:
        from ocr.synth_display import random_display, render_display

        spec = random_display(kind, seed, wide=wide)
        truth = Truth(spec.reading, spec.fraction, spec.obis, spec.unit, len(spec.reading), "lcd")
        return render_display(spec), truth

    return render


SETS: dict[str, Render] = {
    "electricity_lcd": _display_set("electricity"),
    "heat_lcd": _display_set("heat"),
    "water_lcd": _display_set("water"),
    "electricity_lcd_wide": _display_set("electricity", wide=True),
    "heat_lcd_wide": _display_set("heat", wide=True),
    "water_lcd_wide": _display_set("water", wide=True),
}
WIDE = "_wide"  # the sets drawn from the renderer's wider ranges (`--wide`)


@dataclass(frozen=True)
class Outcome:
    set: str
    seed: int
    truth: Truth
    reading: str | None
    fraction: str | None
    obis: str | None
    unit: str | None
    seconds: float
    accepted: bool = False

    @property
    def integer_right(self) -> bool:
        """The integer value (what a utility books) is the truth's."""
        return bool(self.reading and self.reading.isdigit()) and int(self.reading or 0) == int(
            self.truth.reading
        )

    @property
    def exact(self) -> bool:
        right = self.reading is not None and self.reading.isdigit()
        return (
            right
            and int(self.reading or 0) == int(self.truth.reading)
            and (self.fraction or "") == self.truth.fraction
        )

    def digit_hits(self) -> tuple[int, int]:
        truth = self.truth.reading + self.truth.fraction
        shown = (self.reading or "") + (self.fraction or "")
        pred = shown.rjust(len(truth), "?")[-len(truth) :]
        return sum(a == b for a, b in zip(truth, pred, strict=True)), len(truth)


_PLATE = True


def _init(plate: bool) -> None:
    import cv2

    global _PLATE
    cv2.setNumThreads(1)
    _PLATE = plate


def read_one(task: tuple[str, int]) -> Outcome:
    from ocr import read_meter

    name, seed = task
    image, truth = SETS[name](seed)
    r = read_meter(
        image,
        integer_digits=truth.integer_digits,
        display=truth.display,  # type: ignore[arg-type]
        meter_number=_PLATE,
    )
    return Outcome(name, seed, truth, r.reading, r.fraction, r.obis, r.unit, r.seconds, r.accepted)


def report(outcomes: list[Outcome]) -> list[str]:
    lines = [
        f"{'set':<21} {'n':>4} {'exact':>7} {'digits':>7} {'OBIS':>7} {'unit':>7} {'median s':>9}"
        f" {'accepted':>8} {'wrong':>5}"
    ]
    for name in SETS:
        rows = [o for o in outcomes if o.set == name]
        if not rows:
            continue
        hits = [o.digit_hits() for o in rows]
        lines.append(
            f"{name:<21} {len(rows):>4} {sum(o.exact for o in rows) / len(rows):>7.1%} "
            f"{sum(h for h, _ in hits) / sum(n for _, n in hits):>7.1%} "
            f"{sum(o.obis == o.truth.obis for o in rows) / len(rows):>7.1%} "
            f"{sum(o.unit == o.truth.unit for o in rows) / len(rows):>7.1%} "
            f"{statistics.median(o.seconds for o in rows):>9.3f} "
            f"{sum(o.accepted for o in rows) / len(rows):>8.1%} "
            f"{sum(o.accepted and not o.integer_right for o in rows):>5}"
        )
    return lines


def failure(o: Outcome) -> str:
    t = o.truth
    return (
        f"{o.set} seed {o.seed}: {t.reading}.{t.fraction} {t.obis} {t.unit} -> "
        f"{o.reading}.{o.fraction} {o.obis} {o.unit}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", action="append", choices=list(SETS), help="only these sets")
    parser.add_argument("--seeds", choices=["tuning", "held-out"], default="held-out")
    parser.add_argument("--n", type=int, default=100, help="photos per set")
    parser.add_argument("--first", type=int, default=0, help="skip the first seeds")
    parser.add_argument("--jobs", type=int, default=1, help="worker processes (one core each)")
    parser.add_argument("--no-meter-number", action="store_true", help="skip the plate read")
    parser.add_argument("--wide", action="store_true", help="the sets of wider variation")
    parser.add_argument("--failures", action="store_true", help="list every photo not all right")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(REPO))
    start = (HELD_OUT_START if args.seeds == "held-out" else 0) + args.first
    names = args.set or [name for name in SETS if name.endswith(WIDE) == args.wide]
    tasks = [(name, seed) for name in names for seed in range(start, start + args.n)]
    plate = not args.no_meter_number
    if args.jobs <= 1:
        _init(plate)
        outcomes = list(map(read_one, tasks))
    else:
        with Pool(args.jobs, initializer=_init, initargs=(plate,)) as pool:
            outcomes = list(pool.imap(read_one, tasks, chunksize=2))
    print(f"{args.seeds} seeds {start}..{start + args.n - 1}")
    print("\n".join(report(outcomes)))
    if args.failures:
        wrong = [
            o for o in outcomes if not o.exact or (o.obis, o.unit) != (o.truth.obis, o.truth.unit)
        ]
        print("\n".join(failure(o) for o in wrong))
    return 0


if __name__ == "__main__":
    sys.exit(main())
