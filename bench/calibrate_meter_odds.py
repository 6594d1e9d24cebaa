"""Calibrate `MIN_METER_ODDS` (customers with several meters) on held-out folds of the dev photos.

    .venv/bin/python -m bench.ocr_dump /tmp/ocr.jsonl --group water
    .venv/bin/python -m bench.calibrate_decision /tmp/ocr.jsonl --several-meters [--seed 1]

Each photo's customer has the photographed meter (simulated history as in
`bench.calibrate_decision`) and a rival meter (`DRAWS` of them, one at a time) with the same
counter (a second water meter, or a gas meter with the same drums), so the photo cannot tell them
apart and only the histories can. Only the confusable case counts: the rival's history ends where
the photo's value falls inside its band, anywhere in it with equal chance (what a rival meter
whose count could be anything looks like once it is known to hold the value); readings it would
have had below zero are dropped (a young meter). Each pair is decided once more with the rival
as a meter nobody has read yet (`without_history`: its kind's default use against the
photographed meter's history). The reverse, a photo of a meter without readings whose value
falls in another meter's band, cannot be drawn this way (forced into the band, either meter is
as likely): `bench/decisions.py --no-history-share 0.5` measures it at its natural rate.
The rival's kind (water or gas), yearly use and read dates are drawn as for the photographed
meter. Photos whose value does not fit their own band are left out (the band decides those).
The real code decides (`matching.hypotheses.decide_photo`, the same read for both meters); per
fold the ratio is the smallest on the grid that books no photo on the rival meter on the other
folds, with the next smaller ratio on the grid error-free too (a conservative knot), with and
without the rival's history, and is reported on the fold itself.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass
from decimal import Decimal

from bench.calibrate_decision import TODAY, Case, decoded_as
from core.types import Expectation, MeterHint, MeterProfile
from matching.decoding import MIN_METER_ODDS
from matching.expectation import Point, band_codes, expect
from matching.hypotheses import Candidate, decide_photo
from matching.meters import spec_of

ODDS = [1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 20.0, 50.0, 100.0, 1000.0]
DRAWS = 5  # rival meters drawn per photo
SCENARIOS = ("history", "rival_open")
RIVALS = {"water": 100.0, "gas": 1500.0}  # the rival's kind and its typical yearly use (m³)


@dataclass(frozen=True, eq=False)
class Pair:
    """A photo with its own meter and a rival meter whose band holds the photo's value."""

    own: Candidate
    rival: Candidate
    case: Case
    scenario: str = "history"


def _profile(meter_id: int, kind: str, c: Case) -> MeterProfile:
    spec = c.spec
    return MeterProfile(
        meter_id, f"M{meter_id}", "1", 1, kind, "m3", spec.integer_digits, spec.decimal_digits,
        "lcd" if c.display == "lcd" else "drum", ("1.8.0",),
    )  # fmt: skip


def _rival_points(value: Decimal, kind: str, yearly: float, rng: random.Random) -> list[Point]:
    day = TODAY - dt.timedelta(days=rng.randint(150, 400))
    rate = yearly / 365
    points = [Point(Decimal(0), day)]
    for _ in range(2):
        day -= dt.timedelta(days=365)
        points.insert(
            0, Point(points[0].value - Decimal(int(rate * rng.uniform(0.8, 1.2) * 365)), day)
        )
    return points


def pair(c: Case, rng: random.Random) -> Pair | None:
    """The photo's case with a rival meter whose band holds its value; None when the photo's
    value does not fit its own band or the rival's history would start below zero."""
    decoded = decoded_as(c, None)
    if decoded.value is None or decoded.codes or c.exp.basis == "none":
        return None
    kind = rng.choice(sorted(RIVALS))
    relative = _rival_points(decoded.value, kind, RIVALS[kind] * rng.lognormvariate(0, 0.5), rng)
    profile = _profile(2, kind, c)
    spec = spec_of(profile)
    probe = expect(kind, spec, "1.8.0", TODAY, relative)
    assert probe.low is not None and probe.high is not None
    used = Decimal(int(rng.uniform(float(probe.low), float(probe.high))))
    shift = decoded.value - used
    points = [q for p in relative if (q := Point(p.value + shift, p.read_on)).value >= 0]
    exp = expect(kind, spec, "1.8.0", TODAY, points)  # a young meter: fewer earlier readings
    if not points or band_codes(decoded.value, exp, kind, spec):
        return None
    rival = Candidate(profile, {"1.8.0": exp})
    own = Candidate(_profile(1, c.kind, c), {"1.8.0": c.exp})
    return Pair(own, rival, c)


