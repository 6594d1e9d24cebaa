"""What a display shows beside its value: the OBIS code of the register and the unit.

An electricity meter's display (eHZ) shows the register it is showing as an OBIS code in small
7-segment digits, left of or above the value (`1.8.0` total, `1.8.1` / `1.8.2` tariffs); heat,
water and electricity displays show the unit right of the value (`kWh`, `MWh`, `GJ`, `m³`). Both
are read around the display's chosen row of digits, cut upright, with light segments turned
dark: the code segment by segment (`ocr.sevenseg`), the unit by Tesseract. A code is only
returned when it reads as three digits with an 8 in the middle (the cumulative registers the
readings are booked on), a unit only when Tesseract's text is one of the units; else None.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

import cv2
import numpy as np

from ocr import sevenseg
from ocr.digits import NO_DIGIT
from ocr.locate import Row
from ocr.tesseract import Tesseract, TesseractFailed

log = logging.getLogger(__name__)

DIGIT_PX = 48  # the value's digit height in the upright cut
LEFT, RIGHT = 5.0, 3.5  # digit heights searched left (code) and right (unit) of the value
ABOVE = 1.3  # digit heights searched above the value (a code on its own line)
UNIT_CHARS = "kKMWhGJm3"
# Tesseract's text of a unit, after dropping what is not a unit character -> the unit
UNITS = (
    (re.compile(r"^[kK][Ww]h$|^[kK]Wh$|^kW[hn]$"), "kWh"),
    (re.compile(r"^MW[hn]$"), "MWh"),
    (re.compile(r"^G[J]$|^GJ$"), "GJ"),
    (re.compile(r"^m3?$|^m³$"), "m³"),
)


@dataclass(frozen=True)
class Labels:
    obis: str | None = None
    unit: str | None = None


def _cut(gray: np.ndarray, row: Row, left: float, right: float, above: float) -> np.ndarray:
    """The photo around the row, upright: `left`/`right` digit heights beyond its first and
    last digit, `above` heights above its top and 0.5 below its foot; DIGIT_PX per height."""
    (ox, oy), (ux, uy), h = row.origin, row.direction, row.height
    positions = row.positions
    half = max(b.width for b in row.blobs) / 2
    first, last = min(positions) - half - left * h, max(positions) + half + right * h
    k = DIGIT_PX / h  # cut px per photo px
    x0 = ox + first * ux - (0.5 + above) * h * -uy
    y0 = oy + first * uy - (0.5 + above) * h * ux
    m = np.array([[ux / k, -uy / k, x0], [uy / k, ux / k, y0]], np.float32)
    size = (max(1, round((last - first) * k)), max(1, round((above + 1.5) * DIGIT_PX)))
    flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    return cv2.warpAffine(gray, m, size, flags=flags, borderMode=cv2.BORDER_REPLICATE)


def _dark_ink(cut: np.ndarray, light: bool) -> np.ndarray:
    """The cut as dark marks on a light ground."""
    return 255 - cut if light else cut


def _obis(dark: np.ndarray, value_x: tuple[int, int], top: int) -> str | None:
    """The OBIS code left of the value (rows of the value) or above it."""
    x0, x1 = value_x
    regions = (
        dark[top - DIGIT_PX // 8 : top + DIGIT_PX + DIGIT_PX // 8, : max(0, x0 - 4)],
        dark[: max(0, top - 3), max(0, x0 - DIGIT_PX) : x1],
    )
    for region in regions:
        if region.shape[0] < 8 or region.shape[1] < DIGIT_PX // 2:
            continue
        hat = cv2.morphologyEx(region, cv2.MORPH_BLACKHAT, np.ones((11, 11), np.uint8))
        _, ink = cv2.threshold(hat, 0, 1, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
        code = _code(sevenseg.read_digits(_off_edge(ink)))
        if code:
            return code
    return None


def _code(digits: sevenseg.Digits | None) -> str | None:
    """Three sure digits with an 8 in the middle, as an OBIS code `C.8.E`."""
    if digits is None:
        return None
    values = [int(p.argmax()) for p in digits.probs]
    sure = all(v != NO_DIGIT and p[v] >= 0.6 for v, p in zip(values, digits.probs, strict=True))
    if not sure or len(values) < 3:
        return None
    a, b, c = values[-3:]
    return f"{a}.{b}.{c}" if b == 8 and a in (1, 2) else None


def unit_of(text: str) -> str | None:
    """The unit Tesseract's `text` names, or None."""
    for word in text.split():
        cleaned = "".join(ch for ch in word if ch in UNIT_CHARS + "³n")
        for pattern, unit in UNITS:
            if cleaned and pattern.match(cleaned):
                return unit
    return None


def _off_edge(binary: np.ndarray) -> np.ndarray:
    """The marks (non-zero) that do not touch the region's edge: frame lines and the value's
    digits run over it, a label stands inside."""
    _, labels, stats, _ = cv2.connectedComponentsWithStats(binary, connectivity=8)
    x, y, w, h = (stats[:, i] for i in range(4))
    edge = (x == 0) | (y == 0) | (x + w >= binary.shape[1]) | (y + h >= binary.shape[0])
    edge[0] = False
    return np.where(edge[labels], 0, binary).astype(binary.dtype)


def _text_marks(region: np.ndarray) -> np.ndarray:
    """Dark marks thinner than a digit's stroke, inside the region (`_off_edge`), on white:
    what Tesseract reads best."""
    hat = cv2.morphologyEx(region, cv2.MORPH_BLACKHAT, np.ones((9, 9), np.uint8))
    _, marks = cv2.threshold(hat, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    return np.asarray(255 - _off_edge(marks), np.uint8)


def _unit(tesseract: Tesseract, dark: np.ndarray, value_x: tuple[int, int], top: int) -> str | None:
    """The unit right of the value, read by Tesseract."""
    region = dark[max(0, top - DIGIT_PX // 2) : top + DIGIT_PX + DIGIT_PX // 4, value_x[1] + 2 :]
    if region.shape[1] < DIGIT_PX // 2:
        return None
    padded = cv2.copyMakeBorder(_text_marks(region), 12, 12, 12, 12, cv2.BORDER_CONSTANT, value=255)
    try:  # one line: the unit, its marks cleaned of frame edges
        words = tesseract.words(padded, psm=7, whitelist=UNIT_CHARS)
    except TesseractFailed as exc:
        log.info("unit not read: %s", exc.reason)
        return None
    return unit_of(" ".join(w.text for w in words))


def read_labels(tesseract: Tesseract, gray: np.ndarray, row: Row) -> Labels:
    """The OBIS code and the unit shown beside the display whose digits are `row`."""
    cut = _cut(gray, row, LEFT, RIGHT, ABOVE)
    dark = _dark_ink(cut, light=row.blobs[0].polarity == 1)
    h = row.height
    positions = row.positions
    half = max(b.width for b in row.blobs) / 2
    k = DIGIT_PX / h
    x0 = round(LEFT * DIGIT_PX)
    x1 = round((max(positions) - min(positions) + 2 * half) * k) + x0
    top = round(ABOVE * DIGIT_PX)
    return Labels(_obis(dark, (x0, x1), top), _unit(tesseract, dark, (x0, x1), top))
