"""Synthetic meter photos with known values, for tests, the demo and training data.

`render_drum_meter` draws a water/gas-style meter: a round body, a white dial with printed text
and the serial number, and a counter window with black integer drums (white digits) and red
decimal drums. `render_lcd_meter` draws a digital meter with a 7-segment display. Both then
"photograph" the meter: background, rotation, perspective, glare, blur and sensor noise.
`render_unreadable` gives a photo of a wall. All functions return BGR `uint8` arrays
(`drum_meter_photo` and `lcd_meter_photo` also where the counter is on it);
`encode_jpeg` turns one into mail-attachment bytes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import cv2
import numpy as np
from PIL import Image as PILImage
from PIL import ImageDraw, ImageFont

Image = np.ndarray
Box = tuple[int, int, int, int]  # x0, y0, x1, y1 on the meter's body


@dataclass(frozen=True)
class Photo:
    """A synthetic photo and where its counter is: four corners (x, y), top left, top right,
    bottom right, bottom left as the digits read (the drums' window, or a display's digits)."""

    image: Image
    counter: np.ndarray


CANVAS = 900
# segments a..g as (x0, y0, x1, y1) in a 10 x 18 unit cell
_SEGMENTS = {
    "a": (1, 0, 9, 0),
    "b": (9, 0, 9, 9),
    "c": (9, 9, 9, 18),
    "d": (1, 18, 9, 18),
    "e": (1, 9, 1, 18),
    "f": (1, 0, 1, 9),
    "g": (1, 9, 9, 9),
}
_DIGIT_SEGMENTS = {
    "0": "abcdef",
    "1": "bc",
    "2": "abdeg",
    "3": "abcdg",
    "4": "bcfg",
    "5": "acdfg",
    "6": "acdefg",
    "7": "abc",
    "8": "abcdefg",
    "9": "abcdfg",
}


def encode_jpeg(image: Image, *, quality: int = 90) -> bytes:
    """JPEG bytes as a phone would attach them."""
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:  # pragma: no cover - only for an empty image
        raise ValueError("cannot encode image")
    return bytes(buf.tobytes())


@lru_cache(maxsize=32)
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    # Pillow's built-in scalable face: the same glyphs on every machine and with every OpenCV
    # (cv2.putText's glyphs changed between OpenCV 5.0 and 5.1)
    return ImageFont.load_default(size=size)


def _text_box(text: str, size: int) -> tuple[int, int, int, int]:
    """(left, top, right, bottom) of `text` relative to its left end on the baseline."""
    box = _font(size).getbbox(text, anchor="ls")
    return int(box[0]), int(box[1]), int(box[2]), int(box[3])


def _put_text(
    img: Image,
    text: str,
    org: tuple[int, int],
    size: int,
    colour: tuple[int, int, int],
    stroke: int = 0,
) -> None:
    """Draw `text` anti-aliased into `img` (BGR), `org` its left end on the baseline."""
    mask = PILImage.new("L", (img.shape[1], img.shape[0]), 0)
    ImageDraw.Draw(mask).text(
        org, text, fill=255, font=_font(size), anchor="ls", stroke_width=stroke, stroke_fill=255
    )
    alpha = np.asarray(mask, np.float32)[..., None] / 255.0
    img[:] = (img * (1 - alpha) + np.array(colour, np.float32) * alpha).astype(np.uint8)


def _background(rng: np.random.Generator, size: int = CANVAS) -> Image:
    """A cellar wall: a base colour, low-frequency shading and fine texture."""
    base = rng.integers(60, 200, size=3).astype(np.float32)
    low = cv2.resize(rng.normal(0, 25, (6, 6, 1)).astype(np.float32), (size, size))
    fine = rng.normal(0, 6, (size, size, 1)).astype(np.float32)
    img = base[None, None, :] + low[..., None] + fine
    y = np.linspace(-1, 1, size, dtype=np.float32)[:, None, None]
    img = img * (1.0 - 0.25 * y * y)
    if rng.random() < 0.7:  # a pipe behind the meter
        colour = tuple(int(c) for c in rng.integers(90, 220, size=3))
        cv2.rectangle(img, (size // 2 - 60, 0), (size // 2 + 60, size), colour, -1)
    return np.clip(img, 0, 255).astype(np.uint8)


def _drum_cell(ch: str, w: int, h: int, *, red: bool, roll: float = 0.0) -> Image:
    """One drum: white digit on black (or red); `roll` in [0, 1) shows the next digit coming."""
    bg = (40, 40, 200) if red else (25, 25, 25)
    strip = np.zeros((2 * h, w, 3), np.uint8)
    strip[:] = bg
    nxt = str((int(ch) + 1) % 10)
    for i, c in enumerate((ch, nxt)):
        size = int(h * 0.8)  # emboldened, the 5 closes up and reads as 6
        left, top, right, _ = _text_box(c, size)
        org = ((w - (right - left)) // 2 - left, i * h + (h - top) // 2)
        _put_text(strip, c, org, size, (235, 235, 235))
    off = round(roll * h)
    cell = strip[off : off + h].copy()
    shade = np.linspace(0.55, 1.0, h // 2, dtype=np.float32)
    shade = np.concatenate([shade, shade[::-1], [0.55] * (h - 2 * (h // 2))])[:, None, None]
    return (cell.astype(np.float32) * shade).astype(np.uint8)


def _counter(reading: str, fraction: str, rolling_digit: int | None, seed: int) -> Image:
    """The counter window: a row of drums with thin gaps."""
    w, h, gap = 34, 52, 5
    chars = [(c, False) for c in reading] + [(c, True) for c in fraction]
    width = len(chars) * (w + gap) + gap
    win = np.full((h + 2 * gap, width, 3), 200, np.uint8)
    roll = 0.3 + 0.4 * np.random.default_rng(seed).random()
    for i, (c, red) in enumerate(chars):
        x = gap + i * (w + gap)
        win[gap : gap + h, x : x + w] = _drum_cell(
            c, w, h, red=red, roll=roll if i == rolling_digit else 0
        )
    return win


def _dial(rng: np.random.Generator, size: int, ring: tuple[int, int, int]) -> Image:
    img = np.zeros((size, size, 3), np.uint8)
    c = size // 2
    cv2.circle(img, (c, c), c - 2, ring, -1, cv2.LINE_AA)
    cv2.circle(img, (c, c), int(c * 0.86), (235, 238, 240), -1, cv2.LINE_AA)
    cv2.circle(img, (c, c), int(c * 0.86), (150, 150, 150), 2, cv2.LINE_AA)
    return img


def _paste(dst: Image, src: Image, x: int, y: int) -> None:
    h, w = src.shape[:2]
    dst[y : y + h, x : x + w] = src


def _meter_body(
    counter: Image, rng: np.random.Generator, meter_number: str | None
) -> tuple[Image, Box]:
    """Round meter with brand text, units, the counter window and the serial number; and where
    the counter window is on it."""
    size = 560
    ring = tuple(int(c) for c in rng.choice([(170, 90, 20), (40, 40, 180), (200, 200, 200)]))
    img = _dial(rng, size, ring)  # type: ignore[arg-type]
    ch, cw = counter.shape[:2]
    scale = min(1.0, 380 / cw)
    counter = cv2.resize(counter, (int(cw * scale), int(ch * scale)), interpolation=cv2.INTER_AREA)
    ch, cw = counter.shape[:2]
    x0, y0 = (size - cw) // 2, int(size * 0.40)
    cv2.rectangle(img, (x0 - 6, y0 - 6), (x0 + cw + 6, y0 + ch + 6), (60, 60, 60), 3)
    _paste(img, counter, x0, y0)
    dark = (30, 30, 30)
    _put_text(img, "AQUA-MET", (size // 2 - 95, int(size * 0.28)), 40, (40, 40, 170), 1)
    _put_text(img, "m3", (x0 + cw + 12, y0 + ch - 4), 30, dark)
    _put_text(img, "Qn 1,5 m3/h  T30", (size // 2 - 110, int(size * 0.66)), 26, dark)
    if meter_number:
        text = f"Nr {meter_number}"
        left, _, right, _ = _text_box(text, 33)
        _put_text(img, text, ((size - (right - left)) // 2, int(size * 0.76)), 33, dark)
    for k in range(10):  # the small litre dial
        a = 2 * math.pi * k / 10
        p = (int(size * 0.5 + 40 * math.sin(a)), int(size * 0.86 - 40 * math.cos(a)))
        cv2.circle(img, p, 3, (40, 40, 170), -1)
    return img, (x0, y0, x0 + cw, y0 + ch)


def _seven_segment(text: str, height: int, colour: tuple[int, int, int], bg: Image) -> Box:
    """Draw `text` (digits and '.') as 7-segment characters onto `bg`, right-aligned; the box
    the characters take."""
    unit = height / 20.0
    thick = max(2, int(unit * 1.6))
    x = right = bg.shape[1] - int(unit * 4)
    y0 = (bg.shape[0] - height) // 2 + int(unit)
    for ch in reversed(text):
        if ch == ".":
            cv2.circle(bg, (x - int(unit * 1.5), y0 + int(18 * unit)), thick, colour, -1)
            x -= int(unit * 3)
            continue
        x -= int(unit * 13)
        for seg in _DIGIT_SEGMENTS.get(ch, ""):
            x0s, y0s, x1s, y1s = _SEGMENTS[seg]
            p0 = (x + int(x0s * unit), y0 + int(y0s * unit))
            p1 = (x + int(x1s * unit), y0 + int(y1s * unit))
            cv2.line(bg, p0, p1, colour, thick, cv2.LINE_AA)
    return x, y0, right - int(unit * 3), y0 + int(18 * unit)


def _lcd_body(
    reading: str, fraction: str, rng: np.random.Generator, meter_number: str | None
) -> tuple[Image, Box]:
    w, h = 560, 420
    body = np.full((h, w, 3), (225, 228, 230), np.uint8)
    cv2.rectangle(body, (0, 0), (w - 1, h - 1), (120, 120, 120), 4)
    panel = np.full((120, 420, 3), (120, 150, 135), np.uint8)
    text = reading + ("." + fraction if fraction else "")
    ghost = np.zeros_like(panel)
    _seven_segment(
        "8" * len(reading) + ("." + "8" * len(fraction) if fraction else ""), 80, (1, 1, 1), ghost
    )
    panel = np.where(ghost > 0, panel - 12, panel).astype(np.uint8)
    x0, y0, x1, y1 = _seven_segment(text, 80, (25, 35, 30), panel)
    _paste(body, panel, 70, 90)
    cv2.rectangle(body, (66, 86), (494, 214), (60, 60, 60), 3)
    dark = (30, 30, 30)
    _put_text(body, "kWh", (420, 250), 33, dark)
    _put_text(body, "STROM-TEC  1.8.0", (70, 60), 30, dark)
    if meter_number:
        _put_text(body, f"Nr {meter_number}", (70, 330), 33, dark)
    return body, (70 + x0, 90 + y0, 70 + x1, 90 + y1)


def _warp(
    body: Image, angle: float, perspective: float, rng: np.random.Generator
) -> tuple[Image, np.ndarray]:
    """Place the body on a background, rotated and seen at an angle; and the perspective
    transform from body to photo."""
    bg = _background(rng)
    bh, bw = body.shape[:2]
    half = np.array([[-bw / 2, -bh / 2], [bw / 2, -bh / 2], [bw / 2, bh / 2], [-bw / 2, bh / 2]])
    a = math.radians(angle)
    rot = np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])
    squeeze = np.array([1 - perspective, 1 - perspective, 1 + perspective, 1 + perspective])
    pts = half * np.array([1, 1]) * np.stack([squeeze, np.ones(4)], axis=1)
    dst = pts @ rot.T + CANVAS / 2 + rng.normal(0, 4, (4, 2))
    src = np.array([[0, 0], [bw, 0], [bw, bh], [0, bh]], np.float32)
    m = cv2.getPerspectiveTransform(src, dst.astype(np.float32))
    mask = np.zeros((bh, bw), np.uint8)
    if bw == bh:
        cv2.circle(mask, (bw // 2, bh // 2), bw // 2 - 1, 255, -1, cv2.LINE_AA)
    else:
        mask[:] = 255
    warped = cv2.warpPerspective(body, m, (CANVAS, CANVAS), flags=cv2.INTER_LINEAR)
    wmask = cv2.warpPerspective(mask, m, (CANVAS, CANVAS)).astype(np.float32)[..., None] / 255
    return (warped * wmask + bg * (1 - wmask)).astype(np.uint8), m


def _photo_effects(
    img: Image, *, blur: float, glare: bool, noise: float, rng: np.random.Generator
) -> Image:
    out: np.ndarray = img.astype(np.float32)
    if glare:
        spot = np.zeros(img.shape[:2], np.float32)
        cx, cy = (int(v) for v in rng.integers(CANVAS // 3, 2 * CANVAS // 3, size=2))
        cv2.ellipse(spot, (cx, cy), (110, 45), float(rng.uniform(0, 180)), 0, 360, 1.0, -1)
        glow: np.ndarray = cv2.GaussianBlur(spot, (0, 0), 25)
        out = out + glow[..., None] * 140
    if blur > 0:
        out = cv2.GaussianBlur(out, (0, 0), blur)
    if noise > 0:
        out = out + rng.normal(0, noise, out.shape)
    return np.clip(out, 0, 255).astype(np.uint8)


def drum_meter_photo(
    reading: str,
    fraction: str = "",
    *,
    angle: float = 0,
    perspective: float = 0,
    blur: float = 0,
    glare: bool = False,
    noise: float = 0,
    seed: int = 0,
    rolling_digit: int | None = None,
    meter_number: str | None = None,
) -> Photo:
    """A photo of a drum meter showing `reading` (black drums) and `fraction` (red drums), and
    where its counter window is.

    `rolling_digit` (index into reading + fraction) shows that drum caught between its digit and the
    next one; by convention the lower digit is the reading. `angle` in degrees (counter-clockwise),
    `perspective` 0..0.4 tilts the meter, `blur` is a Gaussian sigma, `noise` a pixel sigma.
    """
    if not reading.isdigit() or (fraction and not fraction.isdigit()):
        raise ValueError("reading and fraction must be digits")
    rng = np.random.default_rng(seed)
    body, window = _meter_body(_counter(reading, fraction, rolling_digit, seed), rng, meter_number)
    img, m = _warp(body, angle, perspective, rng)
    return Photo(_photo_effects(img, blur=blur, glare=glare, noise=noise, rng=rng), _on(m, window))


def lcd_meter_photo(
    reading: str,
    fraction: str = "",
    *,
    angle: float = 0,
    perspective: float = 0,
    blur: float = 0,
    glare: bool = False,
    noise: float = 0,
    seed: int = 0,
    meter_number: str | None = None,
) -> Photo:
    """A photo of a digital meter whose 7-segment display shows `reading[.fraction]`, and
    where the digits are."""
    if not reading.isdigit() or (fraction and not fraction.isdigit()):
        raise ValueError("reading and fraction must be digits")
    rng = np.random.default_rng(seed)
    body, digits = _lcd_body(reading, fraction, rng, meter_number)
    img, m = _warp(body, angle, perspective, rng)
    return Photo(_photo_effects(img, blur=blur, glare=glare, noise=noise, rng=rng), _on(m, digits))


def render_drum_meter(reading: str, fraction: str = "", **options: Any) -> Image:
    """The image of `drum_meter_photo` (same arguments)."""
    return drum_meter_photo(reading, fraction, **options).image


def render_lcd_meter(reading: str, fraction: str = "", **options: Any) -> Image:
    """The image of `lcd_meter_photo` (same arguments)."""
    return lcd_meter_photo(reading, fraction, **options).image


def _on(m: np.ndarray, box: Box) -> np.ndarray:
    """The corners of `box` (top left, top right, bottom right, bottom left) after `m`."""
    x0, y0, x1, y1 = box
    corners = np.array([[[x0, y0], [x1, y0], [x1, y1], [x0, y1]]], np.float64)
    return np.asarray(cv2.perspectiveTransform(corners, m)[0])


def render_unreadable(*, seed: int = 0, kind: str = "wall") -> Image:
    """A photo nobody can read: a bare wall (`kind="wall"`) or a meter blurred beyond use."""
    rng = np.random.default_rng(seed)
    if kind == "blur":
        return render_drum_meter("12345", "678", seed=seed, blur=14, noise=6)
    return _photo_effects(_background(rng), blur=1.5, glare=False, noise=4, rng=rng)


def render_digit_cell(digit: int, *, kind: str = "drum", roll: float = 0.0, seed: int = 0) -> Image:
    """One digit cell as the counter shows it (for training the digit model and for tests).

    `kind="drum"`: a drum, randomly black or red, `roll` in [0, 1) towards the next digit;
    `kind="lcd"`: a 7-segment digit on a grey-green panel.
    """
    rng = np.random.default_rng(seed)
    if kind == "lcd":
        h = int(rng.integers(48, 72))
        unit = h / 20.0
        panel = np.full((h + 16, int(24 * unit), 3), rng.integers(140, 220, size=3), np.uint8)
        ink = tuple(int(c) for c in rng.integers(10, 60, size=3))
        _seven_segment(str(digit), h, ink, panel)  # type: ignore[arg-type]
        return panel[:, int(5 * unit) : int(19 * unit)].copy()
    return _drum_cell(str(digit), 34, 52, red=bool(rng.random() < 0.3), roll=roll)
