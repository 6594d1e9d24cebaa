"""The pixel limit for photos, and the large JPEG that fits it at a reduced scale.

A photo above `max_image_pixels` is refused from its header before anything is decoded (a
decompression bomb costs nothing). A JPEG is the exception: libjpeg decodes it at 1/2, 1/4 or 1/8
without ever holding the full image, so a 108- or 200-megapixel phone photo is read at a scale
that fits the limit instead of being refused.
"""

from __future__ import annotations

import math

from PIL import Image

SCALES = (1, 2, 4, 8)  # what libjpeg can decode at


def scale_within(img: Image.Image, max_pixels: int) -> int | None:
    """The least of 1, 2, 4, 8 at which the opened (not decoded) `img` fits `max_pixels`: 1 for
    any image within it, more only for a JPEG; None when it does not fit at all."""
    for scale in SCALES if img.format == "JPEG" else (1,):
        if math.ceil(img.width / scale) * math.ceil(img.height / scale) <= max_pixels:
            return scale
    return None


def draft_at(img: Image.Image, scale: int, mode: str | None = None) -> int:
    """Make the opened JPEG `img` decode at 1/`scale` (1, 2, 4 or 8); returns the scale it will
    decode at (1 for other formats)."""
    if scale <= 1 or img.format != "JPEG":
        return 1
    width = img.width
    img.draft(mode, (max(width // scale, 1), max(img.height // scale, 1)))
    return round(width / img.width)
