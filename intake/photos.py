"""Facts about a photo for the ledger: a perceptual hash (dHash, of the photo turned upright as its
EXIF orientation says) and the EXIF capture time.

Pillow reads only the header before the pixel limit is checked, and JPEGs are decoded at reduced
size (draft mode), so a decompression bomb or a corrupt file costs nothing and yields `None`s.
"""

from __future__ import annotations

import datetime as dt
import io
import warnings
from dataclasses import dataclass

from PIL import Image, ImageOps

from core.context import BERLIN
from core.image_limits import scale_within

try:  # HEIC/HEIF (iPhone photos)
    from pillow_heif import register_heif_opener

    register_heif_opener()
except ImportError:  # pragma: no cover - pillow-heif is a declared dependency
    pass

EXIF_IFD = 0x8769
DATETIME_ORIGINAL = 0x9003
DATETIME = 0x0132
HASH_SIZE = 8


@dataclass(frozen=True)
class PhotoFacts:
    phash: str | None = None
    exif_time: dt.datetime | None = None


def dhash(img: Image.Image) -> str:
    """64-bit difference hash as 16 hex digits: brightness gradients of a 9x8 thumbnail."""
    small = img.convert("L").resize((HASH_SIZE + 1, HASH_SIZE), Image.Resampling.BILINEAR)
    pixels = small.tobytes()
    bits = 0
    for row in range(HASH_SIZE):
        for col in range(HASH_SIZE):
            left = pixels[row * (HASH_SIZE + 1) + col]
            right = pixels[row * (HASH_SIZE + 1) + col + 1]
            bits = (bits << 1) | int(left > right)
    return f"{bits:016x}"


def exif_time(img: Image.Image) -> dt.datetime | None:
    """DateTimeOriginal (else DateTime) as UTC; camera clocks are taken as German local time."""
    exif = img.getexif()
    raw = exif.get_ifd(EXIF_IFD).get(DATETIME_ORIGINAL) or exif.get(DATETIME)
    if not isinstance(raw, str):
        return None
    try:
        local = dt.datetime.strptime(raw.strip().rstrip("\x00"), "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None
    return local.replace(tzinfo=BERLIN).astimezone(dt.UTC)


def photo_facts(data: bytes, *, max_pixels: int) -> PhotoFacts:
    """dHash and EXIF time, or `None`s for anything Pillow cannot (or must not) decode."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as img:
                if scale_within(img, max_pixels) is None:  # the hash reads a JPEG at 1/8
                    return PhotoFacts(exif_time=_safe_exif(img))
                taken = _safe_exif(img)
                img.draft("L", (64, 64))
                # upright as shown: a copy whose pixels were turned (messengers drop the tag)
                # hashes alike
                return PhotoFacts(phash=dhash(ImageOps.exif_transpose(img)), exif_time=taken)
    except Exception:  # corrupt, truncated, bomb, unknown format: no facts
        return PhotoFacts()


def _safe_exif(img: Image.Image) -> dt.datetime | None:
    try:
        return exif_time(img)
    except Exception:
        return None
