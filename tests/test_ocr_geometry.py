"""The counter and digit boxes OCR reports lie on the synthetic photo's true counter, in photo
pixels, the right way up, also when the meter is photographed rotated or upside down."""

from __future__ import annotations

import io
import itertools

import cv2
import numpy as np
import pytest
from PIL import Image

from core.types import MeterRead
from ocr import read_meter, synth

# the truth is the drums' window (taller than the digits) or a display's digits (our box adds a
# margin around them), so a box on the counter overlaps it by well over these
MIN_IOU = {"drum": 0.5, "lcd": 0.4}


def iou(a: object, b: object) -> float:
    """Intersection over union of two convex quadrilaterals."""
    p, q = np.asarray(a, np.float32), np.asarray(b, np.float32)
    inter, _ = cv2.intersectConvexConvex(p, q)
    return float(inter / (cv2.contourArea(p) + cv2.contourArea(q) - inter))


def _read(photo: synth.Photo, **options: object) -> MeterRead:
    return read_meter(photo.image, integer_digits=5, meter_number=False, **options)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kind", "angle", "perspective"),
    [
        ("drum", 0, 0.0),
        ("drum", 15, 0.1),
        ("drum", 90, 0.0),
        ("drum", 170, 0.1),
        ("lcd", 0, 0.0),
        ("lcd", -30, 0.05),
    ],
)
def test_counter_box_overlaps_the_true_counter(kind: str, angle: float, perspective: float) -> None:
    render = synth.drum_meter_photo if kind == "drum" else synth.lcd_meter_photo
    photo = render("04711", "23" if kind == "drum" else "2", angle=angle,
                   perspective=perspective, seed=1, noise=3)  # fmt: skip
    result = _read(photo)
    assert result.reading is not None and result.reading.endswith("4711")
    assert len(result.counter_box) == 4
    assert iou(result.counter_box, photo.counter) >= MIN_IOU[kind]
    assert len(result.digit_boxes) == len(result.reading) + len(result.fraction or "")
    truth = photo.counter.astype(np.float32)
    centres = [np.mean(box, axis=0) for box in result.digit_boxes]
    for centre in centres:  # every digit on the counter
        inside = cv2.pointPolygonTest(truth, (float(centre[0]), float(centre[1])), True)
        assert inside >= -3
    reading_way = truth[1] - truth[0]  # the truth's top edge, left to right as the digits read
    steps = [float(np.dot(b - a, reading_way)) for a, b in itertools.pairwise(centres)]
    assert all(step > 0 for step in steps)  # first digit first, also on a turned photo


def test_boxes_are_in_the_upright_photos_pixels() -> None:
    """A photo stored larger than the work size, and one turned by its EXIF orientation: the
    boxes are where the counter is on the full-size upright photo."""
    photo = synth.drum_meter_photo("04711", "23", angle=180, seed=2)
    big = cv2.resize(photo.image, None, fx=2, fy=2, interpolation=cv2.INTER_CUBIC)
    result = read_meter(synth.encode_jpeg(big), integer_digits=5, meter_number=False)
    assert result.reading is not None
    assert iou(result.counter_box, photo.counter * 2) >= MIN_IOU["drum"]
    first, last = result.digit_boxes[0], result.digit_boxes[-1]
    assert np.mean(first, axis=0)[0] > np.mean(last, axis=0)[0]  # upside down: read right to left

    turned = cv2.rotate(photo.image, cv2.ROTATE_90_CLOCKWISE)  # stored sideways ...
    exif = _with_orientation(synth.encode_jpeg(turned), 8)  # ... shown upright by EXIF
    upright = read_meter(exif, integer_digits=5, meter_number=False)
    assert iou(upright.counter_box, photo.counter) >= MIN_IOU["drum"]


def test_no_counter_no_boxes() -> None:
    result = read_meter(synth.render_unreadable(seed=3), integer_digits=5, meter_number=False)
    assert result.reading is None
    assert (result.counter_box, result.digit_boxes) == ((), ())


def _with_orientation(jpeg: bytes, orientation: int) -> bytes:
    with Image.open(io.BytesIO(jpeg)) as img:
        exif = img.getexif()
        exif[0x0112] = orientation
        out = io.BytesIO()
        img.save(out, "JPEG", quality=95, exif=exif.tobytes())
    return out.getvalue()
