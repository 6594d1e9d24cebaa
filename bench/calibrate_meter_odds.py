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
import functools
import random
from collections.abc import Callable
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from bench.calibrate_decision import TODAY, Case, decoded_as
from core.types import Expectation, MeterHint, MeterProfile
from matching.decoding import (
    FAR_RIVALS_FACE_MIN_CONFIDENCE,
    FAR_RIVALS_MAX_DOUBT,
    FAR_RIVALS_MAX_FACE,
    FAR_RIVALS_MIN_CONFIDENCE,
    MAX_METER_DOUBT,
    MIN_METER_ODDS,
)
from matching.expectation import Point, band_codes, expect
from matching.hypotheses import Candidate, decide_photo
from matching.meters import spec_of
from matching.values import photo_value

ODDS = [1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 20.0, 50.0, 100.0, 1000.0]
# the most doubt among all meters a read the OCR did not accept may carry on a meter the
# histories chose (`matching.meter_doubt`); 0: only reads the OCR accepted
DOUBTS = [0.0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.5, 0.6]
# the OCR confidence a read needs where the other meters hold next to none of the doubt
# (`FAR_RIVALS_MIN_CONFIDENCE`); above 1: never on those grounds
FLOORS = [0.0, 0.5, 0.6, 0.7, 0.8, 0.9, 1.1]
# the most of that doubt the other meters may hold for the floors to apply
# (`FAR_RIVALS_MAX_DOUBT`)
FAR_SHARES = [0.0, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05]
DRAWS = 5  # rival meters drawn per photo
NATURAL_DRAWS = 10  # rival meters drawn per photo as customers have them (`natural`)
# own_out: a photo whose read does not fit its own band, the rival's band holding the read (a
# misread that only the rival meter's history could take: a stress case, every such misread
# landing in a rival's band); natural: a rival meter whose count is drawn as a household's
# (`bench.decisions_sim`), its band holding the photo's value only by chance; wrong_mark: an
# own_out photo with dials found, taken as a gas meter's photo beside a water rival (a dial
# found by mistake on the gas meter, which the OCR does on 1-2 % of such photos, and its
# misread landing in the water meter's band)
SCENARIOS = ("history", "rival_open", "own_out", "natural", "wrong_mark")
CHOSEN_ON = ("history", "rival_open", "natural")
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
    """The photo's case with a rival meter whose band holds its value (the read as it is,
    `own_out`, where it does not fit the photo's own band); None when there is no value, the
    photographed meter has no reading or the rival's history would start below zero."""
    decoded = decoded_as(c, None)
    if decoded.value is None or c.exp.basis == "none":
        return None
    value = decoded.value if not decoded.codes else photo_value(c.read)
    if value is None:
        return None
    kind = rng.choice(sorted(RIVALS))
    relative = _rival_points(value, kind, RIVALS[kind] * rng.lognormvariate(0, 0.5), rng)
    profile = _profile(2, kind, c)
    spec = spec_of(profile)
    probe = expect(kind, spec, "1.8.0", TODAY, relative)
    assert probe.low is not None and probe.high is not None
    used = Decimal(int(rng.uniform(float(probe.low), float(probe.high))))
    shift = value - used
    points = [q for p in relative if (q := Point(p.value + shift, p.read_on)).value >= 0]
    exp = expect(kind, spec, "1.8.0", TODAY, points)  # a young meter: fewer earlier readings
    if not points or band_codes(value, exp, kind, spec):
        return None
    rival = Candidate(profile, {"1.8.0": exp})
    own = Candidate(_profile(1, c.kind, c), {"1.8.0": c.exp})
    return Pair(own, rival, c, "own_out" if decoded.codes else "history")


def natural(c: Case, rng: random.Random) -> Pair | None:
    """The photo's case with a rival meter (water or gas, the same drums) whose count is a
    household's after 0.5 to 15 years (`bench.decisions_sim`), three yearly readings before."""
    if decoded_as(c, None).value is None or c.exp.basis == "none":
        return None
    kind = rng.choice(sorted(RIVALS))
    yearly = RIVALS[kind] * rng.lognormvariate(0, 0.5)
    current = Decimal(int(min(yearly * rng.uniform(0.5, 15.0), 0.95 * 10**c.spec.integer_digits)))
    relative = _rival_points(current, kind, yearly, rng)
    used = Decimal(int(yearly * rng.uniform(150, 400) / 365))
    points = [q for p in relative if (q := Point(p.value + current - used, p.read_on)).value >= 0]
    if not points:
        return None
    profile = _profile(2, kind, c)
    rival = Candidate(profile, {"1.8.0": expect(kind, spec_of(profile), "1.8.0", TODAY, points)})
    own = Candidate(_profile(1, c.kind, c), {"1.8.0": c.exp})
    return Pair(own, rival, c, "natural")


