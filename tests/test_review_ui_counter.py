"""The counter up close on the task page: the crop OCR's counter box gives (served like the photos:
clerks only, never cached), the digit boxes on it, the one-digit alternatives, no crop where OCR
stored no box; and previous / next task relative to the one shown."""

from __future__ import annotations

import datetime as dt
import io
import re

import numpy as np
from fastapi.testclient import TestClient
from PIL import Image

from core.context import AppContext
from review_ui.counter_view import CROP_WIDTH
from tests.conftest import FrozenClock
from tests.ui_seed import (
    PHOTO_COUNTER,
    Seeded,
    add_ocr_details,
    counter_details,
    login,
    meter_photo,
    post_decision,
    seed_task,
)


def _crop(client: TestClient, photo_id: int) -> np.ndarray:
    response = client.get(f"/photos/{photo_id}/counter")
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/jpeg"
    assert response.headers["cache-control"] == "no-store"
    return np.asarray(Image.open(io.BytesIO(response.content)).convert("RGB")).astype(int)


def _redness(strip: np.ndarray) -> float:
    return float((strip[..., 0] - np.maximum(strip[..., 1], strip[..., 2])).mean())


def test_crop_shows_the_counter_level_and_the_right_way_up(
    ctx: AppContext, client: TestClient, seeded: Seeded
) -> None:
    """On a photo taken upside down the box read starts at the photo's bottom right: the crop
    is turned back, so the red decimal drum ends up on the right."""
    add_ocr_details(ctx, seeded.photo_id, counter_details(PHOTO_COUNTER, 7))
    login(client)
    upright = _crop(client, seeded.photo_id)
    height, width = upright.shape[:2]
    assert width == CROP_WIDTH and height == round(CROP_WIDTH * 80 / 452)
    eighth = width // 8
    assert _redness(upright[:, -eighth:]) > 40 > _redness(upright[:, :eighth])
    assert upright.mean() < 120  # the dark drums, not the light meter body

    turned = Image.open(io.BytesIO(meter_photo())).rotate(180)
    data = io.BytesIO()
    turned.save(data, "PNG")
    other = seed_task(ctx, key="2", photo_bytes=data.getvalue())
    w, h = turned.size
    add_ocr_details(
        ctx, other.photo_id, counter_details([(w - x, h - y) for x, y in PHOTO_COUNTER], 7)
    )
    crop = _crop(client, other.photo_id)
    assert crop.shape == upright.shape
    assert _redness(crop[:, -eighth:]) > 40 > _redness(crop[:, :eighth])
    assert np.abs(crop - upright).mean() < 12  # the same counter, the same way up


def test_crop_of_a_large_jpeg_is_decoded_smaller_and_the_same(
    ctx: AppContext, client: TestClient, seeded: Seeded
) -> None:
    add_ocr_details(ctx, seeded.photo_id, counter_details(PHOTO_COUNTER, 7))
    login(client)
    small = _crop(client, seeded.photo_id)
    photo = Image.open(io.BytesIO(meter_photo()))
    big = photo.resize((photo.width * 4, photo.height * 4), Image.Resampling.BICUBIC)
    data = io.BytesIO()
    big.save(data, "JPEG", quality=92)
    other = seed_task(ctx, key="2", photo_bytes=data.getvalue())
    corners = [(4 * x, 4 * y) for x, y in PHOTO_COUNTER]  # 1808 px long: decoded at half size
    add_ocr_details(ctx, other.photo_id, counter_details(corners, 7))
    crop = _crop(client, other.photo_id)
    assert crop.shape == small.shape
    assert np.abs(crop - small).mean() < 12


