"""Serve customer photos safely: the type is sniffed (never taken from the mail), and anything a
browser may not show well (HEIC, TIFF, huge images, odd modes) is re-encoded to JPEG."""

from __future__ import annotations

import io
import logging
import warnings
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

from core.image_limits import draft_at, scale_within

log = logging.getLogger(__name__)

try:  # HEIC/HEIF (iPhone photos)
    from pillow_heif import register_heif_opener

    register_heif_opener()
except ImportError:  # pragma: no cover - pillow-heif is a declared dependency
    log.warning("pillow-heif not available: HEIC photos cannot be shown")

MAX_SIDE = 2000  # longer sides are scaled down for the review page
THUMB_SIDE = 160  # the queue's thumbnails
MAX_BYTES = 3 * 1024 * 1024
PASS_THROUGH = {"JPEG": "image/jpeg", "PNG": "image/png"}


class PhotoUnavailable(Exception):
    """The stored bytes are not an image we can show."""


@dataclass(frozen=True)
class ServedPhoto:
    data: bytes
    content_type: str


def prepare_photo(data: bytes, *, max_pixels: int, thumbnail: bool = False) -> ServedPhoto:
    """Pass small JPEG/PNG through unchanged; otherwise decode, orient, shrink and encode JPEG.
    `thumbnail`: always a small JPEG (the queue's column)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))
            scale = scale_within(img, max_pixels)
            if scale is None:
                raise PhotoUnavailable(f"{img.width}x{img.height} exceeds {max_pixels} pixels")
            fmt = img.format or ""
            fits = scale == 1 and max(img.size) <= MAX_SIDE and len(data) <= MAX_BYTES
            draft_at(img, scale, "RGB")  # a huge JPEG is decoded smaller
            if fmt in PASS_THROUGH and fits and _upright(img) and not thumbnail:
                return ServedPhoto(data, PASS_THROUGH[fmt])
            side = THUMB_SIDE if thumbnail else MAX_SIDE
            return ServedPhoto(_to_jpeg(img, side), "image/jpeg")
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
        raise PhotoUnavailable(str(exc)) from exc
    except Image.DecompressionBombWarning as exc:
        raise PhotoUnavailable(str(exc)) from exc


def _upright(img: Image.Image) -> bool:
    """True when no EXIF rotation is needed (browsers differ in honouring it)."""
    try:
        return img.getexif().get(0x0112, 1) in (0, 1)
    except Exception:  # broken EXIF: re-encode without it
        return False


def _to_jpeg(img: Image.Image, side: int = MAX_SIDE) -> bytes:
    img = ImageOps.exif_transpose(img) or img
    img.thumbnail((side, side))
    if img.mode not in ("RGB", "L"):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(background, rgba).convert("RGB")
    out = io.BytesIO()
    img.save(out, "JPEG", quality=85, optimize=True)
    return out.getvalue()
