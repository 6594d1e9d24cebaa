"""Pointer dials beside a drum counter: the small round dials with a pointer that water meters
show beside or under their drums (litres and tenths of litres), and gas and electricity drum
meters do not.

Looked for around the counter only, in the counter's own measure: the photo cut around the
counter and scaled so that its digits are `DIGIT_PX` high, circles of `RADIUS` digit heights
found by OpenCV's Hough transform, each kept only where it holds a pointer: along one direction
from its centre the dial is much darker or redder than around it, and not along the opposite
direction (a screw's slot crosses the whole head). The small dials of many water meters show
no rim the transform finds, only a red hub with a red pointer: a filled red disc with one
narrower red arm reaching out of it counts as a dial too. Where no dial is found, the flow
indicator's star wheel that turns under many water meters' glass counts instead: a dark star
whose arms, five to sixteen of them alike and evenly spaced, stand out of a round hub. What
does not look like a dial is not counted; nothing is concluded from a dial not found (glare, a
dial cut off by the photo's edge).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import cv2
import numpy as np

DIGIT_PX = 24.0  # the counter's digit height after scaling
RADIUS = (0.5, 2.6)  # a dial's radius in digit heights
REACH = 7.0  # digit heights around the counter box where dials are looked for
ANGLES = 72  # rays sampled around a circle's centre
RAY = (0.15, 0.65)  # where along a ray (radii) the pointer is sampled: inside the scale's marks
HUB_RAY = (1.2, 1.9)  # where a pointer is sampled beyond a hub (its radii)
# a pointer: its rays at least this much darker (grey levels) or redder than the dial's median
# ray, at least `POINTER_CONTRAST` times the rays' own spread, and at most `POINTER_SPAN` of the
# circle wide; the opposite rays at most half as dark or red
POINTER_STEP = 40.0
POINTER_CONTRAST = 4.0
POINTER_SPAN = 0.15
# a rim: on at least `RIM_SUPPORT` of the rays, inside and outside differ by `RIM_STEP` grey levels
RIM_STEP = 12.0
RIM_SUPPORT = 0.8
# a red hub: pixels at least `RED_HUB_STEP` grey levels and `RED_HUB_SHARE` of their red redder
# than green and blue, in a filled disc of `HUB_RADIUS` digit heights, with one arm reaching
# out (sampled at `HUB_REACH` of its radius) over at most `HUB_ARM_SPAN` of the circle
RED_HUB_STEP = 50
RED_HUB_SHARE = 0.2
HUB_RADIUS = (0.13, 1.0)
HUB_REACH = (1.3, 2.1)
HUB_ARM_SPAN = 0.3
HUB_ARM_DEPTH = 0.85  # the arm's half width at most this share of the hub's radius
# a star wheel: a dark patch (`STAR_STEP` grey levels below the mean of `STAR_BLOCK` digit
# heights around it, not red) reaching `STAR_RADIUS` digit heights from the centre of its widest
# disc, that disc at least `STAR_HUB` digit heights and at most `STAR_HUB_SHARE` of the reach;
# rings between the hub and the arms' ends (`STAR_RINGS`) cross `STAR_ARMS` arms, covering
# `STAR_COVER` of the ring, arms and gaps each alike within `STAR_EVEN` (their spread over
# their mean), the same count on two neighbouring rings
STAR_STEP = 25
STAR_BLOCK = 4.0
STAR_RADIUS = (0.4, 2.2)
STAR_HUB = (0.08, 0.9)
STAR_HUB_SHARE = 0.75
STAR_RINGS = (0.45, 0.85)  # of the reach, from at least 1.15 hub radii
STAR_ARMS = (5, 16)
STAR_COVER = (0.2, 0.8)
STAR_EVEN = 0.45
STAR_ANGLES = 96  # points on a ring

Quad = Sequence[tuple[float, float]]


def pointer_dials(image: np.ndarray, counter: Quad, digit_height: float) -> int:
    """How many pointer dials the photo (BGR) shows around the counter box `counter` (four
    corners, in the photo's pixels) whose digits are `digit_height` pixels high."""
    if digit_height <= 0 or len(counter) != 4:
        return 0
    cut = _around(image, counter, digit_height)
    if cut is None:
        return 0
    return dials_in(*cut)


def dials_in(patch: np.ndarray, box: np.ndarray) -> int:
    """How many pointer dials `patch` (BGR, digits `DIGIT_PX` high) shows around the counter's
    box `box` in it."""
    gray = cv2.medianBlur(cv2.cvtColor(patch, cv2.COLOR_BGR2GRAY), 3)
    low, high = (round(r * DIGIT_PX) for r in RADIUS)
    circles = cv2.HoughCircles(
        gray, cv2.HOUGH_GRADIENT_ALT, dp=1.5, minDist=2 * low, param1=200, param2=0.6,
        minRadius=low, maxRadius=high,
    )  # fmt: skip
    found: list[tuple[float, float, float]] = []
    for x, y, r in circles[0] if circles is not None else ():
        if _inside(box, (float(x), float(y)), r * 0.5) or any(
            math.hypot(x - fx, y - fy) < fr + r for fx, fy, fr in found
        ):
            continue
        centre = (float(x), float(y))
        if _dial(patch, gray, centre, float(r)) or _hub(patch, gray, centre, float(r)):
            found.append((float(x), float(y), float(r)))
    colour = patch.astype(np.int16)
    red = colour[..., 2] - np.maximum(colour[..., 0], colour[..., 1])
    for x, y, r in _red_hubs(colour, red, box):
        if not any(math.hypot(x - fx, y - fy) < fr + r for fx, fy, fr in found):
            found.append((x, y, r))
    # a star wheel only where no dial is found: it marks a water meter as well, and the search
    # costs about as much as a fifth of the dials' own
    return len(found) or len(_star_wheels(gray, red, box))


def _red_hubs(
    colour: np.ndarray, red: np.ndarray, box: np.ndarray
) -> list[tuple[float, float, float]]:
    """Red hubs with a red pointer: a filled red disc with one narrower red arm reaching out
    (`colour`: the patch as int16 BGR, `red`: how much redder than green and blue)."""
    mask = ((red > RED_HUB_STEP) & (red > RED_HUB_SHARE * colour[..., 2])).astype(np.uint8)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    depth = cv2.distanceTransform(mask, cv2.DIST_L2, 3)
    low, high = (r * DIGIT_PX for r in HUB_RADIUS)
    hubs = []
    for label in range(1, count):
        x, y, w, h, area = stats[label]
        if area < math.pi * low * low or max(w, h) > 2 * (1 + HUB_REACH[1]) * high:
            continue
        own = labels[y : y + h, x : x + w] == label
        inner = np.where(own, depth[y : y + h, x : x + w], 0)
        cy, cx = np.unravel_index(int(np.argmax(inner)), inner.shape)
        r = float(inner[cy, cx])
        centre = (float(x + cx), float(y + cy))
        if not low <= r <= high or _inside(box, centre, r):
            continue
        if _one_arm(own.astype(np.float32) * inner, (float(cx), float(cy)), r):
            hubs.append((*centre, r))
    return hubs


def _star_wheels(
    gray: np.ndarray, red: np.ndarray, box: np.ndarray
) -> list[tuple[float, float, float]]:
    """Dark star wheels: a round hub with like arms evenly spaced all round it."""
    block = int(STAR_BLOCK * DIGIT_PX) | 1
    mask = cv2.adaptiveThreshold(
        gray, 1, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY_INV, block, STAR_STEP
    )
    mask[red > RED_HUB_STEP] = 0
    _, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=4)
    low, high = (r * DIGIT_PX for r in STAR_RADIUS)
    hub_low, hub_high = (r * DIGIT_PX for r in STAR_HUB)
    width, height, area = stats[:, 2], stats[:, 3], stats[:, 4]
    long, short = np.maximum(width, height), np.minimum(width, height)
    fits = (long >= 2 * low) & (long <= 2.6 * high) & (short >= 0.5 * long)
    fits &= area >= math.pi * hub_low * hub_low
    fits[0] = False  # the background
    wheels = []
    for label in np.flatnonzero(fits):
        x, y, w, h, _ = stats[label]
        own = (labels[y : y + h, x : x + w] == label).astype(np.uint8)
        framed = cv2.copyMakeBorder(own, 1, 1, 1, 1, cv2.BORDER_CONSTANT, value=0)
        depth = cv2.distanceTransform(framed, cv2.DIST_L2, 3)
        cy, cx = np.unravel_index(int(np.argmax(depth)), depth.shape)
        hub = float(depth[cy, cx])
        cy, cx = cy - 1, cx - 1
        if not hub_low <= hub <= hub_high:
            continue
        ys, xs = np.nonzero(own)
        squares = (xs - cx) ** 2 + (ys - cy) ** 2
        nearly_all = int(0.95 * (len(squares) - 1))
        reach = math.sqrt(float(np.partition(squares, nearly_all)[nearly_all]))
        centre = (float(x + cx), float(y + cy))
        if not low <= reach <= high or hub > STAR_HUB_SHARE * reach or _inside(box, centre, 0):
            continue
        if _star(own, (float(cx), float(cy)), hub, reach):
            wheels.append((*centre, reach))
    return wheels


