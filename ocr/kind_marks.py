"""What a drum counter's face says of the meter's kind, beside its reading: the unit printed
after the drums (`ocr.printed_unit`: `kWh` on electricity meters, `m³` on gas and water meters)
and the pointer dials (or a flow indicator's star wheel) around them (`ocr.dials`: water
meters). The decision core weighs them per candidate meter (`matching.meter_kind`); each is
looked for once per counter.
"""

from __future__ import annotations

import numpy as np

from ocr.dials import pointer_dials
from ocr.geometry import read_boxes
from ocr.printed_unit import printed_unit
from ocr.reads import Described
from ocr.search import Memo
from ocr.tesseract import Tesseract


def kind_marks(
    tesseract: Tesseract | None, image: np.ndarray, best: Described, memo: Memo
) -> tuple[str | None, int]:
    """The printed unit (None: none read, or `tesseract` None: not looked for) and the number
    of pointer dials around the counter of the drum read `best` on the work image."""
    counter, _ = read_boxes(best, (1.0, 1.0), "drum")
    if not counter:
        return None, 0
    height = best.candidate.row.height
    # the unit's strip starts at the counter's end, where reads of other digit counts ending
    # on the same drum end too: read once for them all
    end = (counter[1], counter[2], height, tesseract is not None)
    if end not in memo.units:
        memo.units[end] = printed_unit(tesseract, image, counter, height) if tesseract else None
    box = (*counter, height)
    if box not in memo.dials:
        memo.dials[box] = pointer_dials(image, counter, height)
    return memo.units[end], memo.dials[box]
