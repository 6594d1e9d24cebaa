"""Read 7-segment digits directly: which segments are lit, and where the decimal point sits.

Input is the ink of an upright display panel (1 = segment ink). The digits' slant is measured and
sheared away; the column profile then splits the digits, each digit box is checked segment by
segment (a lit segment is a stroke across its region), and the on/off pattern is matched against
the ten digits. A 7-segment "1" is lit on the right of its cell, so a narrow stroke is also tried
as the right edge of a full-width box. The decimal point is a small blob at the baseline between
two digits. Nothing here depends on the panel's colour or the digit count.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from itertools import pairwise

import cv2
import numpy as np

from ocr.digits import NO_DIGIT  # probabilities share the digit model's layout

# segments a..g lit per digit (a top, b upper right, c lower right, d bottom, e lower left,
# f upper left, g middle), then the two counters (the holes inside an "8"), never inked; the
# last pattern is "no digit"
PATTERNS = np.array(
    [
        [1, 1, 1, 1, 1, 1, 0, 0, 0],
        [0, 1, 1, 0, 0, 0, 0, 0, 0],
        [1, 1, 0, 1, 1, 0, 1, 0, 0],
        [1, 1, 1, 1, 0, 0, 1, 0, 0],
        [0, 1, 1, 0, 0, 1, 1, 0, 0],
        [1, 0, 1, 1, 0, 1, 1, 0, 0],
        [1, 0, 1, 1, 1, 1, 1, 0, 0],
        [1, 1, 1, 0, 0, 0, 0, 0, 0],
        [1, 1, 1, 1, 1, 1, 1, 0, 0],
        [1, 1, 1, 1, 0, 1, 1, 0, 0],
        [0, 0, 0, 0, 0, 0, 0, 0, 0],
    ],
    dtype=float,
)
ROW_SHARE = 0.2  # a row of the digits holds at least this share of the inkiest rows' ink
EDGE_MARKS = 3  # ... or more marks than this (a row crossing only the window's edges)
EDGE_ROWS = 0.1  # rows of edges beyond the digits cut off only this share of the band or more
SEAM = 0.04  # rows without ink between upper and lower segments, share of the panel height
HALF = 0.3  # ... when each part holds at least this share of the joined rows
SHEARS = np.linspace(-0.1, 0.4, 11)  # tan of the slant tried (italic digits lean right)
SHARPNESS = 5.0  # how fast a digit's probability falls per segment that does not fit
MISFIT_OK = 0.75  # a best pattern off by more than this many segments is doubtful as a digit
STROKE = 0.06  # thinnest segment stroke, share of the digit height
SOLID_STROKE = 0.7  # ... and share of the display's own stroke width (a hairline is no segment)
CLEAR = 0.05  # share of inked px above a point that still leaves it standing free
STEM = 0.25  # a column with this share of the digit height inked holds a vertical stroke
WIDEST = 0.75  # a digit is at most this share of its height wide; wider spans are several
NARROW = 0.8  # spans narrower than this share of a digit's width may be a "1"
JOINED = 1.15  # two narrow spans at most this many digit widths across may be one digit
LINKED = 0.6  # ... if ink crosses at least this share of the columns between them
OUTLINE = 0.12  # an outline inks less than this share of its bounding box (a "1" 0.6+, an "8" 0.3+)
BAR = 0.12  # thickest frame line cut out of the digits' ink, share of the panel height
BARS = [0, 3, 6]  # the horizontal segments a, d, g
SOLID = 0.85  # a bar left of a narrow stroke is lit only with this coverage (faint: unlit)
FEET = 0.75  # a band without bars keeps at least this share of the rows
BAR_SLOPES = np.linspace(-0.1, 0.1, 9)  # tilts of frame lines looked for
BEYOND = 0.15  # share of the digit height a frame edge runs on above and below the digits
GAP = 1.6  # pitches from a first digit to the next with room for a blank digit between


Box = tuple[int, int]  # first and last column of a digit, deskewed panel px


@dataclass(frozen=True)
class Digits:
    """Digits of one panel: boxes, probabilities per box, and the decimal point."""

    boxes: list[Box]
    probs: np.ndarray  # one row per box: p(0..9), p(no digit), like the digit model's output
    band: tuple[int, int]  # rows of the digits
    shear: float  # the slant that was removed: x shift per row above the band's middle
    point: int | None  # digits after the decimal point (None: no point seen)
    # the free blob and the ink at the foot of a gap put the point at the same place
    point_confirmed: bool = False
    # one row per box: the coverage 0..1 its segments a..g and holes were matched on
    coverage: np.ndarray = field(default_factory=lambda: np.zeros((0, 9)), compare=False)


@dataclass(frozen=True)
class Segments:
    """What a read of 7-segment digits rests on, one entry per digit: the coverage of its
    segments a..g and holes, its box (deskewed panel px); the digits' height, whether they
    were read as light segments on a dark ground, whether the decimal point was seen both as
    a free blob and at the foot of a gap (`Digits.point_confirmed`), and how many digit boxes
    of the display lie beside these digits (a part of the display read)."""

    coverage: np.ndarray  # (digits, 9)
    boxes: list[Box]
    height: float
    light: bool
    point_confirmed: bool = False
    beside: int = 0

    def part(self, start: int, stop: int) -> Segments:
        """The evidence of the digits start..stop (the other boxes counted as beside them)."""
        kept = self.boxes[start:stop]
        return replace(
            self,
            coverage=self.coverage[start:stop],
            boxes=kept,
            beside=self.beside + len(self.boxes) - len(kept),
        )


def _runs(profile: np.ndarray, min_value: float, max_gap: int) -> list[Box]:
    on = np.nonzero(profile > min_value)[0]
    runs: list[Box] = []
    for i in on.tolist():
        if runs and i - runs[-1][1] <= max_gap:
            runs[-1] = (runs[-1][0], i)
        else:
            runs.append((i, i))
    return runs


def _without_lines(ink: np.ndarray) -> np.ndarray:
    """The ink without long thin horizontal lines (panel edges, reflections): no segment is
    that long; and without outlines (a frame drawn around the digits): marks as wide and
    tall as several digits that ink little of their bounding box."""
    h = ink.shape[0]
    _, labels, stats, _ = cv2.connectedComponentsWithStats(ink, connectivity=8)
    width, height = stats[:, cv2.CC_STAT_WIDTH], stats[:, cv2.CC_STAT_HEIGHT]
    hollow = stats[:, cv2.CC_STAT_AREA] < OUTLINE * width * height
    lines = (width >= 0.6 * h) & ((height <= 0.1 * h) | ((height >= 0.5 * h) & hollow))
    lines[0] = False
    return np.where(lines[labels], 0, ink).astype(ink.dtype) if lines.any() else ink


def _without_bars(ink: np.ndarray) -> np.ndarray:
    """The ink without thin bars, level or slightly tilted, longer than any segment (a frame
    line touching the digits' feet). Only for finding the digits' rows: where a bar crosses a
    stroke, the stroke loses those rows too."""
    h = ink.shape[0]
    length = round(0.6 * h)
    closed = cv2.morphologyEx(ink, cv2.MORPH_CLOSE, np.ones((1, 5), np.uint8))
    long = np.zeros_like(ink)
    for slope in BAR_SLOPES:
        rise = round(abs(slope) * length)
        kernel = np.zeros((rise + 1, length), np.uint8)
        ys = np.round(np.linspace(0, rise, length)).astype(int)
        kernel[ys if slope >= 0 else rise - ys, np.arange(length)] = 1
        long |= cv2.morphologyEx(closed, cv2.MORPH_OPEN, kernel)
    _, labels, stats, _ = cv2.connectedComponentsWithStats(long, connectivity=8)
    thick = stats[:, cv2.CC_STAT_AREA] / np.maximum(1, stats[:, cv2.CC_STAT_WIDTH])
    bars = thick <= BAR * h
    bars[0] = False
    return np.where(bars[labels] & (ink > 0), 0, ink).astype(ink.dtype) if bars.any() else ink


def _halves(runs: list[Box], seam: int) -> list[Box]:
    """Row runs joined across a thin seam when they are the upper and lower halves of one row
    of digits (both a fair share of the whole), not digits and a frame edge."""
    out: list[Box] = []
    for a, b in runs:
        if out:
            pa, pb = out[-1]
            whole = b - pa + 1
            if a - pb - 1 <= seam and min(pb - pa + 1, b - a + 1) >= HALF * whole:
                out[-1] = (pa, b)
                continue
        out.append((a, b))
    return out


def _band(ink: np.ndarray) -> tuple[int, int] | None:
    """Rows of the digits: the tallest run of rows with ink, without rows at its ends that
    hold only a little of the ink of its inkiest rows in a few marks (the window's edges
    running on past the digits ink every row a little, at its sides)."""
    profile = ink.sum(axis=1).astype(float)
    runs = _runs(profile, 0.03 * ink.shape[1], 1)
    bands = _halves(runs, round(SEAM * ink.shape[0]))
    if not bands:
        return None
    y0, y1 = max(bands, key=lambda b: b[1] - b[0])
    least = ROW_SHARE * float(np.percentile(profile[y0 : y1 + 1], 90))
    marks = (np.diff(ink.astype(np.int8), axis=1) == 1).sum(axis=1) + ink[:, 0]
    edge = (profile < least) & (marks <= EDGE_MARKS)
    top, bottom = y0, y1
    while top < bottom and edge[top]:
        top += 1
    while bottom > top and edge[bottom]:
        bottom -= 1
    least_rows = EDGE_ROWS * (y1 - y0 + 1)  # fewer are the digits' own anti-aliased edge
    y0, y1 = top if top - y0 >= least_rows else y0, bottom if y1 - bottom >= least_rows else y1
    return (y0, y1) if y1 - y0 + 1 >= 0.3 * ink.shape[0] else None


def _feet_band(ink: np.ndarray) -> tuple[int, int] | None:
    """The digits' rows without a frame line along their feet or tops: the band of the ink
    without long bars, when that still holds most of the rows (a bar across the digits' middle,
    a reflection, would cut them in two) and the rows it leaves out hold little ink once the
    bars are gone (small digits touching each other join their top segments into a bar too)."""
    bare = _without_bars(ink)
    band, clean = _band(ink), _band(bare)
    if band is None or clean is None:
        return band
    inside = band[0] <= clean[0] and clean[1] <= band[1]
    if not inside or clean[1] - clean[0] < FEET * (band[1] - band[0]):
        return band
    rows = bare.sum(axis=1)
    left_out = np.r_[rows[band[0] : clean[0]], rows[clean[1] + 1 : band[1] + 1]]
    return band if left_out.size and left_out.max() > 0.03 * ink.shape[1] else clean


def sheared(image: np.ndarray, shear: float, middle: float) -> np.ndarray:
    """`image` with rows above `middle` moved left by `shear` px per row (below: right)."""
    m = np.array([[1.0, shear, -shear * middle], [0.0, 1.0, 0.0]], np.float32)
    return cv2.warpAffine(image, m, (image.shape[1], image.shape[0]), flags=cv2.INTER_NEAREST)


def _slant(ink: np.ndarray, band: tuple[int, int]) -> float:
    """The shear that makes the digits upright: the one with the sharpest column profile."""
    y0, y1 = band
    strip = ink[y0 : y1 + 1]
    middle = (y1 - y0) / 2

    def sharpness(shear: float) -> float:
        return float(np.square(sheared(strip, shear, middle).sum(axis=0, dtype=np.float64)).sum())

    return float(max(SHEARS, key=sharpness))


def _split(span: Box, width: float, profile: np.ndarray) -> list[Box]:
    """Cut a span holding several touching digits at the thinnest columns near each border;
    columns as thin right after a cut (a reflection bridging the gap) belong to neither side."""
    a, b = span
    gap = 0.3 * width
    parts = max(1, round((b - a + 1 + gap) / (width + gap)))
    pieces: list[Box] = []
    start = a
    for i in range(1, parts):
        guess = round(a + i * (b - a + 1) / parts)
        lo, hi = max(start + 1, guess - round(width / 4)), min(b, guess + round(width / 4))
        cut = lo + int(np.argmin(profile[lo : hi + 1])) if hi > lo else guess
        pieces.append((start, cut - 1))
        start = cut
        while start < hi and profile[start + 1] <= profile[cut]:
            start += 1
    pieces.append((start, b))
    return [(x, y) for x, y in pieces if y > x]


def _joined(spans: list[Box], width: float, profile: np.ndarray) -> list[Box]:
    """Spans with two narrow neighbours joined when together they are one digit wide and faint
    ink links them: the two sides of a "0" whose top and bottom segments are pale."""
    out: list[Box] = []
    for a, b in spans:
        if out:
            pa, pb = out[-1]
            narrow = max(pb - pa, b - a) + 1 < NARROW * width
            between = profile[pb + 1 : a] > 0
            linked = between.size == 0 or float(between.mean()) >= LINKED
            if narrow and linked and b - pa + 1 <= JOINED * width:
                out[-1] = (pa, b)
                continue
        out.append((a, b))
    return out


def _to_stem(span: Box, stems: np.ndarray, narrow: float = 0.0) -> Box:
    """The span cut back to its last column with a vertical stroke: every 7-segment digit ends
    in one on the right, so thin ink beyond it is a speck or a point, not the digit. A cut that
    would leave the span `narrow` (a "T" or a printed "2" cut to a stroke) is no speck: the span
    stays."""
    a, b = span
    tall = np.nonzero(stems[a : b + 1])[0]
    if tall.size == 0:
        return span
    end = a + int(tall[-1])
    return span if end - a + 1 < narrow else (a, end)


def _spans(ink: np.ndarray, band: tuple[int, int]) -> tuple[list[Box], float]:
    """Column spans of tall ink (digits) and the width of a full digit."""
    y0, y1 = band
    height = y1 - y0 + 1
    upper = ink[y0 : y1 + 1 - height // 5]  # without the foot, where decimal points bridge digits
    profile = upper.sum(axis=0).astype(float)
    spans = _runs(profile, 0.04 * height, max(1, height // 20))
    stems = ink[y0 : y1 + 1].sum(axis=0) >= STEM * height
    tall = [
        span
        for span in spans
        if ink[y0 : y1 + 1, span[0] : span[1] + 1].any(axis=1).sum() > 0.6 * height
    ]
    cut = [_to_stem(span, stems) for span in tall]
    wide = [b - a + 1 for a, b in cut if 0.3 * height < b - a + 1 <= WIDEST * height]
    width = float(np.median(wide)) if wide else 0.5 * height
    narrow = NARROW * width
    pieces = [
        _to_stem(piece, stems, narrow)
        for span in tall
        for piece in _split(_to_stem(span, stems, narrow), width, profile)
    ]
    return _joined(pieces, width, profile), width


def _frame_edge(ink: np.ndarray, span: Box, band: tuple[int, int], width: float) -> bool:
    """Is a narrow span the edge of a frame, not a "1": its stroke runs on beyond the digits'
    top or bottom (a segment ends with the digits)?"""
    a, b = span
    if b - a + 1 >= NARROW * width:
        return False
    y0, y1 = band
    reach = round(BEYOND * (y1 - y0 + 1))
    above = ink[max(0, y0 - reach) : y0, a : b + 1].any(axis=1)
    below = ink[y1 + 1 : y1 + 1 + reach, a : b + 1].any(axis=1)
    return any(side.size > 0 and side.mean() > 0.8 for side in (above, below))


def _stroke_width(ink: np.ndarray, band: tuple[int, int]) -> float:
    """The display's stroke width: the median length of the ink's runs along its rows (most
    runs cross a vertical segment)."""
    rows = np.pad(ink[band[0] : band[1] + 1].astype(np.int8), ((0, 0), (1, 1)))
    edges = np.diff(rows, axis=1)
    runs = np.flatnonzero(edges == -1) - np.flatnonzero(edges == 1)
    runs = runs[runs >= 2]
    return float(np.median(runs)) if runs.size else 0.0


def _coverage(region: np.ndarray, axis: int, thickness: int) -> float:
    """How completely a stroke crosses the region: the share of ink along `axis` of its best
    `thickness` lines (a hairline is no segment)."""
    if region.size == 0:
        return 0.0
    lines = np.sort(region.mean(axis=axis))[::-1]
    return float(lines[:thickness].mean())


def _segments(
    ink: np.ndarray, box: Box, band: tuple[int, int], thick: int, stroke: Box | None = None
) -> np.ndarray:
    """Coverage 0..1 of the segments a..g inside one digit box (by their best `thick` lines),
    and ink in its two holes. With `stroke` (the columns of a narrow stroke on the right of the
    box), horizontal segments and holes are looked for left of it only: a thick "1" must not
    pass for segments crossing it."""
    (x0, x1), (y0, y1) = box, band
    w, h = x1 - x0 + 1, y1 - y0 + 1
    ym = (y0 + y1 + 1) / 2

    def cut(rows: tuple[float, float], cols: tuple[float, float]) -> np.ndarray:
        (ya, yb), (xa, xb) = rows, cols
        return ink[max(0, round(ya)) : max(0, round(yb)), max(0, round(xa)) : max(0, round(xb))]

    left, right = (x0 - 0.1 * w, x0 + 0.35 * w), (x1 + 1 - 0.35 * w, x1 + 1 + 0.1 * w)
    # bars and holes lie between the vertical strokes: bold narrow digits leave them little room
    bold = thick / SOLID_STROKE
    side, inset = max(0.25 * w, min(bold, 0.4 * w)), max(0.3 * w, min(bold, 0.45 * w))
    middle = (x0 + side, x1 + 1 - side if stroke is None else stroke[0])
    upper, lower = (y0 + 0.12 * h, ym - 0.1 * h), (ym + 0.1 * h, y1 + 1 - 0.12 * h)
    top, centre, bottom = (
        (y0 - 0.05 * h, y0 + 0.2 * h),
        (ym - 0.12 * h, ym + 0.12 * h),
        (y1 + 1 - 0.2 * h, y1 + 1 + 0.05 * h),
    )
    holes = ((y0 + 0.25 * h, ym - 0.12 * h), (ym + 0.12 * h, y1 + 1 - 0.25 * h))
    inner = (x0 + inset, x1 + 1 - inset if stroke is None else min(x1 + 1 - inset, stroke[0]))
    return np.array(
        [
            _coverage(cut(top, middle), 1, thick),
            _coverage(cut(upper, right), 0, thick),
            _coverage(cut(lower, right), 0, thick),
            _coverage(cut(bottom, middle), 1, thick),
            _coverage(cut(lower, left), 0, thick),
            _coverage(cut(upper, left), 0, thick),
            _coverage(cut(centre, middle), 1, thick),
            *(float(cut(rows, inner).mean()) if cut(rows, inner).size else 0.0 for rows in holes),
        ]
    )


def misfits(coverage: np.ndarray) -> np.ndarray:
    """Per pattern (0..9, no digit): how many segments' worth of ink disagree with it."""
    lit = np.clip((coverage - 0.3) / 0.4, 0.0, 1.0)
    return np.abs(PATTERNS - lit).sum(axis=1)


def _digit_probs(off: np.ndarray) -> np.ndarray:
    """p(0..9, no digit) from the patterns' misfits `off`: each misfitting segment costs
    alike; a poor best fit is no digit."""
    p = np.exp(-SHARPNESS * (off - off.min()))
    p /= p.sum()
    doubt = float(np.clip(off[:10].min() - MISFIT_OK, 0.0, 1.0))
    p[:10] *= 1.0 - doubt
    p[10] = 1.0 - p[:10].sum()
    return p


def _faint_off(coverage: np.ndarray) -> np.ndarray:
    """Coverage left of a narrow stroke with the horizontal segments that are not solid turned
    off: a lit bar joined to the stroke would have made its span wide, so what lies there is
    an unlit segment showing faintly (a "1" is no "7")."""
    out = coverage.copy()
    out[BARS] = np.where(out[BARS] < SOLID, 0.0, out[BARS])
    return out


def _read_box(
    ink: np.ndarray, span: Box, width: float, band: tuple[int, int], thick: int
) -> tuple[Box, np.ndarray]:
    """The box and its segments' coverage for a span. A narrow span is a "1" (the right edge
    of a full-width box, nothing left of the stroke) unless, wide enough, it reads well as
    itself (a narrow "7" or "4")."""
    a, b = span
    own = (span, _segments(ink, span, band, thick))
    if b - a + 1 >= NARROW * width:
        return own
    one_box = (round(b - width + 1), b)
    one = (one_box, _faint_off(_segments(ink, one_box, band, thick, span)))
    own_misfits = misfits(own[1])
    fits_own = own_misfits[:10].min() <= 0.5 and int(np.argmin(own_misfits)) != 1
    return own if b - a + 1 >= 0.55 * width and fits_own else one


def _blob_point(
    ink: np.ndarray, boxes: list[Box], spans: list[Box], band: tuple[int, int], width: float
) -> int | None:
    """Digits after a decimal point standing free: a small blob near the baseline, not inside
    a digit (within a digit's columns only with nothing above it: a point under specks)."""
    y0, y1 = band
    h = y1 - y0 + 1
    top = round(y1 - 0.4 * h)
    foot = np.ascontiguousarray(ink[top : round(y1 + 0.15 * h)])
    n, _, stats, centres = cv2.connectedComponentsWithStats(foot, connectivity=8)
    best: tuple[float, int] | None = None
    for i in range(1, n):
        _, y, w, hh, area = stats[i]
        small = y > 0 and hh < 0.22 * h and w < 0.4 * width and area > 0.004 * h * h
        if not small or abs(y + hh - (y1 - top)) > 0.2 * h or area < 0.4 * w * hh:
            continue
        cx = float(centres[i][0])
        after = sum(1 for a, _ in boxes if a + 0.25 * width > cx)
        above = ink[round(y0 + 0.25 * h) : top + y, stats[i][0] : stats[i][0] + w]
        clear = above.size > 0 and float(above.mean()) < CLEAR
        inside = any(a + 0.3 * width < cx < b - 0.3 * width for a, b in boxes) or any(
            a + 1 < cx < b - 1 and not clear for a, b in spans
        )
        if 0 < after < len(boxes) and not inside and (best is None or area > best[0]):
            best = (float(area), after)
    return None if best is None else best[1]


def _gap_point(ink: np.ndarray, boxes: list[Box], band: tuple[int, int]) -> int | None:
    """Digits after a decimal point that touches a digit: ink at the foot of the gap between two
    digits, with none above it."""
    y0, y1 = band
    h = y1 - y0 + 1
    foot = ink[round(y1 - 0.2 * h) : round(y1 + 0.1 * h) + 1]
    above = ink[round(y0 + 0.25 * h) : round(y1 - 0.3 * h)]
    best: tuple[float, int] | None = None
    for i, ((_, b), (a2, _)) in enumerate(pairwise(boxes)):
        if a2 - b < 3:
            continue
        share = float(foot[:, b + 1 : a2].mean())
        clear = above[:, b + 1 : a2].mean() < 0.5 * share
        if share > 0.08 and clear and (best is None or share > best[0]):
            best = (share, len(boxes) - 1 - i)
    return None if best is None else best[1]


def _pitch(rights: list[int], width: float) -> float | None:
    """Digit pitch from the right edges of neighbouring full-width digits (None: too few)."""
    steps = [b - a for a, b in pairwise(rights) if 0.9 * width <= b - a <= 2.2 * width]
    return float(np.median(steps)) if steps else None


def _joins(right: int, next_right: int, pitch: float) -> bool:
    """Does a first digit belong to the display? Unlit digits are leading zeros, so a lit
    digit with room for a blank one between it and the next is another field, or something
    beside the display, unless it sits on the display's pitch."""
    step = (next_right - right) / pitch
    return step < GAP or abs(step - round(step)) < 0.2


def _plausible(boxes: list[Box], spans: list[Box], width: float, digit: list[bool]) -> list[bool]:
    """Boxes that can be digits: inside the panel, not overlapping the digit before them (a
    frame edge next to the last digit), and a "1" (a box widened from its stroke) on the pitch
    of the full-width digits: any vertical stroke reads as "1", a 7-segment "1" sits where the
    right edges of digits do. A display of "1"s alone is not told from a row of strokes. What
    reads as no digit (a reflection) may overlap the box after it: `digit` says which read."""
    rights = [b for box, span in zip(boxes, spans, strict=True) if box == span for b in box[1:]]
    pitch = _pitch(rights, width)
    keep = []
    for i, ((a, b), span) in enumerate(zip(boxes, spans, strict=True)):
        overlap = boxes[i - 1][1] - a if i and digit[i - 1] else 0
        ok = bool(rights) and a >= 0 and overlap < 0.25 * width
        if ok and pitch is not None and (a, b) != span:
            steps = [(b - r) / pitch for r in rights]
            ok = min(abs(k - round(k)) for k in steps) < 0.2
        if ok and pitch is not None and i == 0 and len(boxes) > 1:
            ok = _joins(b, boxes[1][1], pitch)
        keep.append(ok)
    return keep


def _trimmed(probs: np.ndarray, point: int | None) -> tuple[np.ndarray, slice, int | None]:
    """Without "no digit" boxes at both ends; the point still counted from the right. The box
    right after a point stays, read as the digit it most resembles (its probabilities given
    back renormalised), also between digits: glare that hides the first decimal must not take
    the point, and with it the integer part, away."""
    digit = (probs.argmax(axis=1) != NO_DIGIT).tolist()
    if not any(digit):
        return probs, slice(0, 0), None
    first, last = digit.index(True), len(digit) - 1 - digit[::-1].index(True)
    after = len(digit) - (point or 0)  # the box right after the point
    if point is not None and first < after <= last + 1 and not digit[after]:
        last = max(last, after)
        probs = probs.copy()
        probs[after, :NO_DIGIT] /= probs[after, :NO_DIGIT].sum() + 1e-12
        probs[after, NO_DIGIT] = 0.0
    if point is not None:
        point -= len(digit) - 1 - last
        point = point if 0 < point <= last - first else None
    return probs, slice(first, last + 1), point


def read_digits(ink: np.ndarray) -> Digits | None:
    """The 7-segment digits in an upright panel's ink, or None when there are fewer than two."""
    ink = _without_lines(ink)
    band = _feet_band(ink)
    if band is None:
        return None
    shear = _slant(ink, band)
    straight = sheared(ink, shear, (band[0] + band[1]) / 2)
    spans, width = _spans(straight, band)
    spans = [span for span in spans if not _frame_edge(straight, span, band, width)]
    h = band[1] - band[0] + 1
    thick = max(1, round(STROKE * h), round(SOLID_STROKE * _stroke_width(straight, band)))
    read = [_read_box(straight, span, width, band, thick) for span in spans]
    boxes = [box for box, _ in read]
    coverage = np.array([cov for _, cov in read]).reshape(-1, PATTERNS.shape[1])
    probs = np.array([_digit_probs(misfits(cov)) for cov in coverage]).reshape(-1, NO_DIGIT + 1)
    digit = (probs.argmax(axis=1) != NO_DIGIT).tolist()
    plausible = _plausible(boxes, spans, width, digit)
    probs[~np.array(plausible, dtype=bool)] = np.eye(NO_DIGIT + 1)[NO_DIGIT]
    # what cannot be a digit keeps its own columns, not a "1"'s width reaching into the digit
    # before it: a decimal cut by the photo's edge still stands after the point
    boxes = [box if ok else span for box, span, ok in zip(boxes, spans, plausible, strict=True)]
    blob = _blob_point(straight, boxes, spans, band, width)
    gap = _gap_point(straight, boxes, band)
    probs, keep, point = _trimmed(probs, gap if blob is None else blob)
    if keep.stop - keep.start < 2:
        return None
    confirmed = blob is not None and blob == gap
    return Digits(boxes[keep], probs[keep], band, shear, point, confirmed, coverage[keep])
