"""The unit printed beside a drum counter: `kWh` on electricity meters, `m³` on gas and water
meters, mostly just after the last drum (on its line or raised above it).

The strip after the counter's end is cut out upright (as the counter reads), its digits scaled
to `DIGIT_PX`, light text turned dark, and read by one Tesseract call. Only the unit's own
spellings count (`kWh`, `m3`, `m³`); whatever else is printed there (a rating, a logo) gives
no unit, and neither does a unit not read: nothing is concluded from it.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence

import cv2
import numpy as np

from ocr.tesseract import Tesseract, TesseractFailed

log = logging.getLogger(__name__)

DIGIT_PX = 32.0  # the counter's digit height in the strip handed to Tesseract
# the strip in digit heights: from just inside the counter's end to this far beyond it, and
# across from above the digits' top to below their bottom (a raised m³ included)
ALONG = (0.3, 3.6)
ACROSS = (-1.3, 1.1)
KWH = re.compile(r"KW[HN]")
CUBIC_METRES = re.compile(r"(?<![A-Z])M[3³З]")

Quad = Sequence[tuple[float, float]]


def unit_strip(image: np.ndarray, counter: Quad, digit_height: float) -> np.ndarray | None:
    """The strip after the counter's end (grey, dark text on light); None where the counter
    box is not known."""
    if digit_height <= 0 or len(counter) != 4:
        return None
    tl, tr, br, _ = (np.asarray(p, np.float64) for p in counter)
    along = tr - tl
    along /= max(1e-6, float(np.linalg.norm(along)))
    down = np.array((-along[1], along[0]))
    end = (tr + br) / 2
    k = DIGIT_PX / digit_height
    origin = end + ALONG[0] * digit_height * along + ACROSS[0] * digit_height * down
    m = np.array([[along[0] / k, down[0] / k, origin[0]], [along[1] / k, down[1] / k, origin[1]]])
    size = (round((ALONG[1] - ALONG[0]) * DIGIT_PX), round((ACROSS[1] - ACROSS[0]) * DIGIT_PX))
    flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    strip = cv2.warpAffine(image, m.astype(np.float32), size, flags=flags,
                           borderMode=cv2.BORDER_REPLICATE)  # fmt: skip
    gray = cv2.cvtColor(strip, cv2.COLOR_BGR2GRAY) if strip.ndim == 3 else strip
    return 255 - gray if np.median(gray) < 110 else gray


def unit_in(text: str) -> str | None:
    """`kWh` or `m³` where `text` spells one of them, else None."""
    upper = text.upper().replace(" ", "")
    if KWH.search(upper):
        return "kWh"
    if CUBIC_METRES.search(upper):
        return "m³"
    return None


def printed_unit(
    tesseract: Tesseract, image: np.ndarray, counter: Quad, digit_height: float
) -> str | None:
    """The unit printed after the counter (`kWh`, `m³`), or None."""
    strip = unit_strip(image, counter, digit_height)
    if strip is None:
        return None
    try:
        words = tesseract.words(strip, psm=7)
    except TesseractFailed as exc:
        log.info("unit not read: %s", exc.reason)
        return None
    return unit_in(" ".join(w.text for w in words))
