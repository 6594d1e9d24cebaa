"""Benchmark the OCR on the dev photos in ../shared/corpus/meter-photos.

    .venv/bin/python bench/ocr.py [--limit N] [--jobs J] [--group water|lcd|emic] [--dump out.csv]
                                  [--compare earlier.csv] [--lcd-as uncounted|lcd|unknown]
                                  [--water-as counted|drum|unknown] [--source PREFIX]

Water meters (drum counters) are read with `integer_digits=5` and `display="drum"`, as master data
gives them (a water meter is a drum counter); the electricity drum counters of group `emic`
(anhkhoi-emic: 5 black drums and a red tenth drum, kWh) likewise with `integer_digits=5` and
`display="drum"`, and `decimal_digits=1` (the water photos without it): they are for measuring
only, nothing is fitted on them (`photo_tasks` leaves them out of the groups the fitting benches
read); LCD photos without a digit count, or as the pipeline reads them when master data gives one
(every meter has one; a display shows no unlit leading digits): `--lcd-as lcd` with their label's
digit count and `display="lcd"` (the meter's `anzeige` column filled in), `--lcd-as unknown` with
the count and no display kind (an electricity meter imported without it). `--water-as unknown`
reads the water photos with neither digit count nor kind (a sender with several meters, or
unknown), `--water-as drum` with the kind only.
`--source toloka` keeps the photos whose file name starts so. Label convention: `reading` in
labels.csv has no leading zeros (the meter shows `00092` for `92`), so a reading is exact when
its integer value equals the label; a display's label may also be its value rounded up where it
shows a decimal part (see `matches`); `ERRATA` corrects labels that the photo plainly
contradicts. Digit accuracy compares digit by digit, right-aligned, against the label padded
with zeros to the digit count (an exact read hits every digit).
Each worker process uses one core (OpenCV threads = 1); seconds are per photo inside `read_meter`.
"""

from __future__ import annotations

import argparse
import csv
import os
import statistics
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from multiprocessing import Pool
from pathlib import Path

from tqdm import tqdm

from core.models import shown_on
from core.types import MeterHint

REPO = Path(__file__).resolve().parents[1]
WATER_DIGITS = 5
EMIC_DIGITS = 5
EMIC_DECIMALS = 1
GROUPS = ("water", "lcd", "emic")
TUNED_GROUPS = ("water", "lcd")  # the photos thresholds and the ranker are fitted on
GROUP_PREFIX = {"toloka": "water", "sacha-7seg": "lcd", "anhkhoi-emic": "emic"}
LCD_AS = ("uncounted", "lcd", "unknown")
WATER_AS = ("counted", "drum", "unknown")
_LCD_AS = "uncounted"  # how the LCD photos are read (set per worker)
_WATER_AS = "counted"  # how the water photos are read (set per worker)


@dataclass(frozen=True)
class Outcome:
    file: str
    group: str
    label: str
    reading: str | None
    fraction: str | None
    confidence: float
    accepted: bool
    reason: str | None
    seconds: float
    meter_numbers: tuple[str, ...] = ()

    @property
    def exact(self) -> bool:
        return matches(self.group, self.label, self.reading, self.fraction)

    def digit_hits(self) -> tuple[int, int]:
        n = DRUM_DIGITS.get(self.group, len(self.label))
        truth = self.label.zfill(n)
        if self.exact:
            return len(truth), len(truth)
        pred = (self.reading or "").rjust(len(truth), "?")[-len(truth) :]
        return sum(a == b for a, b in zip(truth, pred, strict=True)), len(truth)


def matches(group: str, label: str, reading: str | None, fraction: str | None) -> bool:
    """Is a read right against its label? Its integer value equals the label, or, on a display
    showing a decimal part other than zero, is one below it: the display labels round such a
    value up about as often as they cut it off (`229` for a display showing `228.27`, `139` for
    `139.57`), and the integer part shown, what a utility books, is the read's."""
    if reading is None or not reading.isdigit():
        return False
    value, wanted = int(reading), int(label)
    shows_decimals = bool(fraction and fraction.strip("0"))
    return value == wanted or (group == "lcd" and shows_decimals and value + 1 == wanted)


# labels that contradict what the photo plainly shows, checked by eye: the display's integer part
ERRATA = {
    # the display shows 113.00 (labelled 191)
    "sacha-7seg__Datasets__HQ_digital__dd6b9a76ce131643252f4738bf1ec759809fc4b5.jpg": "113",
    # the display shows 47.00 (labelled 48)
    "sacha-7seg__Datasets__LQ_digital__1c0cf63b3e24405bd23d2d0bfe5a8452a1f994c8.jpg": "47",
}
DRUM_DIGITS = {"water": WATER_DIGITS, "emic": EMIC_DIGITS}