def _star(own: np.ndarray, centre: tuple[float, float], hub: float, reach: float) -> bool:
    """Whether the shape `own` is a filled hub of radius `hub` at `centre` with arms to
    `reach`: two neighbouring rings across the arms cross as many like, evenly spaced ones."""
    inner = max(1.15 * hub, STAR_RINGS[0] * reach)
    radii = np.r_[0.6 * hub, np.linspace(inner, STAR_RINGS[1] * reach, 4)]
    rings = _polar(own, centre, radii, cv2.BORDER_CONSTANT, STAR_ANGLES, cv2.INTER_NEAREST) > 0
    if rings[:, 0].mean() < 0.9:  # the hub filled
        return False
    counts = [_arms(rings[:, k]) for k in range(1, len(radii))]
    return any(a and a == b for a, b in itertools.pairwise(counts))


def _arms(ring: np.ndarray) -> int:
    """How many arms a ring (on or off, round the circle) crosses; 0 unless there are
    `STAR_ARMS`, alike and evenly spaced, covering `STAR_COVER` of it."""
    change = np.flatnonzero(ring != np.r_[ring[-1], ring[:-1]])
    arms = len(change) // 2
    if not STAR_ARMS[0] <= arms <= STAR_ARMS[1]:
        return 0
    if not STAR_COVER[0] <= ring.mean() <= STAR_COVER[1]:
        return 0
    runs = np.diff(np.r_[change, change[0] + len(ring)])
    on, off = (runs[0::2], runs[1::2]) if ring[change[0]] else (runs[1::2], runs[0::2])
    if on.std() > STAR_EVEN * on.mean() or off.std() > STAR_EVEN * off.mean():
        return 0
    return arms


