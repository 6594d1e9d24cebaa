"""How likely a drum meter makes the red decimal drums a photo shows, so that a customer's drum
counters with the same black drums tell apart: an electricity meter's one red drum from a gas or
water meter's three.

The OCR finds every red drum of a counter most of the time and fewer now and then (the last drum
half behind the window's edge or turning, glare, a dial in its place); more red drums than the
meter has rule it out (`decimals_differ` in `matching.hypotheses`). A meter with three red drums
thus makes a photo read with one red drum far less likely than a meter with one does.
"""

from __future__ import annotations

from core.types import MeterProfile, MeterRead

# The share of drum reads that find 0, 1, 2, 3 or more red drums fewer than the meter has: the
# dev water photos (5 black + 3 red drums, 451 read as such) show 72.7 / 19.1 / 6.0 / 2.2 %.
# Rendered gas meters (`bench/red_drums.py`, held out) miss fewer (88 / 11 / 0.7 %), so these
# shares weigh the evidence no stronger than real photos bear.
MISSED_RED_SHARE = (0.727, 0.191, 0.060, 0.022)


def missed_red_drums(read: MeterRead | None, profile: MeterProfile) -> int:
    """How many of the meter's red drums the photo's drum read did not find (0 where it does not
    apply: no drum read, not a drum meter, or as many or more found)."""
    if read is None or read.reading is None or read.display != "drum":
        return 0
    if profile.display != "drum":
        return 0
    return max(0, profile.decimal_digits - len(read.fraction or ""))


def red_drums_likelihood(read: MeterRead | None, profile: MeterProfile) -> float:
    """How likely the meter makes the red drums the photo's read shows, against a meter with
    exactly as many (1.0: as many found, or it does not apply)."""
    missed = min(missed_red_drums(read, profile), len(MISSED_RED_SHARE) - 1)
    return MISSED_RED_SHARE[missed] / MISSED_RED_SHARE[0]
