"""Find rows of digit-like blobs at any rotation: the counter window of a drum or LCD meter.

Method: threshold the photo locally in both polarities (white digits on black drums, black digits on
white drums or LCD), keep connected components shaped like a digit, measure each one's size and axis
from its moments, link neighbours that are alike and lie side by side across their axis, and return
the linked groups ("rows") that fit a straight line, best first. Nothing here is tuned per photo.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

WORK_SIDE = 1000  # photos are analysed at this long side


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

    @property
    def positions(self) -> list[float]:
        ox, oy = self.origin
        ux, uy = self.direction
        return [(b.cx - ox) * ux + (b.cy - oy) * uy for b in self.blobs]


def _blobs(binary: np.ndarray, polarity: int, min_h: float, max_h: float) -> list[Blob]:
    count, labels, stats, _ = cv2.connectedComponentsWithStats(binary, connectivity=8)
    found = []
    for i in range(1, count):
        x, y, w, h, area = (int(v) for v in stats[i])
        if max(w, h) < min_h or max(w, h) > max_h * 1.2 or area < min_h * min_h * 0.08:
            continue
        if area > 0.8 * w * h and min(w, h) > 0.6 * max(w, h):  # solid squares: not a digit
            continue
        mask = (labels[y : y + h, x : x + w] == i).astype(np.uint8)
        m = cv2.moments(mask, binaryImage=True)
        if m["m00"] == 0:
            continue
        mu20, mu02, mu11 = m["mu20"] / m["m00"], m["mu02"] / m["m00"], m["mu11"] / m["m00"]
        common = math.sqrt(max(0.0, ((mu20 - mu02) / 2) ** 2 + mu11 * mu11))
        lam1 = (mu20 + mu02) / 2 + common
        lam2 = max(1e-6, (mu20 + mu02) / 2 - common)
        length, width = 4 * math.sqrt(lam1), 4 * math.sqrt(lam2)
        if not (min_h <= length <= max_h) or not (1.15 <= length / width <= 6.0):
            continue
        theta = 0.5 * math.atan2(2 * mu11, mu20 - mu02) % math.pi
        found.append(Blob(x + m["m10"] / m["m00"], y + m["m01"] / m["m00"], length, width, theta, polarity))
    return found


def find_blobs(gray: np.ndarray) -> list[Blob]:
    """Digit-like components of both polarities in a gray image (already at working size)."""
    side = max(gray.shape)
    min_h, max_h = side * 0.012, side * 0.2
    blobs: list[Blob] = []
    for block in (25, 61):
        for polarity, mode in ((1, cv2.THRESH_BINARY), (0, cv2.THRESH_BINARY_INV)):
            c = -12 if polarity else 12
            binary = cv2.adaptiveThreshold(gray, 255, cv2.ADAPTIVE_THRESH_MEAN_C, mode, block, c)
            blobs += _blobs(binary, polarity, min_h, max_h)
    return _dedupe(blobs)


def _dedupe(blobs: list[Blob]) -> list[Blob]:
    kept: list[Blob] = []
    for b in sorted(blobs, key=lambda b: -b.length):
        if not any(
            k.polarity == b.polarity and math.hypot(k.cx - b.cx, k.cy - b.cy) < 0.3 * k.length
            for k in kept
        ):
            kept.append(b)
    return kept


def _axis_gap(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Smallest difference between two axis angles (mod pi)."""
    d = np.abs(a - b) % math.pi
    return np.minimum(d, math.pi - d)


def _links(blobs: list[Blob]) -> list[tuple[int, int]]:
    cx = np.array([b.cx for b in blobs])
    cy = np.array([b.cy for b in blobs])
    ln = np.array([b.length for b in blobs])
    th = np.array([b.theta for b in blobs])
    pol = np.array([b.polarity for b in blobs])
    dx, dy = cx[None, :] - cx[:, None], cy[None, :] - cy[:, None]
    dist = np.hypot(dx, dy)
    mean_len = (ln[:, None] + ln[None, :]) / 2
    ratio = np.maximum(ln[:, None], ln[None, :]) / np.minimum(ln[:, None], ln[None, :])
    link_angle = np.arctan2(dy, dx) % math.pi
    across = _axis_gap(link_angle, (th[:, None] + math.pi / 2) % math.pi)
    ok = (
        (dist > 0.35 * mean_len)
        & (dist < 1.6 * mean_len)
        & (ratio < 1.35)
        & (_axis_gap(th[:, None], th[None, :]) < math.radians(18))
        & (across < math.radians(14))
        & (pol[:, None] == pol[None, :])
    )
    ii, jj = np.nonzero(np.triu(ok, 1))
    return list(zip(ii.tolist(), jj.tolist(), strict=True))


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
    return [g for g in groups.values() if len(g) >= 3]


def _row(blobs: list[Blob]) -> Row | None:
    pts = np.array([(b.cx, b.cy) for b in blobs], np.float64)
    centre = pts.mean(axis=0)
    _, _, vt = np.linalg.svd(pts - centre)
    ux, uy = vt[0]
    if ux < 0 or (abs(ux) < 1e-9 and uy < 0):
        ux, uy = -ux, -uy
    proj = (pts - centre) @ np.array([ux, uy])
    normal = (pts - centre) @ np.array([-uy, ux])
    height = float(np.median([b.length for b in blobs]))
    order = np.argsort(proj)
    steps = np.diff(proj[order])
    if len(steps) == 0 or steps.min() <= 0.2 * height:
        return None
    return Row(
        blobs=tuple(blobs[i] for i in order),
        origin=(float(centre[0]), float(centre[1])),
        direction=(float(ux), float(uy)),
        height=height,
        pitch=float(np.median(steps)),
        residual=float(np.abs(normal).max() / height),
    )


def find_rows(gray: np.ndarray) -> list[Row]:
    """Rows of at least three digit-like blobs, largest and straightest first."""
    blobs = find_blobs(gray)
    rows = []
    for group in _groups(len(blobs), _links(blobs)):
        row = _row([blobs[i] for i in group])
        if row is not None and row.residual < 0.45:
            rows.append(row)
    rows.sort(key=lambda r: (-len(r.blobs), r.residual))
    return rows
