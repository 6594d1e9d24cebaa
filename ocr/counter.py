"""Rectify a found row into digit cells: one affine warp per row, then cut at the drum positions.

The row gives the reading direction and the digit size; the warp turns any rotation into an
upright strip whose cell height is fixed. Drums sit at a fixed pitch, so the cells lie on a
regular grid. A first guess of that grid comes from the blobs of the row; the refined grid comes
from the digit model slid along the strip (`scan_centres`, `fit_grids`): the pitch and phase
whose cells form the longest run of confident digits. Window frames and marks between the drums
can fool the blobs (half the pitch, or cells half a drum off), not the model.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import cv2
import numpy as np

from ocr.locate import Row

CELL_H = 48  # rectified cell height in pixels
CELL_ASPECT = 0.62  # widest cell, relative to its height
SCAN_STEPS = 4  # model positions per digit height when sliding along the strip
PITCHES = np.arange(0.55, 1.9, 0.02)  # drum pitches tried, in digit heights
DIGIT_STRENGTH = 0.5  # a cell adds to a run when the model is surer than this that it is a digit
PHASE_STEP = 1.5  # strip pixels between the grid phases tried


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
    framed: tuple[float, ...] = ()  # per cell, how red a frame around it is (see `_framed`)


@dataclass(frozen=True)
class Strip:
    """A row warped upright (or turned 180 degrees): CELL_H tall, the digits in the middle."""

    red: np.ndarray  # running sums along x of the red excess in the middle rows (`_red_sums`)
    gray: np.ndarray
    start: float  # position along the row (as `Row.positions`) of the strip's reading start
    scale: float  # strip pixels per image pixel
    flipped: bool
    digit_h: float  # the row's blob height in strip pixels (a digit, or a whole drum window)

    def x_of(self, position: float) -> float:
        """Strip x of a position along the row."""
        along = (position - self.start) * self.scale
        return self.gray.shape[1] - along if self.flipped else along

    def position_of(self, x: float) -> float:
        along = self.gray.shape[1] - x if self.flipped else x
        return self.start + along / self.scale


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


def _red_sums(color: np.ndarray) -> np.ndarray:
    """Per strip column x, the red excess (red over the other channels, gray levels) summed over
    the strip's middle rows and all columns before x; `_redness` takes cells' means from it."""
    h = color.shape[0]
    b, g, r = (color[h // 4 : h - h // 4, :, i].astype(np.int16) for i in range(3))
    excess = np.clip(r - np.maximum(g, b), 0, None).sum(axis=0)
    return np.concatenate([[0], np.cumsum(excess)]).astype(np.float64) / max(1, h - 2 * (h // 4))


def _redness(red_sums: np.ndarray, x1: int, w: int) -> float:
    """Mean red excess in the middle of the cell of width `w` from strip column `x1` (red drums:
    high; a red frame between black drums stays at the cell's edges)."""
    return _mean(red_sums, x1 + w // 4, x1 + w - w // 4)


def _framed(red_sums: np.ndarray, x1: int, w: int, pitch: float) -> float:
    """How red a frame around the cell of width `w` from strip column `x1` is: the lesser red
    excess of its two edges, half a `pitch` (the drums', in strip pixels) from its centre (a
    Ferraris counter's decimal drum framed in red; a red mark between two drums is red on one
    side of each, so it stays low)."""
    centre, reach = x1 + w / 2, max(2, round(pitch / 4))
    left, right = round(centre - pitch / 2), round(centre + pitch / 2)
    return min(
        _mean(red_sums, left - reach, left + reach), _mean(red_sums, right - reach, right + reach)
    )


def _mean(sums: np.ndarray, a: int, b: int) -> float:
    """Mean over columns a .. b (clipped to the strip) from running sums."""
    a, b = max(0, a), min(len(sums) - 1, b)
    return float((sums[b] - sums[a]) / (b - a)) if b > a else 0.0


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


def rectify(
    image: np.ndarray, row: Row, span: tuple[float, float], *, height_factor: float, flipped: bool
) -> Strip:
    """Warp the part `span` (positions along the row) of the row upright, or turned 180 degrees."""
    cell_h_img = row.height * height_factor
    k = CELL_H / cell_h_img
    start = span[0]
    tall = level_strip(image, row, span, k, reach=cell_h_img, height=2 * CELL_H)
    top = _digit_band(cv2.cvtColor(tall, cv2.COLOR_BGR2GRAY), height_factor)
    color = tall[top : top + CELL_H]
    if flipped:
        color = cv2.rotate(color, cv2.ROTATE_180)
    gray = cv2.cvtColor(color, cv2.COLOR_BGR2GRAY)
    return Strip(_red_sums(color), gray, start, k, flipped, CELL_H / height_factor)


def level_strip(
    image: np.ndarray, row: Row, span: tuple[float, float], k: float, *, reach: float, height: int
) -> np.ndarray:
    """The part `span` (positions along the row) of the row warped level at `k` strip pixels per
    image pixel, from `reach` image pixels above its line down, `height` strip pixels tall (the
    image's colours; the border replicated)."""
    start, end = span
    ux, uy = row.direction
    nx, ny = -uy, ux
    ox, oy = row.origin
    x0 = ox + start * ux - reach * nx
    y0 = oy + start * uy - reach * ny
    m = np.array([[ux / k, nx / k, x0], [uy / k, ny / k, y0]], np.float32)
    return cv2.warpAffine(
        image,
        m,
        (max(round((end - start) * k), 1), height),
        flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
        borderMode=cv2.BORDER_REPLICATE,
    )


def cells_at(
    strip: Strip, positions: list[float], cell_w: int, found: list[bool], pitch: float
) -> Cells:
    """Cells centred at `positions` along the row, in reading order of the strip (`pitch`: the
    drums' in strip pixels)."""
    order = sorted(range(len(positions)), key=lambda i: strip.x_of(positions[i]))
    grays, reds, frames, centres = [], [], [], []
    for i in order:
        cx = strip.x_of(positions[i])
        x1 = round(cx - cell_w / 2)
        x1 = min(max(0, x1), max(0, strip.gray.shape[1] - cell_w))
        grays.append(strip.gray[:, x1 : x1 + cell_w])
        width = min(cell_w, strip.gray.shape[1] - x1)
        reds.append(_redness(strip.red, x1, width))
        frames.append(_framed(strip.red, x1, width, pitch))
        centres.append(cx)
    return Cells(
        grays,
        reds,
        [found[i] for i in order],
        strip.flipped,
        strip.gray,
        centres,
        cell_w,
        [positions[i] for i in order],
        tuple(frames),
    )


def cut_cells(
    image: np.ndarray, row: Row, *, height_factor: float, extend: int = 2, flipped: bool = False
) -> Cells:
    """Cells on the grid through the row's blobs (a first guess, see `fit_grids`)."""
    positions, found = cell_positions(row, extend=extend)
    pitch = positions[1] - positions[0] if len(positions) > 1 else row.pitch
    span = (positions[0] - pitch / 2, positions[-1] + pitch / 2)
    strip = rectify(image, row, span, height_factor=height_factor, flipped=flipped)
    cell_w = max(8, round(min(pitch, CELL_ASPECT * row.height * height_factor) * strip.scale))
    return cells_at(strip, positions, cell_w, found, pitch * strip.scale)


def scan_centres(strip: Strip) -> list[float]:
    """Strip x of the cells the model is slid over: SCAN_STEPS per digit height."""
    half = CELL_ASPECT * CELL_H / 2
    return np.arange(half, strip.gray.shape[1] - half + 1e-6, strip.digit_h / SCAN_STEPS).tolist()


def scan_cells(strip: Strip, centres: list[float]) -> list[np.ndarray]:
    w = round(CELL_ASPECT * CELL_H)
    return [strip.gray[:, round(x - w / 2) : round(x - w / 2) + w] for x in centres]


class Grid(NamedTuple):
    pitch: float
    phase: float  # strip x of one cell's centre
    run: float  # strength of its best run of digit cells


def fit_grids(centres: list[float], strength: np.ndarray, digit_h: float, count: int) -> list[Grid]:
    """Pitch and phase (strip x of one cell) of the grids whose cells hold the strongest run of
    digits, best first, each unlike the ones before (another pitch or half a cell off): per cell
    the model's digit strength (interpolated between scan positions) less DIGIT_STRENGTH, summed
    over the best run of consecutive cells."""
    xs = np.asarray(centres)
    line = np.interp(np.arange(xs[0], xs[-1] + 1), xs, strength) - DIGIT_STRENGTH  # per pixel
    pitch, phase = np.meshgrid(PITCHES * digit_h, np.arange(0.0, PITCHES[-1] * digit_h, PHASE_STEP))
    pitch, phase = pitch[phase < pitch], phase[phase < pitch]  # every grid once
    steps = np.arange(int(len(line) // pitch.min()) + 1)
    at = np.rint(phase[:, None] + pitch[:, None] * steps[None, :]).astype(int)
    gain = np.where(at < len(line), line[np.minimum(at, len(line) - 1)], 0.0)
    sums = np.concatenate([np.zeros((len(gain), 1)), np.cumsum(gain, axis=1)], axis=1)
    runs = (sums - np.minimum.accumulate(sums, axis=1)).max(axis=1)
    chosen: list[Grid] = []
    for i in np.argsort(-runs, kind="stable"):
        grid = Grid(float(pitch[i]), float(xs[0] + phase[i]), float(runs[i]))
        if all(_unlike(grid, other) for other in chosen):
            chosen.append(grid)
            if len(chosen) == count:
                break
    return chosen


def _unlike(a: Grid, b: Grid) -> bool:
    """Grids that cut the strip differently: pitches 15 % apart, or cells a third or more off."""
    (pa, xa, _), (pb, xb, _) = a, b
    if abs(pa - pb) > 0.15 * min(pa, pb):
        return True
    off = (xa - xb) % pb / pb
    return 1 / 3 <= off <= 2 / 3


def grid_positions(strip: Strip, pitch: float, phase: float) -> list[float]:
    """Positions along the row of a grid of the strip (pitch and phase in strip x), end to end."""
    first = phase - pitch * np.floor((phase - pitch / 2) / pitch)
    xs = np.arange(first, strip.gray.shape[1] - pitch / 2 + 1e-6, pitch)
    return sorted(strip.position_of(float(x)) for x in xs)


def grid_cells(strip: Strip, positions: list[float]) -> Cells:
    """Cells at grid positions (as `grid_positions`, any strip of the same row and span)."""
    pitch = (positions[1] - positions[0]) * strip.scale if len(positions) > 1 else CELL_H
    cell_w = max(8, round(min(pitch, CELL_ASPECT * CELL_H)))
    return cells_at(strip, positions, cell_w, [True] * len(positions), pitch)
