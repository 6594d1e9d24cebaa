"""Digital displays: find the LCD panel, rectify it, and read its 7-segment digits directly.

7-segment digits fall apart into separate segments, so the blob finder sees halves of digits.
Displays are looked for in two ways: as a large, dark, rectangular region (a dark panel; when it
holds the unit label too, it is trimmed to its darkest band; each such region is read once more
with a margin around it, for a display that fills the photo), and around rows the blob finder
found (a light panel, or a display without a dark border). Each candidate is warped upright and
read by `ocr.sevenseg`; the digits go back into photo coordinates as an ordinary `Row`, so the
rest of the pipeline (choice of row, meter number, trust) treats LCDs and drums alike.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import cv2
import numpy as np

from ocr import sevenseg
from ocr.counter import Cells
from ocr.locate import Blob, Row

SEARCH_SIDE = 400  # panels are searched in the photo scaled to this long side
PANEL_H = 96  # rectified panel height
MARGIN = PANEL_H // 12  # panel px along the edges taken for the frame, never for ink
MAX_PANELS = 5  # largest dark or outlined regions read (a case and dark background come first)
EDGE_LOW = 20  # Canny's lower gradient threshold for a panel's outline (the upper is 3x)
NESTED = 1.25  # a box this much larger on a side than another around the same centre is its frame
CUT = 0.15  # share of the digits' height beyond a dark band: the band is a shadow, not the display
ROW_PANELS = 2  # blob-finder rows also tried as displays
TILTS = np.arange(-6, 7, 1.0)  # degrees a display's digits may lean inside the box read
TALLEST_AMONG = 8  # ... and the tallest of this many first rows (rows of print rank before it)
ROW_MARGIN = 2.0  # digit heights added on each side of a row (digits the blob finder missed)
ROW_HEIGHTS = (2.8, 4.0)  # panel heights around a row, in blob heights (digits or halves)
# light segments only where the panel's median grey lies this much nearer its dark end than its
# bright end: a panel box that takes in dark surroundings must not turn dark digits into light
LIGHT_INK = 0.5
# ... and read as light segments when that gives this many more sure digits than dark ones: higher
# keeps more dark-segment reads of panels that only look light (glare), lower reads more light
# displays whose dark read found a few digits in the gaps
LIGHTER = 1.0
# a read whose digits are this many times shorter than a clean display read's, and not clean
# itself, is print beside the display (a serial number), not a second display
DWARFED = 1.6
SURE = 0.9  # a box reads a sure digit at this probability

Box = tuple[tuple[float, float], tuple[float, float], float]  # rotated rectangle, photo px


@dataclass(frozen=True)
class LcdRead:
    """The digits of one display: where they are (an `lcd` row) and what they read."""

    box: Box  # the display's rectangle in the photo
    row: Row  # one blob per digit, `point` set when a decimal point was seen
    cells: Cells  # the digits cut from the upright, deskewed panel
    probs: np.ndarray  # per digit: p(0..9), p(no digit)
    decimals: int  # digits after the decimal point (0: none seen)
    point_confirmed: bool = False  # see `sevenseg.Digits`
    segments: sevenseg.Segments | None = field(default=None, compare=False)

    @property
    def fit(self) -> float:
        return float(self.probs[:, :10].max(axis=1).mean())

    def covers(self, other: LcdRead) -> bool:
        """Does `other` lie on this read's digits (the same display, seen twice)?"""
        positions = self.row.positions
        (ox, oy), (ux, uy) = self.row.origin, self.row.direction
        dx, dy = other.row.origin[0] - ox, other.row.origin[1] - oy
        along, across = dx * ux + dy * uy, -dx * uy + dy * ux
        reach = min(positions) - self.row.pitch <= along <= max(positions) + self.row.pitch
        return reach and abs(across) < self.row.height / 2


def _panel_boxes(gray: np.ndarray) -> list[Box]:
    """Rotated rectangles of dark, display-shaped regions (photo px), largest first."""
    scale = SEARCH_SIDE / max(gray.shape)
    small = cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    _, dark = cv2.threshold(small, 0, 255, cv2.THRESH_BINARY_INV + cv2.THRESH_OTSU)
    block = (max(small.shape) // 3) | 1  # darker than the meter around it, not the whole photo
    local = cv2.adaptiveThreshold(
        small, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY_INV, block, 10
    )
    contours: list[np.ndarray] = []
    for mask in (dark, local):
        mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, np.ones((9, 9), np.uint8))
        contours += cv2.findContours(mask, cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)[0]
    contours += _outlines(small)
    boxes = []
    for contour in contours:
        area = cv2.contourArea(contour)
        if area < 0.015 * small.size:
            continue
        (cx, cy), (w, h), angle = cv2.minAreaRect(contour)
        long, short = max(w, h), min(w, h)
        if short < 8 or area < 0.7 * w * h or not 1.6 <= long / short <= 8:
            continue
        boxes.append(((cx / scale, cy / scale), (w / scale, h / scale), angle))
    boxes.sort(key=lambda b: -b[1][0] * b[1][1])
    distinct: list[Box] = []
    for box in boxes:  # the two masks often find the same panel
        if not any(_same_box(box, other) for other in distinct):
            distinct.append(box)
    return distinct[:MAX_PANELS]


