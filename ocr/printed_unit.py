"""The unit printed beside a drum counter: `kWh` on electricity meters, `m³` on gas and water
meters, mostly just after the last drum (on its line or raised above it).

The strip after the counter's end is cut out upright (as the counter reads), its digits scaled
to `DIGIT_PX`, light text turned dark, and read by one Tesseract call. Only the unit's own
spellings count (`kWh`, `m3`, `m³`); whatever else is printed there (a rating, a logo) gives
no unit, and neither does a unit not read: nothing is concluded from it.

Water meters print `m³` small, its `3` raised high above the `m` and often under or over the
last drums rather than after them, which Tesseract does not read; where it reads no unit, the
`m³` is looked for as a glyph around the counter's end: an `m` (three stems joined at the top,
open between them at the foot) with a `3`-sized mark right after it, raised or on its line.
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
# the glyph `m³`: looked for in the photo around the counter's end (digit heights along the
# counter from its end and across from its middle line), its digits `GLYPH_PX` high; print
# `GLYPH_STEP` grey levels darker than the mean of a digit height around it
GLYPH_ALONG = (-2.5, 3.5)
GLYPH_ACROSS = (-2.2, 2.6)
GLYPH_PX = 40.0
GLYPH_STEP = 12
M_HEIGHT = (0.25, 0.95)  # the `m`, in digit heights
M_STEMS_AT = (0.55, 0.9)  # the rows (of its height) where its three stems are counted
# the `3` after it: at most half the `m`'s height away; raised (its top up to `RAISED` of the
# m's height above the m's top) at `SMALL_THREE` of its height, or on its line as tall as a digit
RAISED = 0.8
RAISED_FOOT = 0.8  # a raised 3's foot at most this far down the m (not an `o` on its line)
SMALL_THREE = (0.3, 1.15)
LINE_THREE = (1.15, 1.7)

Quad = Sequence[tuple[float, float]]


def unit_strip(
    image: np.ndarray,
    counter: Quad,
    digit_height: float,
    reach: tuple[tuple[float, float], tuple[float, float]] = (ALONG, ACROSS),
    digit_px: float = DIGIT_PX,
) -> np.ndarray | None:
    """The strip after the counter's end (grey, dark text on light), `reach` digit heights
    along the counter from its end and across from its middle line, its digits `digit_px`
    high; None where the counter box is not known."""
    if digit_height <= 0 or len(counter) != 4:
        return None
    (along0, along1), (across0, across1) = reach
    tl, tr, br, _ = (np.asarray(p, np.float64) for p in counter)
    along = tr - tl
    along /= max(1e-6, float(np.linalg.norm(along)))
    down = np.array((-along[1], along[0]))
    end = (tr + br) / 2
    k = digit_px / digit_height
    origin = end + along0 * digit_height * along + across0 * digit_height * down
    m = np.array([[along[0] / k, down[0] / k, origin[0]], [along[1] / k, down[1] / k, origin[1]]])
    size = (round((along1 - along0) * digit_px), round((across1 - across0) * digit_px))
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
        words = []
    read = unit_in(" ".join(w.text for w in words))
    if read is None and cubic_metres_glyph(image, counter, digit_height):
        return "m³"
    return read


def cubic_metres_glyph(image: np.ndarray, counter: Quad, digit_height: float) -> bool:
    """Whether an `m³` is printed around the counter's end: an `m` with a `3` after it."""
    strip = unit_strip(image, counter, digit_height, (GLYPH_ALONG, GLYPH_ACROSS), GLYPH_PX)
    if strip is None:
        return False
    ink = cv2.adaptiveThreshold(
        strip, 1, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY_INV, int(GLYPH_PX) | 1, GLYPH_STEP
    )
    _, labels, stats, _ = cv2.connectedComponentsWithStats(ink, connectivity=8)
    end, middle = -GLYPH_ALONG[0] * GLYPH_PX, -GLYPH_ACROSS[0] * GLYPH_PX
    marks = [
        (label, (int(x), int(y), int(w), int(h)))
        for label, (x, y, w, h, _) in enumerate(stats)
        if label > 0
        and (
            # the counter's own digits left out
            x + w > end + 0.1 * GLYPH_PX or abs(y + h / 2 - middle) > 0.7 * GLYPH_PX
        )
    ]
    low, high = (h * GLYPH_PX for h in M_HEIGHT)
    for label, (x, y, w, h) in marks:
        if not low <= h <= high or not _m(labels[y : y + h, x : x + w] == label):
            continue
        if any(_letter_before((x, y, w, h), box) for _, box in marks):
            continue  # an m inside a word (`Umdr`, `Qmax`)
        for other, (x2, y2, w2, h2) in marks:
            glyph = labels[y2 : y2 + h2, x2 : x2 + w2] == other
            if other != label and _three_after((x, y, w, h), (x2, y2, w2, h2), glyph):
                return True
    return False


