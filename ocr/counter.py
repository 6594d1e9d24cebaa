"""Rectify a found row into digit cells: one affine warp per row, then cut at digit positions.

The row gives the reading direction and the digit size; the warp turns any rotation into an
upright strip whose cell height is fixed. Gaps inside the row are filled at the row's pitch, and a
few cells beyond both ends are added so drums the blob finder missed (glare, dirt) are still
classified.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ocr.locate import Row

CELL_H = 48  # rectified cell height in pixels


@dataclass(frozen=True)
class Cells:
    """Cells of one row in reading order (gray for the model, plus redness per cell)."""

    gray: list[np.ndarray]
    red: list[float]  # redness per cell (see `_redness`)
    found: list[bool]  # True where a blob was detected, False where interpolated
    flipped: bool
    strip: np.ndarray  # the rectified gray strip the cells were cut from
    centres: list[float]  # x of each cell's centre in `strip`
    cell_w: int
    positions: list[float]  # each cell's position along the row (as `Row.positions`)


def regular_pitch(positions: list[float], pitch: float) -> float:
    """Drums sit at a fixed pitch: estimate it from the steps, allowing for missed drums."""
    steps = np.diff(positions)
    k = np.round(steps / pitch)
    ok = (k >= 1) & (np.abs(steps - k * pitch) < 0.3 * pitch)
    return float(steps[ok].sum() / k[ok].sum()) if ok.any() else pitch


def cell_positions(row: Row, *, extend: int) -> tuple[list[float], list[bool]]:
    """Digit positions on a regular grid through the blobs, `extend` more cells each side."""
    detected = row.positions
    pitch = regular_pitch(detected, row.pitch)
    slots = np.round((np.array(detected) - detected[0]) / pitch).astype(int)
    phase = float(np.median(np.array(detected) - slots * pitch))
    first, last = int(slots.min()) - extend, int(slots.max()) + extend
    taken = set(slots.tolist())
    out = [phase + k * pitch for k in range(first, last + 1)]
    return out, [k in taken for k in range(first, last + 1)]


def _redness(cell_bgr: np.ndarray) -> float:
    """Mean excess of red over the other channels, in gray levels (red drums: high)."""
    b, g, r = (cell_bgr[..., i].astype(np.int16) for i in range(3))
    return float(np.clip(r - np.maximum(g, b), 0, None).mean())


def _digit_band(gray: np.ndarray, height_factor: float) -> int:
    """Top of the CELL_H band whose middle holds the most vertical stroke edges (the digits).

    The row line runs through blob centres, which can sit off the digits' middle (a digit
    merged with its window frame); this re-centres within half a cell.
    """
    edges = np.abs(cv2.Sobel(gray, cv2.CV_32F, 1, 0, ksize=3)).mean(axis=1)
    digit_h = max(4, round(CELL_H / height_factor))
    sums = np.convolve(edges, np.ones(digit_h), mode="valid")  # sums[i]: rows i .. i+digit_h
    centre = CELL_H  # where the row line is
    lo, hi = centre - CELL_H // 4 - digit_h // 2, centre + CELL_H // 4 - digit_h // 2
    best = lo + int(np.argmax(sums[lo : hi + 1]))
    return int(np.clip(best + digit_h // 2 - CELL_H // 2, 0, CELL_H))


def cut_cells(
    image: np.ndarray, row: Row, *, height_factor: float, extend: int = 2, flipped: bool = False
) -> Cells:
    """Warp the strip around `row` upright (or turned 180 degrees) and cut it into cells."""
    positions, found = cell_positions(row, extend=extend)
    cell_h_img = row.height * height_factor
    k = CELL_H / cell_h_img
    pitch = positions[1] - positions[0] if len(positions) > 1 else row.pitch
    cell_w = max(8, round(min(pitch, 0.62 * cell_h_img) * k))
    start = positions[0] - pitch / 2
    width = round((positions[-1] - positions[0] + pitch) * k)
    ux, uy = row.direction
    nx, ny = -uy, ux
    ox, oy = row.origin
    x0 = ox + start * ux - cell_h_img * nx
    y0 = oy + start * uy - cell_h_img * ny
    m = np.array([[ux / k, nx / k, x0], [uy / k, ny / k, y0]], np.float32)
    tall = cv2.warpAffine(
        image,
        m,
        (max(width, 1), 2 * CELL_H),
        flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
        borderMode=cv2.BORDER_REPLICATE,
    )
    top = _digit_band(cv2.cvtColor(tall, cv2.COLOR_BGR2GRAY), height_factor)
    strip = tall[top : top + CELL_H]
    row_positions = list(reversed(positions)) if flipped else list(positions)
    if flipped:
        strip = cv2.rotate(strip, cv2.ROTATE_180)
        positions = [positions[-1] + positions[0] - p for p in reversed(positions)]
        found = list(reversed(found))
    gray_strip = cv2.cvtColor(strip, cv2.COLOR_BGR2GRAY)
    grays, reds, centres = [], [], []
    for p in positions:
        cx = (p - start) * k
        centres.append(cx)
        x1 = round(cx - cell_w / 2)
        x1 = min(max(0, x1), max(0, gray_strip.shape[1] - cell_w))
        grays.append(gray_strip[:, x1 : x1 + cell_w])
        reds.append(_redness(strip[:, x1 : x1 + cell_w]))
    return Cells(grays, reds, found, flipped, gray_strip, centres, cell_w, row_positions)