def _outlines(small: np.ndarray) -> list[np.ndarray]:
    """Closed outlines of the photo's edges: a display's window, light or dark, inside a case
    of any colour (a threshold joins a dark panel to a dark background around a light case)."""
    edges = cv2.Canny(cv2.GaussianBlur(small, (3, 3), 0), EDGE_LOW, 3 * EDGE_LOW)
    edges = cv2.morphologyEx(edges, cv2.MORPH_CLOSE, np.ones((3, 3), np.uint8))
    return list(cv2.findContours(edges, cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)[0])


def _same_box(box: Box, other: Box) -> bool:
    """Is `box` the panel `other` found again: the same centre and size (a display inside its
    frame, found as the frame's outline and as its inner edge, is two boxes)?"""
    near = math.dist(box[0], other[0]) <= 0.2 * max(other[1])
    sides = sorted(box[1]), sorted(other[1])
    alike = all(a <= NESTED * b and b <= NESTED * a for a, b in zip(*sides, strict=True))
    return near and alike


def _row_box(row: Row, height: float) -> Box:
    """A display-sized rectangle around a row of digits, with room for missed digits."""
    positions = row.positions
    middle = (min(positions) + max(positions)) / 2
    (ox, oy), (ux, uy) = row.origin, row.direction
    length = max(positions) - min(positions) + 2 * ROW_MARGIN * row.height
    angle = math.degrees(math.atan2(uy, ux))
    return (ox + middle * ux, oy + middle * uy), (length, height * row.height), angle


def _upright(gray: np.ndarray, box: Box) -> tuple[np.ndarray, np.ndarray]:
    """The panel warped upright (long side horizontal); also the panel->photo affine map."""
    (cx, cy), (w, h), angle = box
    if w < h:
        w, h, angle = h, w, angle + 90
    a = math.radians(angle)
    ux, uy = math.cos(a), math.sin(a)
    if ux < 0:
        ux, uy = -ux, -uy
    k = PANEL_H / h
    x0 = cx - w / 2 * ux + h / 2 * uy
    y0 = cy - w / 2 * uy - h / 2 * ux
    m = np.array([[ux / k, -uy / k, x0], [uy / k, ux / k, y0]], np.float32)
    size = (max(1, round(w * k)), PANEL_H)
    flags = cv2.INTER_AREA | cv2.WARP_INVERSE_MAP
    return cv2.warpAffine(gray, m, size, flags=flags, borderMode=cv2.BORDER_REPLICATE), m


def _dark_band(panel: np.ndarray) -> tuple[int, int] | None:
    """Rows of a darker display inside the panel (the panel found also holds the unit label)."""
    _, dark = cv2.threshold(panel, 0, 1, cv2.THRESH_BINARY_INV + cv2.THRESH_OTSU)
    rows = np.nonzero(dark.mean(axis=1) > 0.6)[0]
    if rows.size == 0:
        return None
    runs = np.split(rows, np.nonzero(np.diff(rows) > 2)[0] + 1)
    run = max(runs, key=len)
    y0, y1 = int(run[0]), int(run[-1])
    return (y0, y1) if 0.3 * PANEL_H <= y1 - y0 + 1 <= 0.8 * PANEL_H else None


def _trimmed(panel: np.ndarray, m: np.ndarray, band: tuple[int, int]) -> Box:
    """The box cut down to the rows `band` of the upright panel."""
    y0, y1 = band
    k = float(np.hypot(m[0, 0], m[1, 0]))  # photo px per panel px
    cx, cy = m @ np.array([panel.shape[1] / 2, (y0 + y1) / 2, 1.0])
    angle = math.degrees(math.atan2(float(m[1, 0]), float(m[0, 0])))
    return (float(cx), float(cy)), (panel.shape[1] * k, (y1 - y0 + 1) * k + 4 * k), angle