def test_a_jpeg_above_the_pixel_limit_is_shown_and_cropped_at_the_scale_that_fits(
    ctx: AppContext, client: TestClient, seeded: Seeded
) -> None:
    add_ocr_details(ctx, seeded.photo_id, counter_details(PHOTO_COUNTER, 7))
    login(client)
    small = _crop(client, seeded.photo_id)
    photo = Image.open(io.BytesIO(meter_photo()))
    big = photo.resize((photo.width * 4, photo.height * 4), Image.Resampling.BICUBIC)
    data = io.BytesIO()
    big.save(data, "JPEG", quality=92)
    other = seed_task(ctx, key="2", photo_bytes=data.getvalue())
    add_ocr_details(
        ctx, other.photo_id, counter_details([(4 * x, 4 * y) for x, y in PHOTO_COUNTER], 7)
    )
    ctx.settings.max_image_pixels = photo.width * photo.height * 2  # fits at 1/2, not whole
    shown = client.get(f"/photos/{other.photo_id}")
    assert (shown.status_code, shown.headers["content-type"]) == (200, "image/jpeg")
    assert client.get(f"/photos/{other.photo_id}?thumb=1").status_code == 200
    crop = _crop(client, other.photo_id)
    assert crop.shape == small.shape
    assert np.abs(crop - small).mean() < 12
    as_png = io.BytesIO()
    big.save(as_png, "PNG")  # no scaled decoding: refused from its header
    refused = seed_task(ctx, key="3", photo_bytes=as_png.getvalue())
    assert client.get(f"/photos/{refused.photo_id}").status_code == 415


def test_task_page_shows_crop_digit_boxes_and_alternatives(
    ctx: AppContext, client: TestClient, seeded: Seeded
) -> None:
    add_ocr_details(ctx, seeded.photo_id, counter_details(PHOTO_COUNTER, 7))
    login(client)
    page = client.get(f"/tasks/{seeded.task_id}").text
    assert f'src="/photos/{seeded.photo_id}/counter"' in page
    spots = re.findall(r'<rect class="digit-spot[^"]*" x="([\d.]+)"', page)
    assert len(spots) == 7 and float(spots[0]) < float(spots[-1])
    # the fifth digit (4 at 52 %) offers 9; it is the third from the right of 12.345,6
    assert 'class="alternative" data-from-right="3" data-digit="9" title="31 %"' in page
    assert 'data-task="' in page  # previous / next are relative to this task


def test_no_box_no_crop_and_no_error(ctx: AppContext, client: TestClient, seeded: Seeded) -> None:
    login(client)
    page = client.get(f"/tasks/{seeded.task_id}")
    assert page.status_code == 200
    assert "/counter" not in page.text and "digit-spot" not in page.text
    assert 'class="alternative"' in page.text  # the alternatives still fix a digit
    assert client.get(f"/photos/{seeded.photo_id}/counter").status_code == 404
    add_ocr_details(ctx, seeded.photo_id, {"counter_box": [[1, 2], [3]], "digit_boxes": "x"})
    assert client.get(f"/tasks/{seeded.task_id}").status_code == 200
    assert client.get(f"/photos/{seeded.photo_id}/counter").status_code == 404


def test_crop_needs_a_clerk(ctx: AppContext, client: TestClient, seeded: Seeded) -> None:
    add_ocr_details(ctx, seeded.photo_id, counter_details(PHOTO_COUNTER, 7))
    response = client.get(f"/photos/{seeded.photo_id}/counter", follow_redirects=False)
    assert response.status_code == 303 and "/login" in response.headers["location"]


def test_previous_and_next_task(ctx: AppContext, client: TestClient, clock: FrozenClock) -> None:
    first, second, third = (
        seed_task(ctx, key=str(k), received_at=clock() - dt.timedelta(hours=9 - k))
        for k in (1, 2, 3)
    )
    csrf = login(client)

    def goes(path: str) -> str:
        return client.get(path, follow_redirects=False).headers["location"]

    assert goes(f"/tasks/{first.task_id}/next") == f"/tasks/{second.task_id}"
    assert goes(f"/tasks/{third.task_id}/previous") == f"/tasks/{second.task_id}"
    assert goes(f"/tasks/{first.task_id}/previous") == f"/tasks/{first.task_id}"  # none before
    assert goes(f"/tasks/{third.task_id}/next") == "/queue"
    fields = {"action": "accept", "value": "12.345,6", "meter_id": str(second.meter_id)}
    assert post_decision(client, csrf, second.task_id, **fields).status_code == 303
    assert goes(f"/tasks/{first.task_id}/next") == f"/tasks/{third.task_id}"  # work skips it
    assert goes(f"/tasks/{third.task_id}/previous") == f"/tasks/{second.task_id}"  # mine: back