def without_history(p: Pair) -> list[Pair]:
    """The pair with its rival meter nobody has read yet (`rival_open`): the photographed
    meter's history against the rival kind's default use (`matching.meter_likelihood`)."""
    none = {"1.8.0": Expectation(register="1.8.0", read_on=TODAY, basis="none")}
    return [Pair(p.own, Candidate(p.rival.profile, none), p.case, "rival_open")]


def booked_on(p: Pair, odds: float, min_conf: float) -> int | None:
    """The meter the decision books the photo on (1: its own, 2: the rival), or None (a clerk)."""
    reads = {MeterHint(p.case.spec.integer_digits, "drum"): p.case.read}
    item = decide_photo(
        0, [p.own, p.rival], reads, frozenset(), min_confidence=min_conf, min_meter_odds=odds
    )
    return item.meter_id if item.outcome == "accept" else None


def tally(pairs: list[Pair], odds: float, min_conf: float) -> tuple[int, int, int]:
    """(photos, booked on their own meter, booked on the rival meter)."""
    picks = [booked_on(p, odds, min_conf) for p in pairs]
    return len(pairs), picks.count(1), picks.count(2)


def choose(pairs: list[Pair], min_conf: float) -> float:
    wrong = {odds: tally(pairs, odds, min_conf)[2] for odds in ODDS}
    safe = [odds for i, odds in enumerate(ODDS) if i and wrong[odds] == wrong[ODDS[i - 1]] == 0]
    return min(safe, default=ODDS[-1])


def report(cases: list[Case], rng: random.Random, folds: int, min_conf: float) -> None:
    drawn = [[p for _ in range(DRAWS) if (p := pair(c, rng)) is not None] for c in cases]
    drawn = [group + [v for p in group for v in without_history(p)] for group in drawn]
    pairs = [p for group in drawn for p in group]
    print(
        f"  several meters: {sum(map(bool, drawn))} photos whose value fits their own band and "
        f"a rival's ({len(pairs) // len(SCENARIOS)} rivals, each also without its history)"
    )
    held_out: dict[str, list[int]] = {s: [0, 0, 0] for s in SCENARIOS}
    for k in range(folds):  # folds by photo: a photo's rivals stay in one fold
        held = [p for group in drawn[k::folds] for p in group]
        train = [p for i, group in enumerate(drawn) if i % folds != k for p in group]
        odds = choose(train, min_conf)
        line = []
        for scenario in SCENARIOS:
            n, r, w = tally([p for p in held if p.scenario == scenario], odds, min_conf)
            line.append(f"{scenario} {r}/{n} own, {w} rival")
            held_out[scenario] = [a + b for a, b in zip(held_out[scenario], (n, r, w), strict=True)]
        print(f"  fold {k}: odds {odds:g}: " + "; ".join(line))
    for name, odds in (("fitted", choose(pairs, min_conf)), ("shipped", MIN_METER_ODDS)):
        for scenario in SCENARIOS:
            n, r, w = tally([p for p in pairs if p.scenario == scenario], odds, min_conf)
            print(
                f"  {name} odds {odds:g}, {scenario}: booked on the own meter {r}/{n} = "
                f"{r / max(n, 1):.1%}, rival {w}"
            )
    for scenario, (n, r, w) in held_out.items():
        print(
            f"  held-out, {scenario}: booked on the own meter {r}/{n} = {r / max(n, 1):.1%}, "
            f"rival {w}"
        )