def _one_arm(depth: np.ndarray, centre: tuple[float, float], r: float) -> bool:
    """Whether beyond the disc of radius `r` the shape (`depth`: each of its pixels' distance
    from its edge) reaches out in one arm only, narrower than the disc (not a stroke's end)."""
    reach = _polar(depth, centre, r * np.linspace(*HUB_REACH, 4), cv2.BORDER_CONSTANT)
    rings = reach > 0.5
    on = rings.mean(axis=0)
    if on.max() > HUB_ARM_SPAN or not rings[:, -1].any() or reach.max() > HUB_ARM_DEPTH * r:
        return False
    angles = np.linspace(0, 2 * math.pi, ANGLES, endpoint=False)
    heading = np.exp(1j * angles)[:, None] * rings
    return bool(abs(heading.sum()) >= 0.8 * rings.sum())  # its rays point one way


def _around(
    image: np.ndarray, counter: Quad, digit_height: float
) -> tuple[np.ndarray, np.ndarray] | None:
    """The photo around the counter scaled to `DIGIT_PX` digits, and the counter's box in it."""
    quad = np.asarray(counter, np.float32)
    reach = REACH * digit_height
    x0, y0 = np.floor(quad.min(axis=0) - reach).astype(int)
    x1, y1 = np.ceil(quad.max(axis=0) + reach).astype(int)
    h, w = image.shape[:2]
    x0, y0, x1, y1 = max(0, x0), max(0, y0), min(w, x1), min(h, y1)
    if x1 - x0 < 8 or y1 - y0 < 8:
        return None
    k = DIGIT_PX / digit_height
    patch = cv2.resize(image[y0:y1, x0:x1], None, fx=k, fy=k, interpolation=cv2.INTER_AREA)
    return patch, ((quad - (x0, y0)) * k).astype(np.float32)


