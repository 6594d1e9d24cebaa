"""Find rows of digit-like blobs at any rotation: the counter window of a drum or LCD meter.

Method: threshold the photo locally in both polarities (white digits on black drums, black digits on
white drums or LCD), keep connected components shaped like a digit, measure each one's size and axis
from its moments, link neighbours that are alike and lie side by side across their axis, and return
the linked groups ("rows") that fit a straight line, best first, with the pieces of a counter's row
that a lost drum broke apart joined. Nothing here is tuned per photo.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from functools import cached_property
from itertools import pairwise

import cv2
import numpy as np

WORK_SIDE = 1200  # photos are analysed at this long side
LINK_MAX_DIST = 2.2  # neighbours at most this many digit heights apart
LINK_MAX_RATIO = 1.6  # and at most this different in height
LINK_MAX_ANGLE = 14.0  # degrees off the line across their axis
THRESH_C = 8  # local threshold offset (gray levels)
BLOCKS = (25, 61)  # local threshold block sizes (px at WORK_SIDE)
SAME_POLARITY = True
# A counter shows at most 8 drums (5-7 integer and 1-3 decimal ones).
MOST_DRUMS = 8
# Drums sit further apart than the digits they show are tall; printed digits, even in a wide
# face, advance less than 0.9 of their height (about 0.87 in DejaVu Sans, 0.6-0.75 in the
# condensed faces of meter plates).
DRUM_SPACING = 0.9
PAIR_RATIO = 1.25  # two drums' digits are alike in height
JOIN_ANGLE = 5.0  # degrees between the directions of two pieces of one row
MISSED_DRUMS = 2  # drums lost between two pieces of one row
DRUM_SPACED_BONUS = 2  # digits' worth of precedence for drum spacing
COARSE = 0.4  # scale of the second pass for large / segmented digits
# a pass on strokes at full size, both polarities: dark digits on grey drums inside a white dial,
# where the local mean puts the whole drum band below the threshold and the digits merge with it;
# small light digits on grey drums between light frames, which the local thresholds fill solid
FINE_KERNEL, FINE_WINDOW, FINE_FLOOR = 9, 25, 10
CLOSE_KERNELS = (  # gaps closed in that pass (7-segment digits)
    np.ones((7, 3), np.uint8),
    cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5)),
)


@dataclass(frozen=True)
class Blob:
    cx: float
    cy: float
    length: float  # extent along the digit's own vertical axis
    width: float
    theta: float  # angle of the digit's vertical axis, radians, in [0, pi)
    polarity: int  # 1 = bright on dark, 0 = dark on bright


@dataclass(frozen=True)
class Row:
    """Digits along a line: centre positions (image px), direction, digit height, polarity."""

    blobs: tuple[Blob, ...]
    origin: tuple[float, float]  # point on the line
    direction: tuple[float, float]  # unit vector, reading direction (left to right as found)
    height: float
    pitch: float
    residual: float
    lcd: bool = False  # found as a display panel (no red drums there)
    # positions along the row (as `positions`) of drums whose digit was lost between the pieces
    # the row was joined from (see `_joined`): something in front of it, or a torn digit
    lost: tuple[float, ...] = ()

    @property
    def positions(self) -> list[float]:
        ox, oy = self.origin
        ux, uy = self.direction
        return [(b.cx - ox) * ux + (b.cy - oy) * uy for b in self.blobs]

    @cached_property  # the ranker asks for it once per candidate read of the row
    def centre(self) -> tuple[float, float]:
        """The mean of its blobs' centres (image px)."""
        xs, ys = [b.cx for b in self.blobs], [b.cy for b in self.blobs]
        return float(np.mean(xs)), float(np.mean(ys))


def same_place(a: Row, b: Row) -> bool:
    """Two rows through the same digits (found twice, or cut differently)."""
    (x1, y1), (x2, y2) = a.origin, b.origin
    return bool(np.hypot(x1 - x2, y1 - y2) <= 0.8 * max(a.height, b.height))