def _cuts_digits(band: tuple[int, int], digits: sevenseg.Digits | None) -> bool:
    """Would cutting the panel to its dark `band` cut through the digits read on the whole
    panel (a shadow across the digits, not a darker display)?"""
    if digits is None:
        return False
    (y0, y1), (d0, d1) = band, digits.band
    overlap = min(y1, d1) - max(y0, d0)
    return overlap > 0 and (y0 - d0) + (d1 - y1) > CUT * (d1 - d0 + 1)


def light_ink(panel: np.ndarray) -> bool:
    """Are the panel's digits lighter than its background (a dark or backlit display with light
    segments)? The background is most of the panel, so its median grey lies near the dark end
    of the panel's range when the digits are light, near the bright end when they are dark."""
    inner = panel[MARGIN:-MARGIN, MARGIN:-MARGIN]
    lo, mid, hi = np.percentile(inner, (2, 50, 98)) if inner.size else (0, 0, 0)
    return bool(mid - lo < LIGHT_INK * (hi - mid))


def _ink(panel: np.ndarray, light: bool = False) -> np.ndarray:
    """The segments' ink (1) of an upright panel, light or dark segments as `light` says."""
    op = cv2.MORPH_TOPHAT if light else cv2.MORPH_BLACKHAT
    hat = cv2.morphologyEx(panel, op, np.ones((15, 15), np.uint8))
    _, ink = cv2.threshold(hat, 0, 1, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    ink[:MARGIN], ink[-MARGIN:], ink[:, :MARGIN], ink[:, -MARGIN:] = 0, 0, 0, 0
    return ink


def _row(m: np.ndarray, digits: sevenseg.Digits, light: bool) -> Row:
    """Map the digit boxes (deskewed panel px) back into photo coordinates as a row (the
    blobs' polarity 1 for light segments)."""
    y0, y1 = digits.band
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
        Blob(*photo((a + b) / 2), (y1 - y0 + 1) * k, (b - a + 1) * k, theta, int(light))
        for a, b in digits.boxes
    ]
    centres = np.array([(b.cx, b.cy) for b in blobs])
    origin = (float(centres[:, 0].mean()), float(centres[:, 1].mean()))
    return Row(
        blobs=tuple(blobs),
        origin=origin,
        direction=(ux, uy),
        height=(y1 - y0 + 1) * k,
        pitch=float(np.median(np.diff(centres @ np.array([ux, uy])))),
        residual=0.0,
        lcd=True,
    )


def _cells(panel: np.ndarray, digits: sevenseg.Digits, row: Row) -> Cells:
    """The digit boxes as cells of the upright panel, slant removed."""
    y0, y1 = digits.band
    strip = sevenseg.sheared(panel, digits.shear, (y0 + y1) / 2)[y0 : y1 + 1]
    n = len(digits.boxes)
    return Cells(
        gray=[strip[:, max(0, a) : b + 1] for a, b in digits.boxes],
        red=[0.0] * n,
        found=[True] * n,
        flipped=False,
        strip=strip,
        centres=[(a + b) / 2 for a, b in digits.boxes],
        cell_w=round(float(np.median([b - a + 1 for a, b in digits.boxes]))),
        positions=row.positions,
    )


def _tilt(ink: np.ndarray) -> float:
    """Degrees the ink's rows lean (counter-clockwise positive): the rotation that gives the
    sharpest row profile. A box found as a dark region (the housing around a display) need not
    lie along the digits."""

    def sharpness(angle: float) -> float:
        turn = cv2.getRotationMatrix2D((ink.shape[1] / 2, ink.shape[0] / 2), float(angle), 1.0)
        turned = cv2.warpAffine(ink, turn, (ink.shape[1], ink.shape[0]), flags=cv2.INTER_NEAREST)
        return float(np.square(turned.sum(axis=1, dtype=np.float64)).sum())

    return float(max(TILTS, key=sharpness))


def _levelled(box: Box, tilt: float) -> Box:
    """The box turned so that rows leaning by `tilt` degrees come out level."""
    return box if tilt == 0 else (box[0], box[1], box[2] + tilt)


def _sure_digits(digits: sevenseg.Digits | None) -> float:
    """How many digits a read holds, each counted by its probability."""
    return 0.0 if digits is None else float(digits.probs[:, :10].max(axis=1).sum())