def without_history(p: Pair) -> list[Pair]:
    """The pair with its rival meter nobody has read yet (`rival_open`): the photographed
    meter's history against the rival kind's default use (`matching.meter_likelihood`)."""
    if p.scenario != "history":
        return []
    none = {"1.8.0": Expectation(register="1.8.0", read_on=TODAY, basis="none")}
    return [Pair(p.own, Candidate(p.rival.profile, none), p.case, "rival_open")]


def marked_wrong(p: Pair) -> list[Pair]:
    """The `own_out` pair as a gas meter's photo whose dials were found by mistake, its misread
    in a water rival's band (`wrong_mark`): what the kind marks cost where they are wrong."""
    if p.scenario != "own_out" or not p.case.read.dials:
        return []
    own = Candidate(replace(p.own.profile, kind="gas"), p.own.expectations)
    rival = Candidate(replace(p.rival.profile, kind="water"), p.rival.expectations)
    return [Pair(own, rival, p.case, "wrong_mark")]


@functools.cache
def booked_on(
    p: Pair,
    odds: float,
    min_conf: float,
    doubt: float = MAX_METER_DOUBT,
    floor: float = FAR_RIVALS_MIN_CONFIDENCE,
    *,
    unsure: bool = False,
    face_floor: float = FAR_RIVALS_FACE_MIN_CONFIDENCE,
    far: float = FAR_RIVALS_MAX_DOUBT,
) -> int | None:
    """The meter the decision books the photo on (1: its own, 2: the rival), or None (a clerk);
    `unsure`: only a booking of a read the OCR did not accept counts (the OCR's own accepted
    misreads do not depend on the meter choice)."""
    if unsure and p.case.read.accepted:
        return None
    reads = {MeterHint(p.case.spec.integer_digits, "drum"): p.case.read}
    item = decide_photo(
        0, [p.own, p.rival], reads, frozenset(), min_confidence=min_conf, min_meter_odds=odds,
        max_meter_doubt=doubt, far_rivals_max_doubt=far, far_rivals_min_confidence=floor,
        far_rivals_face_min_confidence=face_floor,
    )  # fmt: skip
    return item.meter_id if item.outcome == "accept" else None


def print_by_floor(
    pairs: list[Pair],
    tally_at: Callable[[list[Pair], float], tuple[int, int, int]],
    grid: list[float] = FLOORS,
) -> None:
    """One line per value on the grid (a confidence floor, or the share of the doubt): each
    scenario's share booked on the own meter and its rival bookings, as `tally_at(scenario's
    pairs, value)` counts them."""
    for floor in grid:
        line = []
        for scenario in SCENARIOS:
            n, r, w = tally_at([p for p in pairs if p.scenario == scenario], floor)
            line.append(f"{scenario} {r / max(n, 1):.1%} own, {w} rival")
        print(f"    {floor:g}: " + "; ".join(line))


def tally(
    pairs: list[Pair],
    odds: float,
    min_conf: float,
    doubt: float = MAX_METER_DOUBT,
    floor: float = FAR_RIVALS_MIN_CONFIDENCE,
    **kw: Any,
) -> tuple[int, int, int]:
    """(photos, booked on their own meter, booked on the rival meter)."""
    picks = [booked_on(p, odds, min_conf, doubt, floor, **kw) for p in pairs]
    return len(pairs), picks.count(1), picks.count(2)


def choose(pairs: list[Pair], min_conf: float) -> float:
    pairs = [p for p in pairs if p.scenario in ("history", "rival_open")]
    wrong = {odds: tally(pairs, odds, min_conf)[2] for odds in ODDS}
    safe = [odds for i, odds in enumerate(ODDS) if i and wrong[odds] == wrong[ODDS[i - 1]] == 0]
    return min(safe, default=ODDS[-1])


def choose_doubt(pairs: list[Pair], min_conf: float) -> float:
    """The largest doubt on the grid under which no read the OCR did not accept is booked on the
    rival meter (at the shipped odds), with the next larger one error-free too (`CHOSEN_ON`)."""
    pairs = [p for p in pairs if p.scenario in CHOSEN_ON]
    wrong = {d: tally(pairs, MIN_METER_ODDS, min_conf, d, unsure=True)[2] for d in DOUBTS}
    safe = [d for i, d in enumerate(DOUBTS[:-1]) if wrong[d] == wrong[DOUBTS[i + 1]] == 0]
    return max(safe, default=0.0)


