"""Replay the meter choice for the customers of bench/decisions.py without the worker.

    .venv/bin/python -m bench.meter_choice [--group lcd] [--seed 1] [--several-share 1]
        [--no-history-share 0.1] [--lcd-kind water] [--corpus DIR] [--ocr-cache DIR] [--detail]
        [--alone]

The same simulated customers, meters and histories as `bench/decisions.py` (same seed and
shares), the photo as read for each of the customer's meters taken from the OCR cache that
`bench/decisions.py` fills (photos not cached under every hint are skipped and counted), then
`matching.hypotheses.decide_photo` per photo. Prints, per outcome and reason code, how many photos
and what the rival meters were (kind, display, digits, with or without history, how each was
judged), so the losses among several meters can be read off in seconds instead of a full run.
The figures follow the full pipeline closely but not exactly (no typed values, no ceiling).
`--alone` decides every photo once more with the customer's photographed meter alone (the same
history) and counts, by cause, the photos booked right alone but not among the customer's meters:
what the other meters cost, apart from the histories a run with `--several-share 0` would draw.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from collections import Counter
from dataclasses import dataclass, replace
from decimal import Decimal
from pathlib import Path

from bench import decisions_sim as sim
from bench.decisions import corpus_dir
from bench.ocr_cache import DEFAULT_FOLDER, cache_key, from_json
from core.models import shown_on
from core.settings import Settings
from core.types import MeterHint, MeterProfile, MeterRead, ReadingItem
from matching.expectation import Point, expect
from matching.hypotheses import PHOTO_EXCLUDES, Candidate, decide_photo
from matching.meters import spec_of


@dataclass(frozen=True)
class Replay:
    customer: sim.SimCustomer
    item: ReadingItem

    @property
    def outcome(self) -> str:
        if self.item.outcome != "accept":
            return "clerk"
        own = self.item.meter_id == 0
        right = own and self.item.value is not None and _right(self.customer, self.item.value)
        return "booked" if right else "wrong"


def _right(customer: sim.SimCustomer, value: Decimal) -> bool:
    from bench.decisions import booking_error

    return booking_error(customer, customer.meters[0].number, value) != "wrong"


def profile(index: int, meter: sim.SimMeter) -> MeterProfile:
    p = meter.profile
    return MeterProfile(
        index, meter.number, "1", 1, p.kind, p.unit, p.integer_digits, p.decimal_digits,
        shown_on(p.kind, p.display), ("1.8.0",),
    )  # fmt: skip


def candidate(index: int, meter: sim.SimMeter, today: dt.date) -> Candidate:
    prof = profile(index, meter)
    points = [Point(value, day) for day, value in meter.history]
    exp = expect(prof.kind, spec_of(prof), "1.8.0", today, points)
    return Candidate(prof, {"1.8.0": exp})


def cached_reads(
    jpeg: bytes, hints: list[MeterHint], folder: Path, settings: Settings
) -> dict[MeterHint, MeterRead] | None:
    reads = {}
    for hint in hints:
        path = folder / f"{cache_key(jpeg, hint, settings)}.json"
        if not path.is_file():
            return None
        reads[hint] = from_json(json.loads(path.read_text()))
    return reads


def replay(
    customers: list[sim.SimCustomer], photos_dir: Path, folder: Path, today: dt.date
) -> tuple[list[Replay], int]:
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    done, missing = [], 0
    for customer in customers:
        candidates = [candidate(i, m, today) for i, m in enumerate(customer.meters)]
        hints = list(dict.fromkeys(c.profile.hint for c in candidates))
        jpeg = (photos_dir / customer.photo.file).read_bytes()
        reads = cached_reads(jpeg, hints, folder, settings)
        if reads is None:
            missing += 1
            continue
        item = decide_photo(
            0, candidates, reads, frozenset(),
            min_confidence=settings.auto_accept_min_confidence,
        )  # fmt: skip
        done.append(Replay(customer, item))
    return done, missing


def alone(customer: sim.SimCustomer) -> sim.SimCustomer:
    """The customer with the photographed meter only (its history unchanged)."""
    return replace(customer, meters=customer.meters[:1])


def history_of(meter: sim.SimMeter) -> str:
    readings = len(meter.history)
    return "no reading" if not readings else "one reading" if readings == 1 else "history"


def cause(r: Replay) -> str:
    """Why a photo booked right with its meter alone is not booked among the customer's meters:
    the reason codes, and what the other meters still in question are (kind, and their fit:
    a meter without readings, a band holding the value, every band out)."""
    codes = ",".join(r.item.reason_codes) or "-"
    if r.outcome == "wrong":
        return f"wrong: {codes}"
    others = sorted(
        {
            f"{r.customer.meters[h.meter_id].profile.kind} {h.fit}"
            for h in r.item.hypotheses
            if h.meter_id != 0 and not PHOTO_EXCLUDES.intersection(h.evidence)
        }
    )
    own = history_of(r.customer.meters[0])
    if any(o.endswith((" unknown", " in_band")) for o in others):
        rivals = " + ".join(o for o in others if o.endswith((" unknown", " in_band")))
        return f"{codes}: photographed meter with {own}; beside {rivals}"
    return f"{codes}: photographed meter with {own}; every other meter out of its band"


def lost_alone(together: list[Replay], apart: list[Replay]) -> Counter[str]:
    """Causes of the photos booked right with their meter alone (`apart`) but not among all the
    customer's meters (`together`), matched by photo."""
    booked_apart = {r.customer.photo.file for r in apart if r.outcome == "booked"}
    return Counter(
        cause(r)
        for r in together
        if r.customer.photo.file in booked_apart and r.outcome != "booked"
    )


