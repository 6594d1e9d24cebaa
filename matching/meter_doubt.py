"""The doubt a meter's history cannot settle when the histories have also chosen the meter.

Where the customer has several meters and the histories chose one of them (`meter_by_history`),
a read the OCR did not accept must leave little doubt among all of the customer's meters, not
only among the chosen meter's values: a misread that lands in one meter's band is weighed against
the values the photo may really show on every other meter (and register) still in question. Each
(meter, value) weighs the OCR's probability of the value (as in `matching.decoding.band_doubt`:
the values it saw and those it did not) times how likely the meter makes it
(`matching.meter_likelihood.value_likelihood`, per unit of its counter, so meters compare; a meter
that cannot say counts as one nobody has read). A water photo's misread 08410 on the gas meter
whose wide band holds it is thus doubted by the water meter's value one drum away, which its
narrow history makes far likelier. Another meter's weight is scaled by how much likelier it makes
the rest of the photo (its red drums, `matching.red_drums`) than the chosen meter does.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from core.types import Expectation, MeterProfile, MeterRead
from matching import reasons
from matching.decoding import band_doubt, value_density
from matching.expectation import band_codes
from matching.meter_likelihood import open_density, value_likelihood
from matching.meters import spec_of

# another meter's register the photo may show instead: its meter, expectation, and how much likelier
# it makes the rest of the photo than the chosen meter does (1.0: alike)
Elsewhere = tuple[MeterProfile, Expectation | None, float]


def joint_doubt(
    read: MeterRead,
    value: Decimal,
    profile: MeterProfile,
    exp: Expectation,
    others: Sequence[Elsewhere],
) -> float:
    """The share of the weight, over the values the photo may show on the chosen meter's register
    (`profile`, `exp`) and on every other register in question (`others`), that is not on `value`
    on the chosen one (1.0 where the chosen register's history gives no density)."""
    own = value_density(value, exp)
    if not own:
        return 1.0

    def elsewhere(candidate: Decimal) -> float:
        return sum(_density(candidate, p, e) * odds for p, e, odds in others) / own

    return band_doubt(read, value, exp, profile.kind, spec_of(profile), elsewhere=elsewhere)


def _density(value: Decimal, profile: MeterProfile, exp: Expectation | None) -> float:
    spec = spec_of(profile)
    if value < 0 or value >= spec.rollover_at:
        return 0.0  # the counter cannot show it
    rolled = exp is not None and reasons.METER_ROLLOVER in band_codes(
        value, exp, profile.kind, spec
    )
    density = value_likelihood(value, exp, profile, rolled=rolled)
    return open_density(value, profile) if density is None else density