def corpus_dir(arg: str | None) -> Path:
    return Path(arg or os.environ.get("METER_INTAKE_CORPUS") or REPO.parent / "shared" / "corpus")


def init_worker(lcd_as: str = "uncounted", water_as: str = "counted") -> None:
    """A worker process on one core: OpenCV's own threads off."""
    import cv2

    global _LCD_AS, _WATER_AS
    cv2.setNumThreads(1)
    _LCD_AS, _WATER_AS = lcd_as, water_as


def meter_hint(
    group: str, label: str, lcd_as: str = "uncounted", water_as: str = "counted"
) -> MeterHint:
    """What master data gives the reader about a photo's meter (see the module's doc)."""
    if group == "water":
        if water_as == "unknown":
            return MeterHint()
        if water_as == "drum":
            return MeterHint(None, "drum")
        return MeterHint(WATER_DIGITS, shown_on("water", None))
    if group == "emic":
        return MeterHint(EMIC_DIGITS, shown_on("electricity", "drum"))
    if lcd_as == "uncounted":
        return MeterHint()
    return MeterHint(len(label), "lcd" if lcd_as == "lcd" else None)


def _read(task: tuple[str, str, str, str, bool]) -> Outcome:
    from ocr import read_meter

    path, file, group, label, plate = task
    hint = meter_hint(group, label, _LCD_AS, _WATER_AS)
    r = read_meter(
        Path(path),
        integer_digits=hint.integer_digits,
        display=hint.display,
        meter_number=plate,
        decimal_digits=EMIC_DECIMALS if group == "emic" else None,
    )
    return Outcome(
        file,
        group,
        label,
        r.reading,
        r.fraction,
        r.confidence,
        r.accepted,
        r.reason,
        r.seconds,
        r.meter_number_candidates,
    )


Task = tuple[str, str, str, str, bool]


def group_of(file: str) -> str | None:
    """The group of a corpus photo, by its source prefix (None: a source not benchmarked)."""
    return GROUP_PREFIX.get(file.split("__", 1)[0])


