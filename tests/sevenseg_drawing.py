"""Where the segments of a drawn 7-segment digit lie: shared by the display tests."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ocr import sevenseg


@dataclass(frozen=True)
class DigitShape:
    """A digit's height, width and stroke (px), and the row its top starts at."""

    height: int
    width: int
    stroke: int
    top: int

    def segment_boxes(self, x: int) -> dict[str, tuple[int, int, int, int]]:
        """Rows and columns (y0, y1, x0, x1) of the segments a..g of a digit at column x. The
        vertical segments stop short of the middle, as on a display."""
        top, h, w, t = self.top, self.height, self.width, self.stroke
        mid = top + h // 2
        return {
            "a": (top, top + t, x, x + w),
            "b": (top, mid - 1, x + w - t, x + w),
            "c": (mid + 1, top + h, x + w - t, x + w),
            "d": (top + h - t, top + h, x, x + w),
            "e": (mid + 1, top + h, x, x + t),
            "f": (top, mid - 1, x, x + t),
            "g": (mid - t // 2, mid + t // 2, x, x + w),
        }

    def lit_boxes(self, digit: str, x: int) -> list[tuple[int, int, int, int]]:
        """The boxes of the segments lit for `digit` at column x."""
        boxes = self.segment_boxes(x)
        pattern = sevenseg.PATTERNS[int(digit)][:7]
        return [boxes[s] for s, on in zip("abcdefg", pattern, strict=True) if on]


def draw_text(
    text: str, shape: DigitShape, *, pitch: int, left: int, seam: bool = False
) -> np.ndarray:
    """Ink of `text` (digits and "."): digits on a fixed pitch from column `left`, the point in
    the gap after its digit; with `seam`, no segment crosses the middle rows."""
    top, h, t = shape.top, shape.height, shape.stroke
    ink = np.zeros((96, left + pitch * len(text) + 40), np.uint8)
    x = left
    for ch in text:
        if ch == ".":
            ink[top + h - t : top + h, x - 11 : x - 5] = 1
            continue
        for y0, y1, x0, x1 in shape.lit_boxes(ch, x):
            ink[y0:y1, x0:x1] = 1
        x += pitch
    if seam:
        mid = top + h // 2
        ink[mid - 2 : mid + 2] = 0
    return ink
