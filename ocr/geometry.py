"""Where the chosen read sits on the photo: one quadrilateral per digit and one around the counter.

The search measures in the work image (`reader.work_image`: the upright photo scaled down); a
row gives the reading direction, the digit height and each cell's position along the row, and a
read's digits are consecutive cells of its row (`candidates.split` only trims or extends the run
at its ends). Corners run top left, top right, bottom right, bottom left as the digits are read,
so a counter photographed upside down has its "top left" corner at the bottom right of the photo.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from core.types import Display, Quad
from ocr.counter import CELL_ASPECT
from ocr.reads import Described

# digit heights added around the digits for the counter box: a drum's window is much taller
# than its digit, a display's digits nearly fill it
COUNTER_MARGIN = 0.3
DISPLAY_MARGIN = 0.1


def digit_cells(best: Described) -> list[int]:
    """Indices (into the row's cells) of the read's digits, integer then decimals."""
    c = best.candidate
    count = len(best.integer) + len(best.fraction)
    if c.decimals:  # the read ends on the run's last (red or after-the-point) cell
        end = c.run.start + len(c.digits)
        return list(range(end - count, end))
    return list(range(c.run.start, c.run.start + count))


def read_boxes(
    best: Described, scale: tuple[float, float], display: Display
) -> tuple[Quad, tuple[Quad, ...]]:
    """The counter box and one box per digit of `best` (read as `display`), in photo pixels
    (`scale`: photo pixels per work-image pixel along x and y); empty where the cells are not
    known."""
    c = best.candidate
    positions = c.cells.positions
    cells = digit_cells(best)
    if not cells or cells[0] < 0 or cells[-1] >= len(positions):
        return (), ()
    along = [positions[i] for i in cells]
    pitch = _pitch(positions, c.row.pitch)
    height = c.row.height
    width = min(pitch, CELL_ASPECT * height * 1.4)
    frame = _Frame(c.row.origin, c.row.direction, flipped=c.cells.flipped)
    digits = tuple(frame.quad(p, width, height, scale) for p in along)
    pad = (DISPLAY_MARGIN if display == "lcd" else COUNTER_MARGIN) * height
    first, last = min(along), max(along)
    middle, length = (first + last) / 2, last - first + width + 2 * pad
    counter = frame.quad(middle, length, height + 2 * pad, scale)
    return counter, digits


def _pitch(positions: Sequence[float], fallback: float) -> float:
    steps = np.diff(sorted(positions))
    return float(np.median(np.abs(steps))) if len(steps) else fallback


class _Frame:
    """A row's reading frame: x along the reading direction, y down across it."""

    def __init__(
        self, origin: tuple[float, float], direction: tuple[float, float], *, flipped: bool
    ) -> None:
        sign = -1.0 if flipped else 1.0
        self.origin = np.array(origin)
        self.along = np.array(direction) * sign
        self.down = np.array((-direction[1], direction[0])) * sign
        self.direction = np.array(direction)

    def quad(
        self, position: float, width: float, height: float, scale: tuple[float, float]
    ) -> Quad:
        centre = self.origin + position * self.direction
        half_w, half_h = self.along * width / 2, self.down * height / 2
        corners = (
            centre - half_w - half_h,
            centre + half_w - half_h,
            centre + half_w + half_h,
            centre - half_w + half_h,
        )
        sx, sy = scale
        return tuple((round(float(x) * sx, 1), round(float(y) * sy, 1)) for x, y in corners)
