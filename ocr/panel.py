"""Digital displays: find the LCD panel, rectify it, and turn its 7-segment digits into a row.

7-segment digits fall apart into separate segments, so the blob finder sees halves of digits.
Here the display is found as a whole instead: a large, dark, rectangular region. Inside the
upright panel the digit strokes are picked out by a black-hat filter; the column profile splits
them into digits. The digits go back into photo coordinates as an ordinary `Row`, so the rest of
the pipeline (cells, model, decimal point) treats LCDs and drums alike.
"""

from __future__ import annotations

import math
from itertools import pairwise

import cv2
import numpy as np

from ocr.locate import Blob, Row

SCALE = 0.4  # panels are searched at this scale of the working image
PANEL_H = 96  # rectified panel height
MAX_PANELS = 3


def _panel_boxes(gray: np.ndarray) -> list[tuple[tuple[float, float], tuple[float, float], float]]:
    """Rotated rectangles of dark, display-shaped regions (at `SCALE`), largest first."""
    small = cv2.resize(gray, None, fx=SCALE, fy=SCALE, interpolation=cv2.INTER_AREA)
    _, dark = cv2.threshold(small, 0, 255, cv2.THRESH_BINARY_INV + cv2.THRESH_OTSU)
    block = (max(small.shape) // 3) | 1  # darker than the meter around it, not the whole photo
    local = cv2.adaptiveThreshold(
        small, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY_INV, block, 10
    )
    contours: list[np.ndarray] = []
    for mask in (dark, local):
        mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, np.ones((9, 9), np.uint8))
        contours += cv2.findContours(mask, cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)[0]
    boxes = []
    for contour in contours:
        area = cv2.contourArea(contour)
        if area < 0.015 * small.size:
            continue
        (cx, cy), (w, h), angle = cv2.minAreaRect(contour)
        long, short = max(w, h), min(w, h)
        if short < 8 or area < 0.7 * w * h or not 1.6 <= long / short <= 8:
            continue
        boxes.append(((cx, cy), (w, h), angle))
    boxes.sort(key=lambda b: -b[1][0] * b[1][1])
    distinct: list = []
    for box in boxes:  # the two masks often find the same panel
        if all(math.dist(box[0], other[0]) > 0.2 * max(other[1]) for other in distinct):
            distinct.append(box)
    return distinct[:MAX_PANELS]


def _upright(gray: np.ndarray, box: tuple) -> tuple[np.ndarray, np.ndarray]:
    """The panel warped upright (long side horizontal); also the panel->image affine map."""
    (cx, cy), (w, h), angle = box
    if w < h:
        w, h, angle = h, w, angle + 90
    a = math.radians(angle)
    ux, uy = math.cos(a), math.sin(a)
    if ux < 0:
        ux, uy = -ux, -uy
    cx, cy, w, h = cx / SCALE, cy / SCALE, w / SCALE, h / SCALE
    k = PANEL_H / h
    x0 = cx - w / 2 * ux + h / 2 * uy
    y0 = cy - w / 2 * uy - h / 2 * ux
    m = np.array([[ux / k, -uy / k, x0], [uy / k, ux / k, y0]], np.float32)
    size = (max(1, round(w * k)), PANEL_H)
    flags = cv2.INTER_AREA | cv2.WARP_INVERSE_MAP
    return cv2.warpAffine(gray, m, size, flags=flags, borderMode=cv2.BORDER_REPLICATE), m


