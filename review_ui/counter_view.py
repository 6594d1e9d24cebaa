"""The counter up close: the OCR's counter box cut out of the photo and turned upright, and where
each digit sits on that cut-out.

OCR stores the boxes in `ocr_result.details` (`counter_box`, `digit_boxes`: four corners each, in
pixels of the EXIF-upright photo, top left, top right, bottom right, bottom left as the digits
read). The crop maps that quadrilateral onto a rectangle, so a counter photographed tilted or
upside down comes out level and the right way up. Results without boxes have no crop.
"""

from __future__ import annotations

import io
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from PIL import Image, ImageOps, UnidentifiedImageError

from core.image_limits import SCALES, draft_at, scale_within
from review_ui.photos import PhotoUnavailable

CROP_WIDTH = 720  # pixels of the served crop along the counter (small counters are enlarged)
MAX_ASPECT = 12  # the crop is at least 1/12 as tall as long (a flat box is a bad box)

Point = tuple[float, float]


@dataclass(frozen=True)
class DigitSpot:
    """One digit on the crop, in crop pixels."""

    x: float
    y: float
    width: float
    height: float


@dataclass(frozen=True)
class CounterGeometry:
    corners: tuple[Point, Point, Point, Point]  # top left, top right, bottom right, bottom left
    digits: tuple[tuple[Point, ...], ...]

    @property
    def size(self) -> tuple[int, int]:
        """The crop's width and height: CROP_WIDTH along the counter, in proportion across."""
        tl, tr, _, bl = self.corners
        length, height = _distance(tl, tr), _distance(tl, bl)
        height = max(height, length / MAX_ASPECT)
        return CROP_WIDTH, max(1, round(CROP_WIDTH * height / max(length, 1e-6)))

    def digit_spots(self) -> list[DigitSpot]:
        """Each digit's box on the crop (its extent along and across the counter)."""
        width, height = self.size
        spots = []
        for quad in self.digits:
            us, vs = zip(*(self._crop_point(p) for p in quad), strict=True)
            x0, x1 = max(0.0, min(us)) * width, min(1.0, max(us)) * width
            y0, y1 = max(0.0, min(vs)) * height, min(1.0, max(vs)) * height
            spots.append(
                DigitSpot(round(x0, 1), round(y0, 1), round(x1 - x0, 1), round(y1 - y0, 1))
            )
        return spots

    def _crop_point(self, p: Point) -> Point:
        """A photo point as fractions (0..1) along and across the counter box."""
        tl, tr, _, bl = self.corners
        ax, ay = tr[0] - tl[0], tr[1] - tl[1]
        bx, by = bl[0] - tl[0], bl[1] - tl[1]
        px, py = p[0] - tl[0], p[1] - tl[1]
        det = ax * by - ay * bx
        if abs(det) < 1e-9:
            return 0.0, 0.0
        return (px * by - py * bx) / det, (ax * py - ay * px) / det


def geometry_of(details: dict[str, Any] | None) -> CounterGeometry | None:
    """The boxes stored with an OCR result, or None when it has none (or they are malformed)."""
    details = details or {}
    corners = _quad(details.get("counter_box"))
    if corners is None:
        return None
    digits = [_quad(item) for item in details.get("digit_boxes") or []]
    return CounterGeometry(corners, tuple(d for d in digits if d is not None))


def _quad(raw: Any) -> tuple[Point, Point, Point, Point] | None:
    if not isinstance(raw, Sequence) or len(raw) != 4:
        return None
    points: list[Point] = []
    for item in raw:
        if not isinstance(item, Sequence) or len(item) != 2:
            return None
        x, y = item
        if not all(isinstance(v, int | float) and math.isfinite(v) for v in (x, y)):
            return None
        points.append((float(x), float(y)))
    return points[0], points[1], points[2], points[3]


def counter_crop(data: bytes, geometry: CounterGeometry, *, max_pixels: int) -> bytes:
    """The counter cut out of the photo `data`, level and upright, as a JPEG."""
    tl, tr, br, bl = geometry.corners
    upright, k = _upright(data, _distance(tl, tr) / CROP_WIDTH, max_pixels)
    # PIL: upper left, lower left, lower right, upper right (in the decoded image's pixels)
    quad = tuple(v * k for v in (*tl, *bl, *br, *tr))
    crop = upright.transform(
        geometry.size, Image.Transform.QUAD, quad, resample=Image.Resampling.BICUBIC
    )
    out = io.BytesIO()
    crop.save(out, "JPEG", quality=90)
    return out.getvalue()


def _upright(data: bytes, reduce: float, max_pixels: int) -> tuple[Image.Image, float]:
    """The photo decoded and turned upright, and its scale (1, or 1/2, 1/4, 1/8 where a JPEG
    may be decoded smaller: `reduce` photo pixels go into one crop pixel)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as img:
                least = scale_within(img, max_pixels)
                if least is None:
                    raise PhotoUnavailable(f"{img.width}x{img.height} exceeds {max_pixels} pixels")
                full = img.width
                if least > 1:  # a huge JPEG: at the scale that fits, or smaller still
                    draft_at(img, max(least, max(s for s in SCALES if s <= reduce)), "RGB")
                elif reduce >= 2:
                    img.draft("RGB", (math.ceil(full / reduce), math.ceil(img.height / reduce)))
                scale = img.width / full
                return (ImageOps.exif_transpose(img) or img).convert("RGB"), scale
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
        raise PhotoUnavailable(str(exc)) from exc
    except Image.DecompressionBombWarning as exc:
        raise PhotoUnavailable(str(exc)) from exc


def _distance(a: Point, b: Point) -> float:
    return math.hypot(b[0] - a[0], b[1] - a[1])