def _inside(box: np.ndarray, point: tuple[float, float], margin: float) -> bool:
    return cv2.pointPolygonTest(box.reshape(-1, 1, 2), point, True) > -margin


def _polar(
    image: np.ndarray,
    centre: tuple[float, float],
    radii: np.ndarray,
    border: int = cv2.BORDER_REPLICATE,
    angles: int = ANGLES,
    interpolation: int = cv2.INTER_LINEAR,
) -> np.ndarray:
    """`image` sampled on `angles` rays from `centre` (rows) at `radii` (columns)."""
    turn = np.linspace(0, 2 * math.pi, angles, endpoint=False)
    xs = (centre[0] + np.outer(np.sin(turn), radii)).astype(np.float32)
    ys = (centre[1] - np.outer(np.cos(turn), radii)).astype(np.float32)
    return cv2.remap(image, xs, ys, interpolation, borderMode=border)


def _rim(gray: np.ndarray, centre: tuple[float, float], r: float) -> bool:
    """Whether a closed round edge runs at radius `r`: on nearly every ray the grey level
    steps across it, or a line runs along it, the same way round (a dial's face inside its rim,
    not a letter's bow)."""
    rays = _polar(gray, centre, r * np.array([0.8, 0.9, 1.0, 1.1, 1.2])).astype(np.float32)
    inside, ring, outside = rays[:, :2].mean(axis=1), rays[:, 2], rays[:, 3:].mean(axis=1)
    return _round(inside - outside) or _round(ring - (inside + outside) / 2)


def _round(step: np.ndarray) -> bool:
    sign = 1.0 if np.median(step) >= 0 else -1.0
    return bool(np.mean(sign * step > RIM_STEP) >= RIM_SUPPORT)


def _dial(patch: np.ndarray, gray: np.ndarray, centre: tuple[float, float], r: float) -> bool:
    """A dial's face: a round rim with a pointer inside it."""
    return _rim(gray, centre, r) and _pointer(patch, gray, centre, r * np.linspace(*RAY, 6))


def _hub(patch: np.ndarray, gray: np.ndarray, centre: tuple[float, float], r: float) -> bool:
    """A dial's hub: a filled disc (its inside unlike what surrounds it all round, not a
    letter's bow) with a pointer reaching out of it."""
    rays = _polar(gray, centre, r * np.array([0.2, 0.45, 0.7, 1.2, 1.35])).astype(np.float32)
    if not _round(rays[:, :3].mean(axis=1) - rays[:, 3:].mean(axis=1)):
        return False
    return _pointer(patch, gray, centre, r * np.linspace(*HUB_RAY, 6))


def _pointer(
    patch: np.ndarray, gray: np.ndarray, centre: tuple[float, float], radii: np.ndarray
) -> bool:
    """Whether one direction from the centre is a pointer at `radii`: far darker or redder
    than the rest."""
    grey = _polar(gray, centre, radii)
    colour = _polar(patch, centre, radii).astype(np.float32)
    red = colour[..., 2] - colour[..., :2].max(axis=2)
    darkness = -grey.astype(np.float32).mean(axis=1)
    return _one_ray_stands_out(darkness) or _one_ray_stands_out(red.mean(axis=1))


def _one_ray_stands_out(values: np.ndarray) -> bool:
    """Whether a narrow span of rays lies far above the others, and its opposite does not."""
    smooth = (values + np.roll(values, 1) + np.roll(values, -1)) / 3
    median = float(np.median(smooth))
    spread = 1.4826 * float(np.median(np.abs(smooth - median))) + 2.0
    peak = int(np.argmax(smooth))
    step = float(smooth[peak]) - median
    if step < POINTER_STEP or step < POINTER_CONTRAST * spread:
        return False
    if np.count_nonzero(smooth > median + step / 2) > POINTER_SPAN * len(values):
        return False
    opposite = float(smooth[(peak + len(values) // 2) % len(values)]) - median
    return opposite < step / 2