def _letter_before(m: tuple[int, int, int, int], mark: tuple[int, int, int, int]) -> bool:
    """Whether `mark` is a letter just before the `m` on its line."""
    x, y, _, h = m
    x2, y2, w2, h2 = mark
    return h2 >= 0.5 * h and abs(y2 + h2 - y - h) < 0.25 * h and 0 <= x - (x2 + w2) < 0.35 * h


def _m(glyph: np.ndarray) -> bool:
    """Whether a glyph (its box's pixels) is an `m`: three like stems, evenly spaced, joined
    across the top, open between them at the foot, each reaching down to it."""
    h, w = glyph.shape
    if not 1.0 <= w / h <= 2.0:
        return False
    band = np.asarray(glyph[int(h * M_STEMS_AT[0]) : int(h * M_STEMS_AT[1]) + 1].mean(axis=0))
    edges = np.flatnonzero(np.diff(np.r_[0, (band > 0.5).astype(np.int8), 0]))
    stems = list(zip(edges[::2], edges[1::2], strict=True))
    if len(stems) != 3 or max(b - a for a, b in stems) > 0.3 * w:
        return False
    gaps = [(stems[0][1], stems[1][0]), (stems[1][1], stems[2][0])]
    narrow, wide = sorted(b - a for a, b in gaps)
    if narrow < 1 or wide > 2.5 * narrow + 1:
        return False
    top = np.asarray(glyph[: max(1, int(h * 0.3))].any(axis=0))
    if top[stems[0][0] : stems[2][1]].mean() < 0.7:
        return False
    foot = glyph[int(h * 0.8) :]
    if any(foot[:, a:b].mean() > 0.25 for a, b in gaps):
        return False
    return all(glyph[-max(1, h // 8) :, a:b].any() for a, b in stems)


def _three_after(
    m: tuple[int, int, int, int], mark: tuple[int, int, int, int], glyph: np.ndarray
) -> bool:
    """Whether `mark` (a box, `glyph` its pixels) sits where the `3` of an `m³` (or `m3`)
    follows the `m` `m`; one on the line is open on the left (not a `d` or `b`)."""
    x, y, w, h = m
    x2, y2, w2, h2 = mark
    if not -0.1 * h <= x2 - (x + w) <= 0.5 * h + 2 or not 0.3 <= w2 / h2 <= 1.1:
        return False
    raised = SMALL_THREE[0] * h <= h2 <= SMALL_THREE[1] * h and y - RAISED * h <= y2 <= y + 0.3 * h
    if raised and y2 + h2 <= y + RAISED_FOOT * h:
        return True
    on_line = LINE_THREE[0] * h < h2 <= LINE_THREE[1] * h and abs(y2 + h2 - y - h) <= 0.15 * h
    # a 3 is open on the left above its lower bow, where a letter's stem or bowl is not
    left_of_lower_bow = glyph[int(0.55 * h2) : int(0.75 * h2) + 1, : max(1, w2 // 3)]
    return on_line and float(left_of_lower_bow.mean()) < 0.5
