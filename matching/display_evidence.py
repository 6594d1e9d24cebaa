"""What a display shows beside its value, as evidence for or against a meter and register.

A display shows the unit it counts in (`kWh`, `MWh`, `GJ`, `m³`) and an electricity meter's the
OBIS code of the register on screen (`1.8.0`, `1.8.1`, `1.8.2`; `ocr.display_labels` reads them
where shown). A clerk takes them as a meter reader would:
- a volume (m³) on the photo is not an energy meter's count, an energy unit not a volume
  meter's, and a count in another energy unit than the meter's (`GJ` on a meter billed in `MWh`)
  not its reading as it stands (`unit_differs`);
- an electricity register's code (`1.8.x`, `2.8.x`) is shown by electricity meters only
  (`obis_differs` on other kinds);
- on a meter with that register the code names it (`register_shown`), and rules out the meter's
  other registers (`other_register_shown`), as a code of another quantity does (`2.8.x`, the
  energy fed in, is no count of the energy drawn, `1.8.x`).
Nothing is concluded from what the OCR did not read.
"""

from __future__ import annotations

from core.types import MeterProfile, MeterRead
from matching.units import canonical

ELECTRICITY_CODES = ("1.", "2.")  # OBIS value groups C = 1, 2: active energy import, export
# evidence that the photo does not show this meter's register
EXCLUDES = frozenset({"unit_differs", "obis_differs", "other_register_shown"})


def label_evidence(profile: MeterProfile, register: str, read: MeterRead | None) -> list[str]:
    """Evidence codes from the unit and OBIS code the display shows, for one register."""
    if read is None:
        return []
    found: list[str] = []
    shown, counted = canonical(read.unit), canonical(profile.unit)
    if shown and counted and shown != counted:
        found.append("unit_differs")
    if read.obis and read.obis.startswith(ELECTRICITY_CODES):
        if profile.kind != "electricity":
            found.append("obis_differs")
        elif read.obis == register:
            found.append("register_shown")
        elif read.obis in profile.registers or quantity(read.obis) != quantity(register):
            found.append("other_register_shown")
    return found


def quantity(obis: str) -> str:
    """An OBIS code's value group C (what is counted: 1 energy drawn, 2 energy fed in)."""
    return obis.split(".", 1)[0]
