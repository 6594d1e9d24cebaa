"""Image loading: bytes / path / array in, upright BGR array out, or an `ImageError` with a reason.

Pillow reads the header and decodes (PNG, WebP, HEIC through pillow-heif, ...) and applies the
EXIF orientation. A complete colour or gray JPEG is decoded by OpenCV instead: the same
libjpeg-turbo settings give the same pixels, straight in BGR, in about half the time. The pixel
limit is checked from the header before anything is decoded, so a decompression bomb is refused
cheaply; a JPEG above it is decoded at 1/2, 1/4 or 1/8 where that fits (`core.image_limits`).
"""

from __future__ import annotations

import io
import logging
import math
import warnings
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from core.errors import ImageError
from core.image_limits import draft_at, scale_within

log = logging.getLogger(__name__)

MIN_SIDE = 32  # smaller than this cannot show a readable counter
ImageInput = bytes | Path | np.ndarray

try:  # HEIC/HEIF (iPhone photos); optional at import time so a broken wheel only loses HEIC
    from pillow_heif import register_heif_opener

    register_heif_opener()
except ImportError:  # pragma: no cover - pillow-heif is a declared dependency
    log.warning("pillow-heif not available: HEIC photos will be refused")


def _check_size(width: int, height: int, max_pixels: int) -> None:
    if width * height > max_pixels:
        raise ImageError("image_too_large", f"{width}x{height} exceeds {max_pixels} pixels")
    if min(width, height) < MIN_SIDE:
        raise ImageError("image_too_small", f"{width}x{height} is too small to read")


def _from_array(array: np.ndarray, max_pixels: int) -> np.ndarray:
    """Accept gray (H, W), BGR (H, W, 3) and BGRA (H, W, 4) arrays of any numeric dtype."""
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (1, 3, 4)):
        raise ImageError("image_corrupt", f"unsupported array shape {array.shape}")
    _check_size(array.shape[1], array.shape[0], max_pixels)
    if array.dtype != np.uint8:
        finite = np.nan_to_num(array.astype(np.float64))
        scale = 255.0 if finite.max(initial=0) <= 1.0 else 1.0
        array = np.clip(finite * scale, 0, 255).astype(np.uint8)
    if array.ndim == 2 or array.shape[2] == 1:
        return np.repeat(array.reshape(array.shape[0], array.shape[1], 1), 3, axis=2)
    return np.ascontiguousarray(array[:, :, :3])


def _to_bgr(img: Image.Image) -> np.ndarray:
    if img.mode in ("RGBA", "LA", "P", "PA") or "transparency" in img.info:
        rgba = img.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(white, rgba)
    rgb = np.asarray(img if img.mode == "RGB" else img.convert("RGB"))
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)  # a fresh array, ~8x faster than numpy's flip


_ORIENTATION = 0x0112  # the EXIF tag, as `ImageOps.exif_transpose` reads it
_REDUCED = {  # OpenCV's flags for the scales `Image.draft` picks
    1: cv2.IMREAD_COLOR,
    2: cv2.IMREAD_REDUCED_COLOR_2,
    4: cv2.IMREAD_REDUCED_COLOR_4,
    8: cv2.IMREAD_REDUCED_COLOR_8,
}


def _plain_jpeg(img: Image.Image, data: bytes) -> bool:
    """A JPEG that OpenCV decodes to Pillow's pixels: colour or gray (Pillow converts CMYK its
    own way), and complete up to its end marker (Pillow refuses a truncated one, OpenCV would
    fill the missing rows)."""
    return (
        img.format == "JPEG"
        and img.mode in ("RGB", "L")
        and data.rstrip(b"\0").endswith(b"\xff\xd9")
    )


def _decode_jpeg(data: bytes, scale: int, orientation: object) -> np.ndarray | None:
    """The JPEG decoded by OpenCV at 1/`scale` and turned as `ImageOps.exif_transpose` turns it
    for `orientation` (None where OpenCV cannot decode it)."""
    flags = _REDUCED[scale] | cv2.IMREAD_IGNORE_ORIENTATION
    try:
        bgr = cv2.imdecode(np.frombuffer(data, np.uint8), flags)
    except cv2.error:
        return None
    if bgr is None:
        return None
    turn = _TURNS.get(orientation)  # type: ignore[call-overload]
    return bgr if turn is None else np.ascontiguousarray(turn(bgr))