def report(
    cases: list[Case], rng: random.Random, folds: int, min_conf: float, *, floors_only: bool = False
) -> None:
    """The folds' choices and the shipped constants on every rival set, then the floors of the
    far-rivals rule (`floors_only`: those alone)."""
    drawn = [[p for _ in range(DRAWS) if (p := pair(c, rng)) is not None] for c in cases]
    drawn = [
        group + [v for p in group for v in (*without_history(p), *marked_wrong(p))]
        for group in drawn
    ]
    drawn = [
        group + [p for _ in range(NATURAL_DRAWS) if (p := natural(c, rng)) is not None]
        for group, c in zip(drawn, cases, strict=True)
    ]
    pairs = [p for group in drawn for p in group]
    counts = {s: sum(p.scenario == s for p in pairs) for s in SCENARIOS}
    print(
        f"  several meters: {sum(map(bool, drawn))} photos with a rival meter whose band holds "
        f"the value ({counts['history']} rivals where it fits the own band too, each also "
        f"without its history; {counts['own_out']} where it does not, {counts['wrong_mark']} "
        f"of them also with a dial found by mistake; {counts['natural']} drawn as households' "
        f"meters)"
    )
    if not floors_only:
        report_choices(drawn, pairs, folds, min_conf)
    print_floors(pairs, min_conf)


def report_choices(drawn: list[list[Pair]], pairs: list[Pair], folds: int, min_conf: float) -> None:
    """The ratio and the doubt the folds choose, held out, and the shipped ones on all pairs."""
    held_out: dict[str, list[int]] = {s: [0, 0, 0] for s in SCENARIOS}
    for k in range(folds):  # folds by photo: a photo's rivals stay in one fold
        held = [p for group in drawn[k::folds] for p in group]
        train = [p for i, group in enumerate(drawn) if i % folds != k for p in group]
        odds, doubt = choose(train, min_conf), choose_doubt(train, min_conf)
        line = []
        for scenario in SCENARIOS:
            n, r, w = tally([p for p in held if p.scenario == scenario], odds, min_conf, doubt)
            line.append(f"{scenario} {r}/{n} own, {w} rival")
            held_out[scenario] = [a + b for a, b in zip(held_out[scenario], (n, r, w), strict=True)]
        print(f"  fold {k}: odds {odds:g}, doubt {doubt:g}: " + "; ".join(line))
    knots = [
        ("fitted", choose(pairs, min_conf), choose_doubt(pairs, min_conf)),
        ("shipped", MIN_METER_ODDS, MAX_METER_DOUBT),
        ("OCR acceptance only", MIN_METER_ODDS, -1.0),
    ]
    for name, odds, limit in knots:
        for scenario in SCENARIOS:
            chosen = [p for p in pairs if p.scenario == scenario]
            n, r, w = tally(chosen, odds, min_conf, limit)
            beyond = tally(chosen, odds, min_conf, limit, unsure=True)[2]
            print(
                f"  {name}: odds {odds:g}, doubt {limit:g}, "
                f"{scenario}: booked on the own meter {r}/{n} = {r / max(n, 1):.1%}, rival {w} "
                f"({beyond} not accepted by the OCR)"
            )
    for scenario, (n, r, w) in held_out.items():
        print(
            f"  held-out, {scenario}: booked on the own meter {r}/{n} = {r / max(n, 1):.1%}, "
            f"rival {w}"
        )


def print_floors(pairs: list[Pair], min_conf: float) -> None:
    """Every rival set by the confidence floors and the share of the doubt of the far-rivals
    rule, the other constants at their shipped values."""
    print(
        f"  far rivals (the other meters' share of the doubt at most {FAR_RIVALS_MAX_DOUBT:g}), "
        f"by the OCR confidence they need (shipped {FAR_RIVALS_MIN_CONFIDENCE:g}):"
    )
    print_by_floor(
        pairs, lambda chosen, floor: tally(chosen, MIN_METER_ODDS, min_conf, MAX_METER_DOUBT, floor)
    )
    print(
        f"  where the photo's face makes every other meter at most {FAR_RIVALS_MAX_FACE:g} as "
        f"likely, by the OCR confidence they need then (shipped "
        f"{FAR_RIVALS_FACE_MIN_CONFIDENCE:g}; 0.8 and above: as if the face did not count):"
    )
    print_by_floor(
        pairs, lambda chosen, floor: tally(chosen, MIN_METER_ODDS, min_conf, face_floor=floor)
    )
    print(
        f"  by the share of the doubt the other meters may hold for those floors to apply "
        f"(shipped {FAR_RIVALS_MAX_DOUBT:g}):"
    )
    print_by_floor(
        pairs, lambda chosen, far: tally(chosen, MIN_METER_ODDS, min_conf, far=far), FAR_SHARES
    )
