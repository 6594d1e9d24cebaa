"""Robust input: whatever a customer attaches, `read_meter` answers with a result, never a crash."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageOps

from core.errors import ImageError
from core.settings import Settings
from ocr import read_meter
from ocr.loading import _decode_jpeg, _plain_jpeg, load_image
from ocr.synth import encode_jpeg, render_drum_meter

LIMIT = 60_000_000


@pytest.fixture(scope="module")
def meter() -> np.ndarray:
    return render_drum_meter("00472", "315", seed=1, meter_number="12345678")


def _encode(img: Image.Image, fmt: str, **kwargs: object) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **kwargs)
    return buf.getvalue()


def _pil(bgr: np.ndarray) -> Image.Image:
    return Image.fromarray(np.ascontiguousarray(bgr[:, :, ::-1]))


def test_exif_orientation_is_applied(meter: np.ndarray) -> None:
    tall = meter[:, 200:700]  # 900 x 500, so a rotation shows in the shape
    stored = _pil(tall).transpose(Image.Transpose.ROTATE_90)  # as the phone sensor stored it
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    data = _encode(stored, "JPEG", exif=exif.tobytes(), quality=95)
    upright = load_image(data, max_pixels=LIMIT)
    assert upright.shape[:2] == tall.shape[:2]
    assert np.abs(upright.astype(int) - tall.astype(int)).mean() < 6


def test_a_big_jpeg_is_decoded_at_a_reduced_scale_still_large_enough(meter: np.ndarray) -> None:
    """A phone's 12 MP photo: decoded at half size (2000 px), upright, and it still reads."""
    big = _pil(meter).resize((4000, 3000)).transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[0x0112] = 6
    data = _encode(big, "JPEG", exif=exif.tobytes(), quality=90)
    reduced = load_image(data, max_pixels=LIMIT, at_least=1200)
    assert reduced.shape[:2] == (1500, 2000)  # upright, half of 3000 x 4000
    assert load_image(data, max_pixels=LIMIT).shape[:2] == (3000, 4000)
    expected = np.asarray(_pil(meter).resize((2000, 1500)))[:, :, ::-1]
    assert np.abs(reduced.astype(int) - expected.astype(int)).mean() < 6
    result = read_meter(data, integer_digits=5, meter_number=False)
    assert (result.reading, result.reason) == ("00472", None)


def _pillow_pixels(data: bytes, scale: int = 1) -> np.ndarray:
    """The photo as Pillow decodes it (at 1/scale) and turns it by its EXIF orientation."""
    with Image.open(io.BytesIO(data)) as img:
        img.draft(None, (img.width // scale, img.height // scale))
        img.load()
        upright = ImageOps.exif_transpose(img)
        return np.asarray(upright.convert("RGB"))[:, :, ::-1]


@pytest.mark.parametrize("orientation", range(1, 9))
def test_a_jpeg_decoded_by_opencv_has_pillows_pixels_in_every_orientation(
    meter: np.ndarray, orientation: int
) -> None:
    exif = Image.Exif()
    exif[0x0112] = orientation
    data = _encode(_pil(meter[:, 100:800]), "JPEG", exif=exif.tobytes(), quality=90)
    for scale in (1, 2, 4, 8):
        decoded = _decode_jpeg(data, scale, orientation)
        assert decoded is not None and decoded.flags.c_contiguous
        assert np.array_equal(decoded, _pillow_pixels(data, scale))


def test_a_gray_jpeg_decoded_by_opencv_has_pillows_pixels(meter: np.ndarray) -> None:
    data = _encode(_pil(meter).convert("L"), "JPEG", quality=85)
    decoded = _decode_jpeg(data, 1, 1)
    assert decoded is not None and np.array_equal(decoded, _pillow_pixels(data))


def test_only_complete_colour_or_gray_jpegs_are_left_to_opencv(meter: np.ndarray) -> None:
    """A truncated JPEG goes to Pillow, which refuses it; CMYK to Pillow, which converts it."""
    jpeg = encode_jpeg(meter)
    cmyk = _encode(_pil(meter).convert("CMYK"), "JPEG")
    png = _encode(_pil(meter), "PNG")
    kinds = {"jpeg": jpeg, "padded": jpeg + bytes(8), "cut": jpeg[:-1], "cmyk": cmyk, "png": png}
    plain = {}
    for kind, data in kinds.items():
        with Image.open(io.BytesIO(data)) as img:
            plain[kind] = _plain_jpeg(img, data)
    assert plain == {"jpeg": True, "padded": True, "cut": False, "cmyk": False, "png": False}


def test_heic_is_decoded(meter: np.ndarray) -> None:
    data = _encode(_pil(meter), "HEIF")
    assert load_image(data, max_pixels=LIMIT).shape == meter.shape


@pytest.mark.parametrize("mode", ["L", "RGBA", "P", "LA"])
def test_gray_alpha_and_palette_images_give_bgr(meter: np.ndarray, mode: str) -> None:
    data = _encode(_pil(meter).convert(mode), "PNG")
    out = load_image(data, max_pixels=LIMIT)
    assert out.shape == meter.shape and out.dtype == np.uint8


def test_arrays_of_any_layout_are_accepted(meter: np.ndarray) -> None:
    gray = meter.mean(axis=2)  # float64 gray
    assert load_image(gray, max_pixels=LIMIT).shape == meter.shape
    bgra = np.dstack([meter, np.full(meter.shape[:2], 255, np.uint8)])
    assert load_image(bgra, max_pixels=LIMIT).shape == meter.shape


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "image_empty"),
        (b"this is not an image at all", "image_corrupt"),
        (b"\xff\xd8\xff\xe0" + b"\x00" * 64, "image_corrupt"),
    ],
)
def test_broken_bytes_give_a_reason(data: bytes, reason: str) -> None:
    result = read_meter(data)
    assert (result.reading, result.reason, result.accepted) == (None, reason, False)


