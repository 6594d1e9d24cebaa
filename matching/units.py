"""The units a meter counts in, and amounts of energy or gas volume converted between them.

Electricity and heat count energy (`kWh`; heat meters also `MWh` or `GJ`), gas and water count
volume (`m3`). Where a kind's typical use is known in one unit and a meter counts in another,
gas volume and energy convert at a natural gas's calorific value: a rule of thumb for the
plausibility bands, never for a booked value.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

Quantity = Literal["energy", "volume"]

KWH_PER_M3 = Decimal(10)  # natural gas, about 10 kWh per m³
PER_KWH = {"kWh": Decimal(1), "MWh": Decimal("0.001"), "GJ": Decimal("0.0036")}
UNITS = frozenset({*PER_KWH, "m3"})
# how units are written on displays, in mails and in master data files (lower-cased)
_SPELLINGS = {
    "kwh": "kWh", "mwh": "MWh", "gj": "GJ",
    "m3": "m3", "m³": "m3", "m^3": "m3", "cbm": "m3", "kubikmeter": "m3",
}  # fmt: skip


def canonical(unit: str | None) -> str | None:
    """A unit as master data spells it, however it is written (`m³` on a display, `cbm` in a
    mail, `KWH` in a file); None where not a unit."""
    return _SPELLINGS.get((unit or "").strip().lower())


def quantity(unit: str | None) -> Quantity | None:
    """What a unit counts: energy (kWh, MWh, GJ) or volume (m3); None where not a unit."""
    unit = canonical(unit)
    if unit is None:
        return None
    return "volume" if unit == "m3" else "energy"


def converted(amount: Decimal, unit: str, to: str) -> Decimal:
    """`amount` counted in `unit` as counted in `to`; unknown units are left as they are."""
    if unit == to or unit not in UNITS or to not in UNITS:
        return amount
    kwh = amount * KWH_PER_M3 if unit == "m3" else amount / PER_KWH[unit]
    return kwh / KWH_PER_M3 if to == "m3" else kwh * PER_KWH[to]