def photo_tasks(
    photos: Path,
    group: str | None,
    limit: int | None,
    plate: bool,
    *,
    every: bool = False,
    source: str = "",
) -> list[Task]:
    """The labelled photos to read (path, file, group, label, plate?), in labels.csv order:
    one group, or (`group=None`) the groups fitted on, or with `every` all groups; `source`:
    only files whose name starts with it."""
    with (photos / "labels.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    wanted = (group,) if group else GROUPS if every else TUNED_GROUPS
    tasks = []
    for row in rows:
        kind = group_of(row["file"])
        if kind is not None and kind in wanted and row["file"].startswith(source):
            label = ERRATA.get(row["file"], row["reading"])
            tasks.append((str(photos / row["file"]), row["file"], kind, label, plate))
    return tasks[:limit] if limit else tasks


def _run(
    tasks: list[Task], jobs: int, lcd_as: str = "uncounted", water_as: str = "counted"
) -> Iterator[Outcome]:
    if jobs <= 1:
        init_worker(lcd_as, water_as)
        yield from map(_read, tasks)
        return
    with Pool(jobs, initializer=init_worker, initargs=(lcd_as, water_as)) as pool:
        yield from pool.imap(_read, tasks, chunksize=4)


TARGET_PRECISION = 0.995


def reachable(rows: list[Outcome]) -> tuple[float, float]:
    """Coverage and confidence threshold of the lowest threshold whose accepted reads are still
    right >= 99.5 % of the time: what calibrating `ocr/trust.py` on these photos could give."""
    ranked = sorted((o for o in rows if o.reading), key=lambda o: -o.confidence)
    best, threshold, right = 0, 1.0, 0
    for i, o in enumerate(ranked, start=1):
        right += o.exact
        last = i == len(ranked) or ranked[i].confidence < o.confidence
        if last and right / i >= TARGET_PRECISION:
            best, threshold = i, o.confidence
    return best / len(rows), threshold


def report(outcomes: list[Outcome]) -> list[str]:
    lines = [
        f"{'group':<6} {'n':>4} {'exact':>7} {'digits':>7} {'coverage':>9} {'precision':>9} "
        f"{'median s':>9} {'reachable':>10} {'at conf':>8}"
    ]
    for group in GROUPS:
        rows = [o for o in outcomes if o.group == group]
        if not rows:
            continue
        exact = sum(o.exact for o in rows) / len(rows)
        hits = [o.digit_hits() for o in rows]
        digits = sum(h for h, _ in hits) / sum(n for _, n in hits)
        accepted = [o for o in rows if o.accepted]
        coverage = len(accepted) / len(rows)
        precision = sum(o.exact for o in accepted) / len(accepted) if accepted else float("nan")
        median = statistics.median(o.seconds for o in rows)
        reach, threshold = reachable(rows)
        lines.append(
            f"{group:<6} {len(rows):>4} {exact:>7.1%} {digits:>7.1%} {coverage:>9.1%} "
            f"{precision:>9.1%} {median:>9.3f} {reach:>10.1%} {threshold:>8.3f}"
        )
    return lines


DUMP_COLUMNS = [
    "file",
    "group",
    "label",
    "reading",
    "fraction",
    "confidence",
    "accepted",
    "reason",
    "seconds",
    "exact",
    "meter_numbers",
]


def dump(outcomes: list[Outcome], path: Path) -> None:
    """Per-photo results as CSV, for looking at the failures and for comparing two versions of
    the code photo by photo (confidence to 1e-9, the plate's meter number candidates)."""
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(DUMP_COLUMNS)
        for o in outcomes:
            writer.writerow(
                [
                    o.file,
                    o.group,
                    o.label,
                    o.reading,
                    o.fraction,
                    f"{o.confidence:.9f}",
                    int(o.accepted),
                    o.reason,
                    f"{o.seconds:.3f}",
                    int(o.exact),
                    "|".join(o.meter_numbers),
                ]
            )


COMPARED = ("reading", "fraction", "accepted", "reason", "meter_numbers")


def compare(outcomes: list[Outcome], path: Path, tolerance: float = 1e-6) -> tuple[int, list[str]]:
    """Where this run differs from a dump written earlier (`--dump`): per photo read in both,
    the reading, fraction, accepted flag, reason, meter number candidates and the confidence
    (to `tolerance`), and how many photos were compared."""
    with path.open(newline="") as fh:
        before = {row["file"]: row for row in csv.DictReader(fh)}
    now = {o.file: o for o in outcomes}
    differences = []
    compared = 0
    for file, row in before.items():
        o = now.get(file)
        if o is None:
            continue
        compared += 1
        current = {
            "reading": o.reading or "",
            "fraction": o.fraction or "",
            "accepted": str(int(o.accepted)),
            "reason": o.reason or "",
            "meter_numbers": "|".join(o.meter_numbers),
        }
        changed = [
            f"{key} {row[key]!r} -> {current[key]!r}"
            for key in COMPARED
            if row[key] != current[key]
        ]
        if abs(float(row["confidence"]) - o.confidence) > tolerance:
            changed.append(f"confidence {row['confidence']} -> {o.confidence:.9f}")
        if changed:
            differences.append(f"{file}: {'; '.join(changed)}")
    return compared, differences


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", help="corpus folder (default ../shared/corpus)")
    parser.add_argument("--limit", type=int, help="only the first N photos (per selection)")
    parser.add_argument("--jobs", type=int, default=1, help="worker processes (one core each)")
    parser.add_argument("--group", choices=GROUPS, help="only one group (default: all)")
    parser.add_argument("--dump", type=Path, help="write per-photo results to this CSV")
    parser.add_argument(
        "--compare", type=Path, help="compare per-photo results with an earlier --dump CSV"
    )
    parser.add_argument(
        "--no-meter-number", action="store_true", help="skip the plate (Tesseract) to time the rest"
    )
    parser.add_argument(
        "--lcd-as",
        choices=LCD_AS,
        default="uncounted",
        help="LCD photos without a digit count, or with their label's and display kind lcd or "
        "unknown (as master data with or without the meter's display kind gives them)",
    )
    parser.add_argument(
        "--water-as",
        choices=WATER_AS,
        default="counted",
        help="water photos with the digit count and kind drum (counted), with the kind only "
        "(drum), or with neither (unknown: a sender with several meters or none known)",
    )
    parser.add_argument("--source", default="", help="only photos whose file name starts so")
    args = parser.parse_args(argv)
    photos = corpus_dir(args.corpus) / "meter-photos"
    if not (photos / "labels.csv").is_file():
        sys.stderr.write(
            f"corpus not found: {photos}/labels.csv (set --corpus or METER_INTAKE_CORPUS)\n"
        )
        return 2
    sys.path.insert(0, str(REPO))
    plate = not args.no_meter_number
    tasks = photo_tasks(photos, args.group, args.limit, plate, every=True, source=args.source)
    outcomes = list(
        tqdm(_run(tasks, args.jobs, args.lcd_as, args.water_as), total=len(tasks), unit="photo")
    )
    if args.dump:
        dump(outcomes, args.dump)
    print("\n".join(report(outcomes)))
    if args.compare:
        compared, differences = compare(outcomes, args.compare)
        for difference in differences:
            print(difference)
        print(f"{compared} photos compared with {args.compare}: {len(differences)} differ")
        return 1 if differences else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
