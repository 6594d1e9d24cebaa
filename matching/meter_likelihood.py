"""How likely each candidate meter makes the value a photo shows, so that the meters compare.

A likelihood is a density over the meter's counter (per unit it counts), so one number on the
photo can be weighed under every meter the customer has:
- a register with a history: its consumption model (`matching.decoding.value_density`), mixed
  with a small share of readings the model does not foresee (`OUTLIER_SHARE`);
- a value below the register's last reading: impossible (meters do not run back), unless the
  counter may have rolled over, which the likelihood cannot weigh (undefined);
- a meter without any reading: its kind's default (`open_density`), as a clerk would say "a gas
  meter nobody has read yet may show anything up to years of a household's use".
"""

from __future__ import annotations

from decimal import Decimal

from core.types import Expectation, Hypothesis, MeterProfile
from matching import reasons
from matching.decoding import value_density
from matching.expectation import KIND_USE
from matching.units import converted

# The share of a register's readings its history's consumption model does not foresee (a new
# tenant, a leak, a long absence): they are taken to be as likely as on a meter without readings.
# A larger share makes a value outside a meter's band count more for that meter, so fewer photos
# are booked on another meter by excluding it. At 1 / MIN_METER_ODDS or more, a meter without
# readings never wins over a meter of its own kind and counter on the other's history alone.
# An assumption, not fitted.
OUTLIER_SHARE = 0.1
# The longest a meter stays in service (German calibration validity: up to 16 years for
# electricity and gas meters, fewer for water and heat): no meter without readings is taken to
# have counted more than that many years of its kind's highest household use.
SERVICE_YEARS = 16


def yearly_use(kind: str, unit: str, *, highest: bool = False) -> Decimal:
    """A household's typical (or highest plausible) yearly use of the kind, in `unit` (the
    counter's)."""
    use = KIND_USE.get(kind, KIND_USE["electricity"])
    return converted(use.highest if highest else use.typical, use.unit, unit)


def open_density(value: Decimal, profile: MeterProfile) -> float:
    """The likelihood of `value` on a meter without any reading: even up to a year of its kind's
    typical use and, above, even on a log scale (each decade of the count alike) up to what
    `SERVICE_YEARS` of its highest use or the counter can show, whichever is less. This favours
    a young meter, the one whose count is most concentrated, so a meter without readings is
    never taken to be less likely than it may be."""
    most = yearly_use(profile.kind, profile.unit, highest=True) * SERVICE_YEARS
    if value < 0 or value >= Decimal(10) ** profile.integer_digits or value > most:
        return 0.0
    return 1.0 / float(max(value, yearly_use(profile.kind, profile.unit)))


def likelihood(h: Hypothesis, profile: MeterProfile) -> float | None:
    """How likely the hypothesis's meter makes its value (None: it cannot say)."""
    if h.value is None:
        return None
    return value_likelihood(
        h.value, h.expectation, profile, rolled=reasons.METER_ROLLOVER in h.codes
    )


def value_likelihood(
    value: Decimal, exp: Expectation | None, profile: MeterProfile, *, rolled: bool = False
) -> float | None:
    """How likely a register of the meter (`exp`: its expectation) makes `value` (None: it
    cannot say; `rolled`: the counter may have rolled over below its last reading)."""
    if exp is None or exp.basis == "none" or exp.last_value is None:
        return open_density(value, profile)
    if value < exp.last_value:
        return None if rolled else 0.0
    density = value_density(value, exp)
    if density is None:
        return None
    return (1 - OUTLIER_SHARE) * density + OUTLIER_SHARE * open_density(value, profile)
