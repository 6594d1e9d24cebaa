"""How likely a drum meter's kind makes what its counter's face shows besides the reading, so
that a customer's drum meters with like counters tell apart: pointer dials around the drums
(water meters have them, gas and electricity drum meters do not) and the unit printed after
the drums (`kWh` on electricity and heat meters, `m³` on gas and water meters; `ocr.kind_marks`).

A mark weighs as the share of photos of each kind the OCR finds it on: seen on a water meter's
photo now and then, seldom on another's (a round logo with a stroke, a letter read as a unit),
so a mark found makes its kinds that many times likelier, never certain: it is a likelihood
factor beside the history's (`matching.hypotheses._likeliest`, `matching.meter_doubt`), not an
exclusion. A mark not found says nothing (most photos of every kind show none the OCR finds).
Dials are on the counter's face whichever meter's hint the photo was read for: found on any drum
read of the photo, they weigh against every meter but a water drum meter, display meters too
(the OCR finds them on about 1 % of display photos read as drums).
"""

from __future__ import annotations

from collections.abc import Iterable

from core.types import MeterProfile, MeterRead
from matching.units import quantity

# Shares of drum photos the OCR finds the mark on (`bench/meter_kind.py`): dials on water
# meters (the dev water photos' train half, 54.1 %; the test half holds out), on other meters
# (rendered gas and Ferraris meters, 3 of 200; the `emic` and LCD photos hold out); the unit on
# its own kinds' meters (`m³` on the water photos' train half, 23.0 %, the lowest of the kinds:
# rendered gas and Ferraris meters show theirs more often) and on the other quantity's (none of
# 200 rendered: floored at 2 %, about a rule of three over 150 photos).
DIALS_ON_WATER = 0.54
DIALS_ON_OTHERS = 0.02
UNIT_ON_ITS_KINDS = 0.23
UNIT_ON_OTHERS = 0.02


def _unit_matches(read: MeterRead, profile: MeterProfile) -> bool:
    """The printed unit counts what the meter counts (energy or volume, `matching.units`)."""
    return quantity(read.printed_unit) == quantity(profile.unit)


def applies(read: MeterRead | None, profile: MeterProfile) -> bool:
    """Whether the photo's read is a drum read weighed for a drum meter (or one of unknown
    counter)."""
    return read is not None and read.display == "drum" and profile.display in (None, "drum")


def photo_dials(reads: Iterable[MeterRead]) -> int:
    """The most pointer dials a drum read of the photo found (0: none found)."""
    return max((read.dials or 0 for read in reads if read.display == "drum"), default=0)


def _water_drums(profile: MeterProfile) -> bool:
    return profile.kind == "water" and profile.display in (None, "drum")


def kind_evidence(read: MeterRead | None, profile: MeterProfile, dials: int = 0) -> list[str]:
    """Evidence codes: the marks the photo shows for or against this meter's kind (`dials`: the
    photo's, `photo_dials`)."""
    found: list[str] = []
    if dials:
        found.append("dials_match" if _water_drums(profile) else "dials_differ")
    if applies(read, profile) and read is not None and read.printed_unit:
        matches = _unit_matches(read, profile)
        found.append("printed_unit_matches" if matches else "printed_unit_differs")
    return found


def kind_likelihood(read: MeterRead | None, profile: MeterProfile, dials: int = 0) -> float:
    """How likely this meter's kind makes the marks the photo shows, against the kind that
    makes them likeliest (1.0: no mark found, or it does not apply; `dials`: the photo's,
    `photo_dials`)."""
    factor = 1.0
    if dials and not _water_drums(profile):
        factor *= DIALS_ON_OTHERS / DIALS_ON_WATER
    unit = read.printed_unit if read is not None and applies(read, profile) else None
    if unit and read is not None and not _unit_matches(read, profile):
        factor *= UNIT_ON_OTHERS / UNIT_ON_ITS_KINDS
    return factor