def _transposed(a: np.ndarray) -> np.ndarray:
    return a.transpose(1, 0, 2)


_TURNS = {  # per EXIF orientation, what `ImageOps.exif_transpose` does to the pixels
    2: lambda a: a[:, ::-1],  # FLIP_LEFT_RIGHT
    3: lambda a: a[::-1, ::-1],  # ROTATE_180
    4: lambda a: a[::-1],  # FLIP_TOP_BOTTOM
    5: _transposed,  # TRANSPOSE
    6: lambda a: cv2.rotate(a, cv2.ROTATE_90_CLOCKWISE),  # ROTATE_270 (counter-clockwise)
    7: lambda a: _transposed(a)[::-1, ::-1],  # TRANSVERSE
    8: lambda a: cv2.rotate(a, cv2.ROTATE_90_COUNTERCLOCKWISE),  # ROTATE_90
}


def _decode(data: bytes, max_pixels: int, at_least: int | None) -> np.ndarray:
    if not data:
        raise ImageError("image_empty", "no image data")
    try:
        with warnings.catch_warnings():
            # our own limit below is the one that counts; Pillow's default would only warn
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as img:
                scale = draft_at(img, scale_within(img, max_pixels) or 1)  # a huge JPEG: smaller
                _check_size(img.width, img.height, max_pixels)
                if scale == 1 and at_least is not None and max(img.size) > at_least:
                    k = at_least / max(img.size)  # JPEG only: 1/2, 1/4 or 1/8 while big enough
                    full = img.width
                    drafted = img.draft(None, (math.ceil(img.width * k), math.ceil(img.height * k)))
                    scale = round(full / drafted[1][2]) if drafted else 1
                if _plain_jpeg(img, data):
                    decoded = _decode_jpeg(data, scale, img.getexif().get(_ORIENTATION, 1))
                    if decoded is not None:
                        return decoded
                img.load()
                ImageOps.exif_transpose(img, in_place=True)  # not a copy of an upright photo
                return _to_bgr(img)
    except ImageError:
        raise
    except Image.DecompressionBombError as exc:
        raise ImageError("image_too_large", str(exc)) from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as exc:
        raise ImageError("image_corrupt", f"cannot decode image: {exc}") from exc


def upright_size(image: ImageInput) -> tuple[int, int]:
    """Width and height of the photo once turned upright by its EXIF orientation (what
    `load_image` gives without `at_least`), read from the header; raises `ImageError`."""
    if isinstance(image, np.ndarray):
        return int(image.shape[1]), int(image.shape[0])
    try:
        data = image.read_bytes() if isinstance(image, Path) else bytes(image)
        with Image.open(io.BytesIO(data)) as img:
            turned = img.getexif().get(0x0112, 1) in (5, 6, 7, 8)
            return (img.height, img.width) if turned else (img.width, img.height)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as exc:
        raise ImageError("image_corrupt", f"cannot read image header: {exc}") from exc


def load_image(image: ImageInput, *, max_pixels: int, at_least: int | None = None) -> np.ndarray:
    """Return an upright BGR uint8 image; raise `ImageError` (with `.reason`) if impossible.

    With `at_least`, a JPEG may be decoded at a reduced scale whose long side is still at least
    that many pixels (a phone's 12 MP photo at half size: about a third less time to decode, and
    a quarter of the pixels to scale down)."""
    if isinstance(image, np.ndarray):
        return _from_array(image, max_pixels)
    if isinstance(image, Path):
        try:
            data = image.read_bytes()
        except OSError as exc:
            raise ImageError("file_unreadable", f"{image}: {exc.strerror or exc}") from exc
    elif isinstance(image, bytes | bytearray | memoryview):
        data = bytes(image)
    else:
        raise ImageError("image_corrupt", f"unsupported input type {type(image).__name__}")
    return _decode(data, max_pixels, at_least)