def _blobs(binary: np.ndarray, polarity: int, min_h: float, max_h: float) -> list[Blob]:
    """Digit-shaped components: axis from their moments, extent along and across that axis.

    All components are measured at once from their pixels grouped by label (one
    `cv2.moments` call per component cost more on photos with many components).
    """
    labels, stats = _components(binary)
    ws, hs, area = stats[:, 2], stats[:, 3], stats[:, 4]
    big, small = np.maximum(ws, hs), np.minimum(ws, hs)
    solid = (area > 0.8 * ws * hs) & (small > 0.6 * big)  # solid squares: not a digit
    keep = (big >= min_h) & (big <= max_h * 1.2) & (area >= min_h * min_h * 0.08) & ~solid
    keep[0] = False  # background
    if not keep.any():
        return []
    ids = np.flatnonzero(keep)
    x, y, counts = _pixels(labels, stats, ids)
    groups = _Groups(np.cumsum(counts) - counts, counts)
    theta, spread_long, spread_short = _axes(x, y, groups)
    cx, cy, extent_long, extent_short = _extents(x, y, theta, groups)
    # hollow 7-segment digits: the extent is right; digits touching a frame: the moments are
    length = np.minimum(extent_long, spread_long)
    width = np.minimum(extent_short, spread_short)
    ok = (min_h <= length) & (length <= max_h) & (length >= 1.15 * width) & (length <= 6 * width)
    cx, cy = cx + stats[ids, 0], cy + stats[ids, 1]
    fields = (a[ok].tolist() for a in (cx, cy, length, width, theta))
    return [
        Blob(x, y, along, across, angle, polarity)
        for x, y, along, across, angle in zip(*fields, strict=True)
    ]