def _ink(panel: np.ndarray) -> np.ndarray:
    hat = cv2.morphologyEx(panel, cv2.MORPH_BLACKHAT, np.ones((15, 15), np.uint8))
    _, ink = cv2.threshold(hat, 0, 1, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    margin = PANEL_H // 12
    ink[:margin], ink[-margin:], ink[:, :margin], ink[:, -margin:] = 0, 0, 0, 0
    return ink


def _runs(profile: np.ndarray, min_value: float, max_gap: int) -> list[tuple[int, int]]:
    on = np.nonzero(profile > min_value)[0]
    runs: list[tuple[int, int]] = []
    for i in on.tolist():
        if runs and i - runs[-1][1] <= max_gap:
            runs[-1] = (runs[-1][0], i)
        else:
            runs.append((i, i))
    return runs


def _split_wide(spans: list[tuple[int, int]], width: float) -> list[tuple[int, int]]:
    """Cut spans holding several touching digits into digit-wide pieces."""
    out = []
    for a, b in spans:
        parts = max(1, round((b - a + 1) / width))
        step = (b - a + 1) / parts
        out += [(round(a + i * step), round(a + (i + 1) * step) - 1) for i in range(parts)]
    return out


def _digits(ink: np.ndarray) -> tuple[list[tuple[int, int]], tuple[int, int]] | None:
    """Column spans of the digits and their common vertical extent, in panel pixels."""
    bands = _runs(ink.sum(axis=1).astype(float), 0.03 * ink.shape[1], 3)
    if not bands:
        return None
    y0, y1 = max(bands, key=lambda b: b[1] - b[0])
    height = y1 - y0 + 1
    if height < 0.3 * PANEL_H:
        return None
    upper = ink[y0 : y1 + 1 - height // 5]  # without the foot, where decimal points bridge digits
    spans = _runs(upper.sum(axis=0).astype(float), 0.5, max(2, height // 12))
    tall = [
        (a, b) for a, b in spans if ink[y0 : y1 + 1, a : b + 1].any(axis=1).sum() > 0.6 * height
    ]
    wide = [b - a + 1 for a, b in tall if b - a + 1 > 0.3 * height]  # not a "1"
    if wide:
        tall = _split_wide(tall, float(np.median(wide)))
    return (tall, (y0, y1)) if len(tall) >= 2 else None


Spans = list[tuple[int, int]]


def _dot(ink: np.ndarray, spans: Spans, band: tuple[int, int]) -> float | None:
    """x of a decimal point: ink at the foot of a gap between two digits, with none above it.

    Looking at the gap rather than for a separate blob also finds dots that touch a digit.
    """
    y0, y1 = band
    height = y1 - y0 + 1
    foot = ink[max(y0, y1 - height // 5) : y1 + max(2, height // 12)]
    above = ink[y0 + height // 4 : y1 - height // 4]
    best: tuple[float, float] | None = None
    for (_, b), (a2, _) in pairwise(spans):
        if a2 - b < 2:
            continue
        cols = slice(b + 1, a2)
        share = float(foot[:, cols].mean())
        clear_above = above[:, cols].mean() < 0.5 * share
        if share > 0.08 and clear_above and (best is None or share > best[0]):
            best = (share, (b + a2) / 2)
    return None if best is None else best[1]


def _row(
    m: np.ndarray, spans: list[tuple[int, int]], band: tuple[int, int], dot: float | None
) -> Row:
    """Map the digit spans (panel pixels) back into photo coordinates as a row."""
    y0, y1 = band
    k = float(np.hypot(m[0, 0], m[1, 0]))  # photo px per panel px
    ux, uy = float(m[0, 0]) / k, float(m[1, 0]) / k
    theta = math.atan2(ux, -uy) % math.pi  # the digits' own axis, across the reading direction
    yc = (y0 + y1) / 2

    def photo(x: float) -> tuple[float, float]:
        return (
            float(m[0, 0] * x + m[0, 1] * yc + m[0, 2]),
            float(m[1, 0] * x + m[1, 1] * yc + m[1, 2]),
        )

    blobs = [
        Blob(*photo((a + b) / 2), (y1 - y0 + 1) * k, (b - a + 1) * k, theta, 0) for a, b in spans
    ]
    centres = np.array([(b.cx, b.cy) for b in blobs])
    origin = (float(centres[:, 0].mean()), float(centres[:, 1].mean()))
    point = None
    if dot is not None:
        px, py = photo(dot)
        point = (px - origin[0]) * ux + (py - origin[1]) * uy
    return Row(
        blobs=tuple(blobs),
        origin=origin,
        direction=(ux, uy),
        height=(y1 - y0 + 1) * k,
        pitch=float(np.median(np.diff(centres @ np.array([ux, uy])))),
        residual=0.0,
        point=point,
        lcd=True,
    )


def lcd_rows(gray: np.ndarray) -> list[Row]:
    """One row per display-like panel whose inside splits into at least two digits."""
    rows = []
    for box in _panel_boxes(gray):
        panel, m = _upright(gray, box)
        ink = _ink(panel)
        found = _digits(ink)
        if found is not None:
            spans, band = found
            rows.append(_row(m, spans, band, _dot(ink, spans, band)))
    return rows