def print_alone(together: list[Replay], apart: list[Replay]) -> None:
    booked = sum(r.outcome == "booked" for r in apart)
    lost = lost_alone(together, apart)
    print(
        f"alone: booked {booked} ({booked / max(len(apart), 1):.1%}); booked alone, not among "
        f"the customer's meters: {sum(lost.values())}"
    )
    for key, count in lost.most_common():
        print(f"{count:4d} {key}")


def describe(meter: sim.SimMeter) -> str:
    p = meter.profile
    history = f"h{len(meter.history)}" if meter.history else "nohist"
    return f"{p.kind}/{p.display}/{p.integer_digits}+{p.decimal_digits}/{history}"


def print_report(replays: list[Replay], missing: int, *, detail: bool) -> None:
    outcomes = Counter(r.outcome for r in replays)
    n = len(replays)
    booked, wrong = outcomes["booked"], outcomes["wrong"]
    print(
        f"photos {n} (skipped, not cached: {missing}): booked {booked} ({booked / max(n, 1):.1%}), "
        f"wrong {wrong}, clerk {outcomes['clerk']}"
    )
    why: Counter[str] = Counter()
    rivals: Counter[str] = Counter()
    for r in replays:
        if r.outcome == "booked":
            continue
        key = f"{r.outcome}: {','.join(r.item.reason_codes) or '-'}"
        why[key] += 1
        for h in r.item.hypotheses:
            meter = r.customer.meters[h.meter_id]
            role = "own" if h.meter_id == 0 else "rival"
            shown = ",".join(e for e in h.evidence if e not in {"ocr_accepted", "ocr_unsure"})
            rivals[f"  {key} | {role} {describe(meter)} -> {h.fit} [{shown}]"] += 1
    for key, count in why.most_common():
        print(f"{count:4d} {key}")
    if detail:
        for key, count in sorted(rivals.items()):
            print(f"{count:4d} {key}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--corpus")
    parser.add_argument("--group", nargs="+", choices=sim.GROUPS, default=["lcd"])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--several-share", type=float, default=1.0)
    parser.add_argument("--no-history-share", type=float, default=0.1)
    parser.add_argument("--lcd-kind", default="water", choices=sorted(sim.ANNUAL_CONSUMPTION))
    parser.add_argument("--ocr-cache", type=Path, default=DEFAULT_FOLDER)
    parser.add_argument("--detail", action="store_true", help="each judged meter per reason")
    parser.add_argument(
        "--alone", action="store_true", help="compare with each photographed meter decided alone"
    )
    args = parser.parse_args(argv)
    labels = corpus_dir(args.corpus) / "meter-photos" / "labels.csv"
    if not labels.is_file():
        sys.stderr.write(f"corpus not found: {labels}\n")
        return 2
    photos = sim.read_labels(labels, tuple(g for g in sim.GROUPS if g in args.group))
    shares = sim.Shares(args.several_share, args.no_history_share, args.lcd_kind)
    today = dt.datetime.now(sim.BERLIN).date()
    customers = sim.build_customers(photos, seed=args.seed, shares=shares, today=today)
    replays, missing = replay(customers, labels.parent, args.ocr_cache, today)
    print_report(replays, missing, detail=args.detail)
    if args.alone:
        decided = {r.customer.photo.file for r in replays}
        apart, _ = replay(
            [alone(c) for c in customers if c.photo.file in decided], labels.parent,
            args.ocr_cache, today,
        )  # fmt: skip
        print_alone(replays, apart)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
