"""Calibrate and measure the history-aware acceptance on the dev photos, on held-out folds.

    .venv/bin/python -m bench.ocr_dump /tmp/ocr.jsonl          # the OCR once (minutes)
    .venv/bin/python -m bench.calibrate_decision /tmp/ocr.jsonl [--folds 5] [--seed 1]

Each photo gets a simulated meter history that ends where its label is: a household's yearly use
drawn per kind (water around 100 m³, electricity around 3 500 kWh, capped at half the value so
small counters keep a history), three earlier yearly readings with ±20 % rate variation, the last
one 150 to 400 days before the photo. The real decision code (`matching.decoding`,
`matching.expectation`) then decides each photo for each candidate triple of constants
(`HISTORY_MAX_DOUBT`, `MIN_PHOTO_CONFIDENCE`, `PERIOD_SPREAD`). Per fold, the triple is chosen on
the other folds (the one booking most beyond the OCR's own acceptance with at most `--max-wrong`
of those bookings wrong there, default 0.3 %: with a few dozen such bookings, none wrong; ties go
to the stricter triple, and the triples one step more lenient in any constant must keep the limit
too) and reported on the fold itself. "fitted" chooses on all photos and reports on the same
photos, "shipped" measures the constants `matching.decoding` ships; both beside the held-out
figure. `--one-reading` gives every meter one earlier reading only (the kind's default band).
`--several-meters` calibrates the meter choice instead (`bench.calibrate_meter_odds`).
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import json
import random
import sys
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from core.settings import Settings
from core.types import DigitRead, Expectation, MeterRead
from matching.decoding import (
    HISTORY_MAX_DOUBT,
    MIN_PHOTO_CONFIDENCE,
    PERIOD_SPREAD,
    Decoded,
    confident,
    decode,
)
from matching.expectation import Point, expect
from matching.plausibility import MeterSpec

TODAY = dt.date(2026, 11, 20)
KINDS = {"water": ("water", "m3", 100.0), "lcd": ("electricity", "kWh", 3500.0)}
DOUBTS = [0.0, 0.02, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.5, 0.6, 0.7]
FLOORS = [0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.0]  # the OCR confidence a booking needs at least
SPREADS = [0.5, 0.3, 0.2, 0.15, 0.1]  # a period's use around the meter's rate (PERIOD_SPREAD)
# (max doubt, min photo confidence, period spread); None: OCR acceptance only
Knot = tuple[float, float, float] | None
GRID: list[Knot] = [(d, f, p) for d in DOUBTS for f in FLOORS for p in SPREADS]


@dataclass(frozen=True, eq=False)
class Case:
    group: str
    label: int
    read: MeterRead
    kind: str
    display: str
    spec: MeterSpec
    exp: Expectation


def load(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def meter_read(row: dict[str, object]) -> MeterRead:
    digits = tuple(
        DigitRead(value, confidence, tuple((a, c) for a, c in alternatives))
        for value, confidence, alternatives in row["digits"]  # type: ignore[attr-defined]
    )
    return MeterRead(
        reading=row["reading"], fraction=row["fraction"] or None,  # type: ignore[arg-type]
        confidence=float(row["confidence"]), accepted=bool(row["accepted"]),  # type: ignore[arg-type]
        display=row.get("display"), digits=digits,  # type: ignore[arg-type]
        dials=row.get("dials"), printed_unit=row.get("printed_unit"),  # type: ignore[arg-type]
    )  # fmt: skip


def history(label: int, yearly: float, rng: random.Random) -> list[Point]:
    """Three earlier readings a year apart, the last 150-400 days before TODAY; a counter too
    small for the drawn use (a young meter) gets a use it can hold."""
    day = TODAY - dt.timedelta(days=rng.randint(150, 400))
    years = (TODAY - day).days / 365 + 2
    yearly = min(yearly, label / years / 1.25)
    value = float(label)
    points = []
    rate = yearly / 365
    for step in range(3):
        days = (TODAY - day).days if step == 0 else 365
        used = rate * rng.uniform(0.8, 1.2) * days
        value -= used
        if value < 0:
            break
        points.append(Point(Decimal(int(value)), day))
        day -= dt.timedelta(days=365)
    return points[::-1]


def case(row: dict[str, object], rng: random.Random, *, one_reading: bool = False) -> Case | None:
    """The photo with its simulated history; `one_reading`: only the last earlier reading (the
    kind's default band)."""
    group = str(row["group"])
    if group not in KINDS or row["reading"] is None:
        return None
    kind, unit, typical = KINDS[group]
    label = int(str(row["label"]))
    read = meter_read(row)
    spec = MeterSpec(max(5, len(str(row["reading"]))), len(str(row["fraction"] or "")), unit)
    yearly = typical * rng.lognormvariate(0, 0.5)
    points = history(label, yearly, rng)
    exp = expect(kind, spec, "1.8.0", TODAY, points[-1:] if one_reading else points)
    return Case(group, label, read, kind, "lcd" if group == "lcd" else "drum", spec, exp)


@functools.cache
def decoded_as(c: Case, spread: float | None) -> Decoded:
    return decode(c.read, c.exp, c.kind, c.spec, display=c.display, period_spread=spread)


def outcome(c: Case, knot: Knot, min_confidence: float) -> tuple[bool, bool]:
    """(booked, booked wrong) under `knot`."""
    doubt, floor, spread = knot if knot is not None else (None, 1.0, None)
    decoded = decoded_as(c, spread)
    booked = decoded.value is not None and confident(
        c.read, decoded, c.exp, min_confidence=min_confidence, max_doubt=doubt,
        min_photo_confidence=floor,
        drums=c.spec.integer_digits if c.display == "drum" else None,
    )  # fmt: skip
    wrong = booked and decoded.value is not None and int(decoded.value) != c.label
    return booked, wrong


def shipped_knot(display: str) -> Knot:
    """The constants `matching.decoding` ships for this kind of counter."""
    doubt = HISTORY_MAX_DOUBT.get(display)
    if doubt is None:
        return None
    return doubt, MIN_PHOTO_CONFIDENCE.get(display, 1.0), PERIOD_SPREAD


def rates(cases: list[Case], knot: Knot, min_conf: float) -> tuple[int, int, int]:
    results = [outcome(c, knot, min_conf) for c in cases]
    return len(cases), sum(b for b, _ in results), sum(w for _, w in results)


def choose(cases: list[Case], min_conf: float, max_wrong: float) -> Knot:
    """The triple booking most beyond the OCR's own acceptance with at most `max_wrong` of those
    bookings wrong (the OCR's own errors do not depend on it), a step inside that region: the
    triples one step more lenient in any constant must keep the limit too (a conservative knot,
    not the edge where the errors begin); ties: the stricter triple."""
    ocr_only = [c for c in cases if not c.read.accepted]
    counts = {knot: rates(ocr_only, knot, min_conf) for knot in GRID}

    def ok(knot: Knot) -> bool:
        if knot not in counts:  # beyond the grid's edge
            return True
        _, booked, wrong = counts[knot]
        return wrong <= max_wrong * booked

    best: Knot = None
    most = 0
    for knot in GRID:
        assert knot is not None
        doubt, floor, spread = knot
        looser = [
            *[(d, floor, spread) for d in DOUBTS if d > doubt][:1],
            *[(doubt, f, spread) for f in FLOORS if f < floor][:1],
            *[(doubt, floor, p) for p in SPREADS if p < spread][:1],
        ]
        booked = counts[knot][1]
        if ok(knot) and all(map(ok, looser)) and booked > most:
            best, most = knot, booked
    return best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("dump", type=Path)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--max-wrong", type=float, default=0.003)
    parser.add_argument(
        "--one-reading", action="store_true", help="every meter with one earlier reading only"
    )
    parser.add_argument(
        "--several-meters",
        action="store_true",
        help="calibrate MIN_METER_ODDS with a rival meter per photo (bench.calibrate_meter_odds)",
    )
    parser.add_argument(
        "--floors-only",
        action="store_true",
        help="with --several-meters: only the far-rivals rule's floors, not the folds' choices",
    )
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    rows = load(args.dump)
    rng.shuffle(rows)
    min_conf = Settings().auto_accept_min_confidence
    for group in KINDS:
        built = [case(r, rng, one_reading=args.one_reading) for r in rows if r["group"] == group]
        cases = [c for c in built if c is not None]
        unread = len(built) - len(cases)
        if not built:
            continue
        print(f"{group}: {len(built)} photos ({unread} without any reading)")
        if args.several_meters:
            from bench import calibrate_meter_odds  # it imports this module

            calibrate_meter_odds.report(
                cases, rng, args.folds, min_conf, floors_only=args.floors_only
            )
            continue
        report(cases, unread, args.folds, min_conf, args.max_wrong)
    return 0


def report(cases: list[Case], unread: int, folds: int, min_conf: float, max_wrong: float) -> None:
    total = booked = wrong = 0
    base_booked = base_wrong = 0
    fitted = choose(cases, min_conf, max_wrong)
    n_all, b_all, w_all = rates(cases, fitted, min_conf)
    shipped = shipped_knot(cases[0].display) if cases else None
    n_s, b_s, w_s = rates(cases, shipped, min_conf)
    for k in range(folds):
        held = cases[k::folds]
        train = [c for i, c in enumerate(cases) if i % folds != k]
        knot = choose(train, min_conf, max_wrong)
        n, b, w = rates(held, knot, min_conf)
        _, b0, w0 = rates(held, None, min_conf)
        knots = "(max doubt, min confidence, period spread)"
        print(f"  fold {k}: {knots} {knot}, booked {b}/{n}, wrong {w}")
        total, booked, wrong = total + n, booked + b, wrong + w
        base_booked, base_wrong = base_booked + b0, base_wrong + w0
    total += unread
    print(
        f"  fitted {fitted}: booked {b_all}/{n_all + unread} = {b_all / (n_all + unread):.1%}, "
        f"wrong {w_all} ({w_all / max(b_all, 1):.2%} of bookings)"
    )
    print(
        f"  shipped {shipped}: booked {b_s}/{n_s + unread} = {b_s / (n_s + unread):.1%}, "
        f"wrong {w_s} ({w_s / max(b_s, 1):.2%} of bookings)"
    )
    print(
        f"  held-out: booked {booked}/{total} = {booked / total:.1%}, wrong {wrong} "
        f"({wrong / max(booked, 1):.2%} of bookings); OCR acceptance alone with the band's veto: "
        f"{base_booked / total:.1%} booked, {base_wrong} wrong"
    )


if __name__ == "__main__":
    sys.exit(main())