def _read(gray: np.ndarray, box: Box) -> LcdRead | None:
    """The panel's digits; on its dark band only, when the panel has one that the digits lie in
    and the band shows no fewer digits (it may hold a shadow, not the display). Where the panel
    looks like light segments on a dark ground (`light_ink`: glare or bright surroundings can
    make a dark-segment panel look so too), its light segments are read as well, and kept when
    they give more sure digits (LIGHTER) than the dark ones."""
    panel, m = _upright(gray, box)
    digits = sevenseg.read_digits(_ink(panel))
    light = False
    if light_ink(panel):
        level = _levelled(box, _tilt(_ink(panel, light=True)))
        lit_panel, lit_m = _upright(gray, level) if level is not box else (panel, m)
        lit = sevenseg.read_digits(_ink(lit_panel, light=True))
        light = _sure_digits(lit) > _sure_digits(digits) + LIGHTER
        if light:
            panel, m, digits = lit_panel, lit_m, lit
    band = None if light else _dark_band(panel)
    if band is not None and not _cuts_digits(band, digits):
        trimmed, tm = _upright(gray, _trimmed(panel, m, band))
        inside = sevenseg.read_digits(_ink(trimmed))
        if inside is not None and (digits is None or len(inside.boxes) >= len(digits.boxes)):
            panel, m, digits = trimmed, tm, inside
    if digits is None:
        return None
    row = _row(m, digits, light)
    cells = _cells(panel, digits, row)
    return LcdRead(
        box,
        row,
        cells,
        digits.probs,
        digits.point or 0,
        digits.point_confirmed,
        sevenseg.Segments(
            digits.coverage,
            digits.boxes,
            digits.band[1] - digits.band[0] + 1.0,
            light,
            digits.point_confirmed,
        ),
    )


def _padded(box: Box) -> Box:
    """The box with room around it that `_ink` blanks (as the frame) in place of its edges."""
    (cx, cy), (w, h), angle = box
    margin = MARGIN / (PANEL_H - 2 * MARGIN) * min(w, h)
    return (cx, cy), (w + 2 * margin, h + 2 * margin), angle


def lcd_reads(gray: np.ndarray, rows: list[Row]) -> list[LcdRead]:
    """7-segment reads of dark display panels, and of the first blob rows not on such a panel
    and the tallest of them (light panels, or a display in a dark housing); without reads of
    part of a display that another read gets with more digits."""
    found = _panel_boxes(gray)
    found += [_padded(box) for box in found]  # a display filling the photo: digits at its edges
    reads = [read for read in (_read(gray, box) for box in found) if read is not None]
    free = [r for r in rows if not any(_inside(r.origin, read.box) for read in reads)]
    tried = free[:ROW_PANELS]
    tallest = max(free[:TALLEST_AMONG], key=lambda r: r.height, default=None)
    if tallest is not None and not any(tallest is r for r in tried):
        tried.append(tallest)  # a display's digits are the largest on the meter
    boxes = [_row_box(r, h) for r in tried for h in ROW_HEIGHTS]
    reads += [read for read in (_read(gray, box) for box in boxes) if read is not None]
    return [
        r
        for r in reads
        if not any(_part_of(r, o) or _outvoted(r, o) or _dwarfed(r, o) for o in reads)
    ]


def _inside(point: tuple[float, float], box: Box) -> bool:
    (cx, cy), (w, h), angle = box
    a = math.radians(angle)
    dx, dy = point[0] - cx, point[1] - cy
    along, across = dx * math.cos(a) + dy * math.sin(a), -dx * math.sin(a) + dy * math.cos(a)
    return abs(along) < w / 2 and abs(across) < h / 2


def _outvoted(read: LcdRead, other: LcdRead) -> bool:
    """Does `other` read the same digits of the same display with its point confirmed by both
    point finders, where `read` puts the point elsewhere on one finder's word (a speck at the
    baseline seen in one crop of the display)?"""
    same = other.probs.shape == read.probs.shape and bool(
        (other.probs.argmax(axis=1) == read.probs.argmax(axis=1)).all()
    )
    moved = other.decimals != read.decimals and other.point_confirmed and not read.point_confirmed
    return same and moved and other.covers(read)


def _clean(read: LcdRead) -> bool:
    """Does every box of the read give a sure digit (no gap, no doubtful pattern)?"""
    return bool((read.probs[:, :10].max(axis=1) >= SURE).all())


def _dwarfed(read: LcdRead, other: LcdRead) -> bool:
    """Is `read` small print beside the display `other` reads: `other`'s digits are much
    taller and all sure, `read`'s not (printed serials and labels match 7-segment patterns only
    in part)?"""
    taller = other.row.height >= DWARFED * read.row.height
    return taller and _clean(other) and len(other.probs) >= 3 and not _clean(read)


def _part_of(read: LcdRead, other: LcdRead) -> bool:
    longer = len(other.probs) > len(read.probs)
    pointed = other.decimals > 0 or read.decimals == 0  # a point seen is worth a missed digit
    return longer and pointed and other.fit >= read.fit - 0.05 and other.covers(read)