def test_truncated_jpeg_is_refused(meter: np.ndarray) -> None:
    data = encode_jpeg(meter)
    result = read_meter(data[: len(data) // 2])
    assert (result.reading, result.reason) == (None, "image_corrupt")


def test_tiny_image_is_refused() -> None:
    data = _encode(Image.new("RGB", (20, 12), "white"), "PNG")
    assert read_meter(data).reason == "image_too_small"


def test_decompression_bomb_is_refused_from_the_header() -> None:
    data = _encode(Image.new("L", (12_000, 9_000)), "PNG")  # 108 Mpx, a few hundred KB
    assert len(data) < 2_000_000
    assert read_meter(data).reason == "image_too_large"


def test_pixel_limit_comes_from_the_settings(meter: np.ndarray) -> None:
    data = _encode(_pil(meter), "PNG")
    strict = Settings(max_image_pixels=500_000)
    assert read_meter(data, settings=strict).reason == "image_too_large"
    with pytest.raises(ImageError) as info:
        load_image(data, max_pixels=500_000)
    assert info.value.reason == "image_too_large"


def test_a_jpeg_above_the_limit_is_read_at_the_scale_that_fits(meter: np.ndarray) -> None:
    """A phone's 200-megapixel photo is read at 1/2, 1/4 or 1/8, never whole, never refused."""
    data = encode_jpeg(meter)
    height, width = meter.shape[:2]
    limit = (width // 2) * (height // 2) + width  # the photo fits at half its size, not whole
    half = load_image(data, max_pixels=limit)
    assert half.shape[:2] == (-(-height // 2), -(-width // 2))
    assert read_meter(data, settings=Settings(max_image_pixels=limit)).reading == "00472"
    with pytest.raises(ImageError) as info:  # not even at 1/8
        load_image(data, max_pixels=(width // 9) * (height // 9))
    assert info.value.reason == "image_too_large"


def test_missing_file_path_gives_a_reason(tmp_path: Path) -> None:
    result = read_meter(tmp_path / "nope.jpg")
    assert (result.reading, result.reason) == (None, "file_unreadable")


def test_unsupported_array_shape_gives_a_reason() -> None:
    assert read_meter(np.zeros((50, 50, 2), np.uint8)).reason == "image_corrupt"


def test_the_photo_hash_of_a_jpeg_above_the_limit_is_taken_too(meter: np.ndarray) -> None:
    from intake.photos import photo_facts

    height, width = meter.shape[:2]
    limit = (width // 2) * (height // 2) + width
    within = photo_facts(encode_jpeg(meter), max_pixels=LIMIT).phash
    assert within is not None
    assert photo_facts(encode_jpeg(meter), max_pixels=limit).phash == within
    assert photo_facts(_encode(_pil(meter), "PNG"), max_pixels=limit).phash is None