def _pixels(
    labels: np.ndarray, stats: np.ndarray, ids: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The pixels of the components `ids` (ascending), component after component and row by
    row within one: x and y inside the component's box, and each component's pixel count.
    Each component is looked for in its own box only (gathering the kept labels over the
    whole image and sorting its pixels by label took several times longer)."""
    xs, ys = [], []
    for i, (x0, y0, w, h) in zip(ids.tolist(), stats[ids, :4].tolist(), strict=True):
        row, col = np.nonzero(labels[y0 : y0 + h, x0 : x0 + w] == i)
        xs.append(col)
        ys.append(row)
    counts = np.array([len(c) for c in xs])
    return np.concatenate(xs).astype(np.float64), np.concatenate(ys).astype(np.float64), counts


def _components(binary: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Labels and stats of the 8-connected components. OpenCV gives 16-bit labels in about 40 %
    of the time 32-bit ones take, but refuses them beyond 65,535 components (a noise image)."""
    try:
        _, labels, stats, _ = cv2.connectedComponentsWithStats(
            binary, connectivity=8, ltype=cv2.CV_16U
        )
    except cv2.error:
        _, labels, stats, _ = cv2.connectedComponentsWithStats(binary, connectivity=8)
    return labels, stats


@dataclass(frozen=True)
class _Groups:
    """Consecutive runs of pixels of one component each: where they start, how many."""

    starts: np.ndarray
    counts: np.ndarray

    def mean(self, values: np.ndarray) -> np.ndarray:
        return np.asarray(np.add.reduceat(values, self.starts) / self.counts)

    def spread(self, values: np.ndarray) -> np.ndarray:
        """Per pixel: its group's value (the inverse of a reduction)."""
        return np.repeat(values, self.counts)


def _axes(x: np.ndarray, y: np.ndarray, g: _Groups) -> tuple[np.ndarray, ...]:
    """Per component: the angle of its long axis in [0, pi), and its length and width as the
    moments give them (4 standard deviations)."""
    dx, dy = x - g.spread(g.mean(x)), y - g.spread(g.mean(y))
    mu20, mu02, mu11 = g.mean(dx * dx), g.mean(dy * dy), g.mean(dx * dy)
    theta = 0.5 * np.arctan2(2 * mu11, mu20 - mu02) % np.pi
    common = np.sqrt(np.maximum(0.0, ((mu20 - mu02) / 2) ** 2 + mu11 * mu11))
    spread_long = 4 * np.sqrt((mu20 + mu02) / 2 + common)
    spread_short = 4 * np.sqrt(np.maximum(1e-6, (mu20 + mu02) / 2 - common))
    return theta, spread_long, spread_short


def _extents(x: np.ndarray, y: np.ndarray, theta: np.ndarray, g: _Groups) -> tuple[np.ndarray, ...]:
    """Per component: the centre of its box along and across `theta`, and that box's size."""
    c, s = np.cos(theta), np.sin(theta)
    pc, ps = g.spread(c), g.spread(s)
    along, across = x * pc + y * ps, -x * ps + y * pc
    a0, a1 = np.minimum.reduceat(along, g.starts), np.maximum.reduceat(along, g.starts)
    b0, b1 = np.minimum.reduceat(across, g.starts), np.maximum.reduceat(across, g.starts)
    am, bm = (a0 + a1) / 2, (b0 + b1) / 2
    return am * c - bm * s, am * s + bm * c, a1 - a0 + 1, b1 - b0 + 1


def _scaled(blob: Blob, factor: float) -> Blob:
    return Blob(
        blob.cx * factor,
        blob.cy * factor,
        blob.length * factor,
        blob.width * factor,
        blob.theta,
        blob.polarity,
    )


_TWO_FIFTHS = (np.arange(256) * 2 // 5).astype(np.uint8)


def _strokes(
    image: np.ndarray, polarity: int, kernel: int = 15, window: int = 41, floor: int = 6
) -> np.ndarray:
    """Strokes (dark or bright) narrower than `kernel` against their surroundings, thresholded
    by the local contrast (the strongest stroke within `window`)."""
    shape = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (kernel, kernel))
    op = cv2.MORPH_TOPHAT if polarity else cv2.MORPH_BLACKHAT
    hat = cv2.morphologyEx(image, op, shape)
    local = cv2.blur(cv2.dilate(hat, np.ones((window, window), np.uint8)), (window, window))
    # hat > 0.4 * local in integers (hat > floor(2 * local / 5)): the same pixels, without
    # two image-sized float arrays
    strong = cv2.compare(hat, cv2.LUT(local, _TWO_FIFTHS), cv2.CMP_GT)
    return cv2.bitwise_and(strong, cv2.threshold(hat, floor, 255, cv2.THRESH_BINARY)[1])


def local_thresholds(
    gray: np.ndarray, blocks: tuple[int, ...]
) -> dict[tuple[int, int], np.ndarray]:
    """Per polarity and block size, the pixels more than THRESH_C brighter than their block's
    mean (polarity 1) or at least THRESH_C darker (0): to the pixel `cv2.adaptiveThreshold` with
    ADAPTIVE_THRESH_MEAN_C and THRESH_BINARY, -THRESH_C (THRESH_BINARY_INV, THRESH_C), with each
    block's mean taken once for both polarities."""
    out = {}
    for block in blocks:
        mean = cv2.boxFilter(
            gray, -1, (block, block), borderType=cv2.BORDER_REPLICATE | cv2.BORDER_ISOLATED
        )
        above = cv2.subtract(gray, mean, dtype=cv2.CV_16S)
        # OpenCV takes a scalar for the second operand; its stubs want an array
        out[1, block] = cv2.compare(above, THRESH_C, cv2.CMP_GT)  # type: ignore[call-overload]
        out[0, block] = cv2.compare(above, -THRESH_C, cv2.CMP_LE)  # type: ignore[call-overload]
    return out


def find_blobs(gray: np.ndarray) -> list[Blob]:
    """Digit-like components of both polarities in a gray image (already at working size).

    A second pass at 40 % scale on stroke contrast, with small gaps closed, finds large digits
    and 7-segment digits whose segments do not touch, also on a darker display panel. A third,
    at full size on thin strokes, finds thin dark digits on shaded grey drums and small light
    digits on grey drums in light frames (see FINE_KERNEL).
    """
    side = max(gray.shape)
    min_h, max_h = side * 0.012, side * 0.2  # digit heights looked for at full size
    small = cv2.resize(gray, None, fx=COARSE, fy=COARSE, interpolation=cv2.INTER_AREA)
    thresholded = local_thresholds(gray, BLOCKS)
    blobs: list[Blob] = []
    for polarity in (1, 0):
        for block in BLOCKS:
            blobs += _blobs(thresholded[polarity, block], polarity, min_h, max_h)
        strokes = _strokes(small, polarity)
        for kernel in CLOSE_KERNELS:
            closed = cv2.morphologyEx(strokes, cv2.MORPH_CLOSE, kernel)
            found = _blobs(closed, polarity, side * COARSE * 0.05, side * COARSE * 0.4)
            blobs += [_scaled(b, 1 / COARSE) for b in found]
    fine = _strokes(gray, 0, FINE_KERNEL, FINE_WINDOW, FINE_FLOOR)
    blobs += _blobs(fine, 0, min_h, max_h)
    fine = _strokes(gray, 1, FINE_KERNEL, FINE_WINDOW, FINE_FLOOR)
    blobs += [b for b in _blobs(fine, 1, min_h, max_h) if _on_dark(gray, b)]
    return _dedupe(blobs)


def _on_dark(gray: np.ndarray, blob: Blob) -> bool:
    """Is the square of three lengths around a light blob mostly dark (below the middle of its
    range): a light digit on a dark drum, not a gap or a hole in dark print on a light face?
    The range is from the 5th to the 95th percentile (as numpy's default, linear), taken from the
    patch's histogram: np.percentile's per-call overhead cost more than the rest of the pass."""
    r = int(1.5 * blob.length)
    x, y = int(blob.cx), int(blob.cy)
    patch = gray[max(0, y - r) : y + r + 1, max(0, x - r) : x + r + 1]
    counts = np.bincount(patch.ravel(), minlength=256)
    below = np.cumsum(counts)  # below[v]: pixels at v or darker
    n = int(below[-1])
    lo, hi = (_percentile(below, n, q) for q in (5, 95))
    mean = int(counts @ np.arange(256)) / n  # the exact sum, as numpy's mean of uint8
    return mean < (lo + hi) / 2


def _percentile(below: np.ndarray, n: int, q: int) -> float:
    """The q-th percentile of n values given as a cumulative histogram, computed as numpy's
    default (linear) method does, to the same float."""
    at = (n - 1) * (q / 100)
    low = math.floor(at)
    high = min(low + 1, n - 1)
    a, b = (int(np.searchsorted(below, k, side="right")) for k in (low, high))
    t = at - low
    return b - (b - a) * (1 - t) if t >= 0.5 else a + (b - a) * t


def _dedupe(blobs: list[Blob]) -> list[Blob]:
    """One blob per digit and polarity: the passes find the same digit several times."""
    if not blobs:
        return []
    order = sorted(blobs, key=lambda b: -b.length)
    cx, cy, ln = np.array([(b.cx, b.cy, b.length) for b in order]).reshape(-1, 3).T
    pol = np.array([b.polarity for b in order])
    i, j = _near_pairs(cx, 0.3 * ln)  # i < j: blob i is the longer one
    dist = np.hypot(cx[i] - cx[j], cy[i] - cy[j])
    covers = (pol[i] == pol[j]) & (ln[i] < 1.3 * ln[j]) & (dist < 0.3 * ln[i])
    covering: list[list[int]] = [[] for _ in order]
    for a, b in zip(i[covers].tolist(), j[covers].tolist(), strict=True):
        covering[b].append(a)
    keep = [True] * len(order)
    for b, by in enumerate(covering):
        keep[b] = not any(keep[a] for a in by)
    return [blob for blob, k in zip(order, keep, strict=True) if k]


def _near_pairs(x: np.ndarray, reach: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """All index pairs (i, j), i < j, with |x[i] - x[j]| < reach[i]: candidates for covering."""
    by_x = np.argsort(x, kind="stable")
    xs = x[by_x]
    lo = np.searchsorted(xs, x - reach, side="left")
    hi = np.searchsorted(xs, x + reach, side="right")
    counts = hi - lo
    i = np.repeat(np.arange(len(x)), counts)
    offsets = np.repeat(lo - np.cumsum(counts) + counts, counts)  # k-th pair of i -> lo[i] + k
    j = by_x[np.arange(len(i)) + offsets]
    keep = j > i
    return i[keep], j[keep]


def _axis_gap(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Smallest difference between two axis angles (mod pi)."""
    d = np.abs(a - b) % math.pi
    return np.minimum(d, math.pi - d)


def _links(blobs: list[Blob]) -> list[tuple[int, int]]:
    """Pairs of blobs that could be neighbouring digits of one row."""
    cx, cy, ln, wd, th, pol = (
        np.array(
            [(b.cx, b.cy, b.length, b.width, b.theta, b.polarity) for b in blobs], dtype=np.float64
        )
        .reshape(-1, 6)
        .T
    )
    ii, jj = _near(cx, cy, ln)  # the rest only for the few pairs that are near
    ratio = np.maximum(ln[ii], ln[jj]) / np.minimum(ln[ii], ln[jj])
    # the axis of a roundish blob (0, 3, 8) is unreliable: allow more angle there
    tol = np.where(ln / wd > 1.6, 1.0, 2.5)
    pair_tol = np.maximum(tol[ii], tol[jj])
    link_angle = np.arctan2(cy[jj] - cy[ii], cx[jj] - cx[ii]) % math.pi
    across = _axis_gap(link_angle, (th[ii] + math.pi / 2) % math.pi)
    ok = (
        (ratio < LINK_MAX_RATIO)
        & (_axis_gap(th[ii], th[jj]) < math.radians(18) * pair_tol)
        & (across < math.radians(LINK_MAX_ANGLE) * pair_tol)
        & ((pol[ii] == pol[jj]) | (not SAME_POLARITY))
    )
    return list(zip(ii[ok].tolist(), jj[ok].tolist(), strict=True))


def _near(cx: np.ndarray, cy: np.ndarray, ln: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pairs (i < j, in row-major order) between 0.35 and LINK_MAX_DIST of their mean length
    apart. Windows along x from the longer blob of a pair, which reaches at least that far."""
    longest_first = np.argsort(-ln, kind="stable")
    i, j = _near_pairs(cx[longest_first], LINK_MAX_DIST * ln[longest_first])
    i, j = longest_first[i], longest_first[j]
    dist = np.hypot(cx[i] - cx[j], cy[i] - cy[j])
    mean_len = (ln[i] + ln[j]) / 2
    near = (dist > 0.35 * mean_len) & (dist < LINK_MAX_DIST * mean_len)
    a, b = np.minimum(i[near], j[near]), np.maximum(i[near], j[near])
    order = np.lexsort((b, a))
    return a[order], b[order]


def _groups(n: int, links: list[tuple[int, int]]) -> list[list[int]]:
    parent = list(range(n))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, j in links:
        parent[root(i)] = root(j)
    groups: dict[int, list[int]] = {}
    for i in range(n):
        groups.setdefault(root(i), []).append(i)
    return [g for g in groups.values() if len(g) >= 2]


def _straight(blobs: list[Blob], group: list[int], links: list[tuple[int, int]]) -> list[list[int]]:
    """Split a linked group into straight lines: best-supported line first, then the rest."""
    centres = np.array([(blobs[i].cx, blobs[i].cy) for i in group])
    lengths = np.array([blobs[i].length for i in group])
    index = {b: k for k, b in enumerate(group)}
    pairs = [(index[i], index[j]) for i, j in links if i in index and j in index]
    free = np.ones(len(group), bool)
    lines = []
    while free.sum() >= 3:
        best: np.ndarray | None = None
        for a, b in pairs:
            if not (free[a] and free[b]):
                continue
            d = centres[b] - centres[a]
            normal = np.array([-d[1], d[0]]) / (np.hypot(*d) + 1e-9)
            h = (lengths[a] + lengths[b]) / 2
            off = np.abs((centres - centres[a]) @ normal)
            ok = free & (off < 0.3 * h) & (lengths < 1.6 * h) & (lengths > h / 1.6)
            if best is None or ok.sum() > best.sum():
                best = ok
        if best is None or best.sum() < 3:
            break
        lines.append([group[k] for k in np.nonzero(best)[0]])
        free &= ~best
    return lines


def _row(blobs: list[Blob]) -> Row | None:
    pts = np.array([(b.cx, b.cy) for b in blobs], np.float64)
    centre = pts.mean(axis=0)
    _, _, vt = np.linalg.svd(pts - centre)
    ux, uy = vt[0]
    if ux < 0 or (abs(ux) < 1e-9 and uy < 0):
        ux, uy = -ux, -uy
    proj = (pts - centre) @ np.array([ux, uy])
    height = float(np.median([b.length for b in blobs]))
    kept: list[int] = []
    for i in np.argsort(proj).tolist():  # one blob per position (digit and its drum window)
        if kept and proj[i] - proj[kept[-1]] < 0.3 * height:
            if abs(blobs[i].length - height) < abs(blobs[kept[-1]].length - height):
                kept[-1] = i
            continue
        kept.append(i)
    if len(kept) < 3:
        return None
    normal = (pts[kept] - centre) @ np.array([-uy, ux])
    return Row(
        blobs=tuple(blobs[i] for i in kept),
        origin=(float(centre[0]), float(centre[1])),
        direction=(float(ux), float(uy)),
        height=height,
        pitch=float(np.median(np.diff(proj[kept]))),
        residual=float(np.abs(normal).max() / height),
    )


def _drum_pair(blobs: list[Blob]) -> Row | None:
    """Two linked blobs spaced like neighbouring drums (each on its own drum): what is left of a
    counter's row where marker pen, glare or a torn digit cut the drums around them off."""
    a, b = sorted(blobs, key=lambda blob: (blob.cx, blob.cy))
    dx, dy = b.cx - a.cx, b.cy - a.cy
    pitch = math.hypot(dx, dy)
    height = (a.length + b.length) / 2
    alike = max(a.length, b.length) <= PAIR_RATIO * min(a.length, b.length)
    if pitch < DRUM_SPACING * height or not alike:
        return None
    return Row(
        blobs=(a, b),
        origin=((a.cx + b.cx) / 2, (a.cy + b.cy) / 2),
        direction=(dx / pitch, dy / pitch),
        height=height,
        pitch=pitch,
        residual=0.0,
    )


def _joined(rows: list[Row], pairs: list[Row]) -> list[Row]:
    """Pieces of one counter's row broken apart where a drum's digit was lost (a pen stroke
    across it, glare): drum-spaced pieces, at least one of them a pair, on one line, alike in
    height and pitch, the gap between them a whole number of drums (at most MISSED_DRUMS
    missing), joined into one row of at most MOST_DRUMS drums."""
    pieces = pairs + [r for r in rows if r.pitch >= DRUM_SPACING * r.height]
    out = []
    for i, a in enumerate(pairs):
        for b in pieces[i + 1 :]:
            row = _row([*a.blobs, *b.blobs]) if _continues(a, b) else None
            if row is not None and len(row.blobs) <= MOST_DRUMS:
                out.append(replace(row, lost=_lost(row.positions, (a.pitch + b.pitch) / 2)))
    return out


def _lost(positions: list[float], pitch: float) -> tuple[float, ...]:
    """The drums' positions between found ones more than a drum `pitch` apart."""
    lost: list[float] = []
    for here, there in pairwise(positions):
        steps = round((there - here) / pitch)
        lost += [here + (there - here) * k / steps for k in range(1, steps)]
    return tuple(lost)


def _continues(a: Row, b: Row) -> bool:
    """Could `b` be more drums of `a`'s counter (see `_joined`)?"""
    if a.blobs[0].polarity != b.blobs[0].polarity:
        return False
    if max(a.height, b.height) > PAIR_RATIO * min(a.height, b.height):
        return False
    if max(a.pitch, b.pitch) > PAIR_RATIO * min(a.pitch, b.pitch):
        return False
    (ux, uy), (vx, vy) = a.direction, b.direction
    if abs(ux * vy - uy * vx) > math.sin(math.radians(JOIN_ANGLE)):
        return False
    (ox, oy), h = a.origin, (a.height + b.height) / 2
    along = [(blob.cx - ox) * ux + (blob.cy - oy) * uy for blob in b.blobs]
    off = [abs(-(blob.cx - ox) * uy + (blob.cy - oy) * ux) for blob in b.blobs]
    if max(off) > 0.3 * h:
        return False
    mine = a.positions
    gap = min(along) - max(mine) if min(along) > max(mine) else min(mine) - max(along)
    if gap <= 0:
        return False
    pitch = (a.pitch + b.pitch) / 2
    steps = round(gap / pitch)
    return 2 <= steps <= MISSED_DRUMS + 1 and abs(gap - steps * pitch) < 0.3 * pitch


def find_rows(gray: np.ndarray) -> list[Row]:
    """Rows of at least three digit-like blobs, largest and straightest first, then pieces of a
    counter's row joined across drums whose digit was lost (`_joined`)."""
    blobs = find_blobs(gray)
    links = _links(blobs)
    rows, pairs = [], []
    for group in _groups(len(blobs), links):
        if len(group) == 2:
            pair = _drum_pair([blobs[i] for i in group])
            pairs += [pair] if pair is not None else []
            continue
        for line in _straight(blobs, group, links):
            row = _row([blobs[i] for i in line])
            if row is not None:
                rows.append(row)
    rows.sort(key=lambda r: (-len(r.blobs), r.residual))
    # last: a search reads them among the likeliest counters (`rows_to_read`), not before the
    # rows found whole
    return rows + _joined(rows, pairs)


def rows_to_read(rows: list[Row], count: int, reserved: int) -> list[Row]:
    """The `count` rows a search reads of `find_rows`'s: its first, but the last `reserved` of
    them the likeliest counters among the rest (`drum_likeness`, then the straightest). A
    counter whose row a pen stroke cut to a few drums ranks behind the lines of print by length;
    a display's narrow, close digits look like print, so the first rows stay first."""
    head = rows[: count - reserved]
    rest = sorted(rows[count - reserved :], key=lambda r: (-drum_likeness(r), r.residual))
    return head + rest[:reserved]


def drum_likeness(row: Row) -> float:
    """How much a row looks like a counter before it is read: its digits, counted up to the
    most drums a counter shows (a longer row is a line of print), and DRUM_SPACED_BONUS more
    where they are spaced like drums (each digit on its own drum, with a gap or a frame between
    drums), wider than printed digits ever are."""
    spaced = row.pitch >= DRUM_SPACING * row.height
    return min(len(row.blobs), MOST_DRUMS) + DRUM_SPACED_BONUS * spaced
