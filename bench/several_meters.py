"""Measure the meter choice for customers with two meters on the dev photos (no OCR run here).

    .venv/bin/python -m bench.ocr_dump /tmp/ocr.jsonl
    .venv/bin/python -m bench.ocr_dump /tmp/water_as_lcd.jsonl --group water --as-meter 6,lcd
    .venv/bin/python -m bench.ocr_dump /tmp/lcd_as_water.jsonl --group lcd --as-meter 5,drum
    .venv/bin/python -m bench.several_meters /tmp/ocr.jsonl /tmp/water_as_lcd.jsonl \
        /tmp/lcd_as_water.jsonl [--seed 1]

Each photo's customer has the photographed meter (simulated history as in
`bench.calibrate_decision`) and a second meter of the other kind (a water meter beside an
electricity display meter, or the reverse) with a history of its own that ends at a random count.
The real decision (`matching.hypotheses.decide_photo`) gets the photo as read for each meter and
decides; the same photos with the one meter alone give the one-meter figures. Only photos with
both reads in the dumps count. Without meter numbers
on the photos: the value's fit to each history is the only evidence.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import sys
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from bench.calibrate_decision import KINDS, TODAY, history, load, meter_read
from core.settings import Settings
from core.types import Display, MeterHint, MeterProfile, MeterRead
from matching.expectation import Point, expect
from matching.hypotheses import Candidate, decide_photo
from matching.meters import spec_of

OTHER = {
    "water": ("electricity", "kWh", 6, "lcd", 3500.0),
    "lcd": ("water", "m3", 5, "drum", 100.0),
}


@dataclass
class Tally:
    photos: int = 0
    booked: int = 0
    wrong: int = 0

    def add(self, booked: bool, wrong: bool) -> None:
        self.photos += 1
        self.booked += booked
        self.wrong += wrong

    def line(self, name: str) -> str:
        share = self.booked / max(self.photos, 1)
        wrong = self.wrong / max(self.booked, 1)
        return (
            f"  {name}: {self.booked}/{self.photos} booked ({share:.1%}), "
            f"{self.wrong} wrong ({wrong:.2%})"
        )


def own_candidate(group: str, row: dict[str, object], rng: random.Random) -> Candidate:
    kind, unit, typical = KINDS[group]
    digits = max(5, len(str(row["reading"] or row["label"])))
    display: Display = "drum" if group == "water" else "lcd"
    profile = MeterProfile(
        1, "OWN", "1", 1, kind, unit, digits, len(str(row["fraction"] or "")), display, ("1.8.0",)
    )
    label = int(str(row["label"]))
    points = history(label, typical * rng.lognormvariate(0, 0.5), rng)
    return Candidate(profile, {"1.8.0": expect(kind, spec_of(profile), "1.8.0", TODAY, points)})


def other_candidate(group: str, rng: random.Random) -> Candidate:
    kind, unit, digits, display, typical = OTHER[group]
    shown: Display = "lcd" if display == "lcd" else "drum"
    profile = MeterProfile(2, "OTHER", "1", 1, kind, unit, digits, 0, shown, ("1.8.0",))
    last = Decimal(rng.randint(10 ** (digits - 2), 10 ** (digits - 1) * 5))
    rate = Decimal(str(typical / 365))
    day = TODAY - dt.timedelta(days=rng.randint(150, 400))
    points = [
        Point(last - rate * 730, day - dt.timedelta(days=730)),
        Point(last - rate * 365, day - dt.timedelta(days=365)),
        Point(last, day),
    ]
    return Candidate(profile, {"1.8.0": expect(kind, spec_of(profile), "1.8.0", TODAY, points)})


def booked(
    item_meter: int | None, outcome: str, value: Decimal | None, label: int
) -> tuple[bool, bool]:
    done = outcome == "accept"
    return done, done and (item_meter != 1 or value is None or int(value) != label)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("own", type=Path)
    parser.add_argument("others", type=Path, nargs="+")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    min_conf = Settings().auto_accept_min_confidence
    as_other = {str(r["file"]): meter_read(r) for path in args.others for r in load(path)}
    for group in KINDS:
        one, two = Tally(), Tally()
        rows = [r for r in load(args.own) if r["group"] == group and str(r["file"]) in as_other]
        for row in rows:
            own, other = own_candidate(group, row, rng), other_candidate(group, rng)
            read = meter_read(row)
            label = int(str(row["label"]))
            single = decide_photo(
                0, [own], {own.profile.hint: read}, frozenset(), min_confidence=min_conf
            )
            one.add(*booked(single.meter_id, single.outcome, single.value, label))
            reads: dict[MeterHint, MeterRead] = {own.profile.hint: read}
            reads[other.profile.hint] = as_other[str(row["file"])]
            both = decide_photo(0, [own, other], reads, frozenset(), min_confidence=min_conf)
            two.add(*booked(both.meter_id, both.outcome, both.value, label))
        print(f"{group}:")
        print(one.line("one meter"))
        print(two.line(f"with a {OTHER[group][0]} meter as well"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
