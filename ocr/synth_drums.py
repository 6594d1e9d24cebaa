"""Synthetic photos of drum counters of many makes: Ferraris electricity meters, bellows gas
meters and water meters with pointer dials, each drawn in a style drawn at random from a seed.

`DrumStyle` says what a make looks like (how many black and red drums, black drums with white
digits or white drums with black digits, a red frame instead of a red drum, the window's frame,
light frames around the drums, the place values under them, the housing, the unit, the disc
window or the pointer dials); `random_style(kind, rng)` draws one;
`render_counter_meter` draws a meter in a style and photographs it like `ocr.synth` does
(background, rotation, perspective, glare, blur, noise). Everything is seeded: the same arguments
give the same pixels (text in Pillow's built-in face, as in `ocr.synth`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any, Literal

import cv2
import numpy as np

from ocr.synth import Image, _photo_effects, _put_text, _text_box, _warp

Kind = Literal["ferraris", "gas", "water"]
KINDS: tuple[Kind, ...] = ("ferraris", "gas", "water")
Colour = tuple[int, int, int]  # BGR
Box = tuple[int, int, int, int]  # x0, y0, x1, y1

_BLACK: Colour = (28, 28, 28)
_WHITE: Colour = (232, 234, 236)
_RED: Colour = (40, 40, 196)


@dataclass(frozen=True)
class DrumStyle:
    """How one make of drum counter looks."""

    kind: Kind
    integer_digits: int  # black (or white) integer drums
    decimals: int  # decimal drums after them
    white_drums: bool  # white drums with black digits (else black drums with white digits)
    red_frame: bool  # the decimal drums framed in red, in the integer drums' colours
    red_digits: bool  # decimal drums with red digits on white (else white digits on red)
    window_frame: bool  # a visible frame around the drum window
    housing: Colour
    plate: Colour  # the face the counter sits on
    unit: str
    drum_w: int
    drum_h: int
    gap: int
    condensed: float  # digit width relative to the face's
    dials: int  # small red pointer dials beside the drums (water)
    disc: bool  # the Ferraris disc's window below the counter
    # light (white or metallic) frames around each drum: rims above and below, bars between
    drum_frame: int = 0  # their grey level, 0: none
    bezel: Colour = (70, 70, 70)  # the window's frame (with `window_frame`): dark or bright
    scale: bool = False  # each drum's place value printed under it (10000 ... 1 1/10)
    metallic: bool = False  # a brushed metal faceplate (a grey gradient) instead of a flat one
    dark_face: int = _BLACK[0]  # grey level of the dark drums (black, or metallic grey)
    # the unit printed light on the window's dark band right of the drums, about the drums'
    # digits' size, on the drums' line (else dark on the plate beside the window)
    unit_in_window: bool = False


def random_style(kind: Kind, rng: np.random.Generator) -> DrumStyle:
    """A make of `kind` drawn at random: Ferraris 5-7 integer drums and one decimal drum (red,
    or framed in red), often with light frames around the drums, a bright bezel, the place
    values under the drums, grey drums or a metal faceplate; gas 5 black and 3 red drums in a
    yellow or grey housing; water 5 black drums, 0-3 red ones and 3-4 pointer dials."""
    drum_h = int(rng.integers(44, 64))
    look = _Look(
        drum_w=int(drum_h * rng.uniform(0.62, 0.8)),
        drum_h=drum_h,
        gap=int(rng.integers(2, 9)),
        condensed=float(rng.uniform(0.8, 1.05)),
        window_frame=bool(rng.random() < 0.7),
    )
    if kind == "ferraris":
        grey = int(rng.integers(40, 225))
        return look.style(
            kind,
            integer_digits=int(rng.integers(5, 8)),
            decimals=1,
            white_drums=bool(rng.random() < 0.45),
            red_frame=bool(rng.random() < 0.4),
            red_digits=bool(rng.random() < 0.4),
            housing=(grey, grey, grey + 8),
            plate=_pick(rng, [(236, 238, 240), (214, 220, 222), (196, 206, 214)]),
            unit="kWh",
            dials=0,
            disc=True,
            drum_frame=int(rng.integers(150, 236)) if rng.random() < 0.5 else 0,
            bezel=_grey(int(rng.integers(190, 246))) if rng.random() < 0.4 else (70, 70, 70),
            scale=bool(rng.random() < 0.5),
            metallic=bool(rng.random() < 0.3),
            dark_face=int(rng.integers(60, 120)) if rng.random() < 0.4 else _BLACK[0],
        )
    if kind == "gas":
        return look.style(
            kind,
            integer_digits=5,
            decimals=3,
            white_drums=bool(rng.random() < 0.2),
            red_frame=False,
            red_digits=bool(rng.random() < 0.2),
            housing=_pick(rng, [(40, 200, 235), (60, 170, 220), (175, 178, 180), (205, 205, 200)]),
            plate=_pick(rng, [(236, 238, 240), (35, 35, 35), (200, 205, 208)]),
            unit="m3",
            dials=0,
            disc=False,
        )
    return look.style(
        kind,
        integer_digits=5,
        decimals=int(rng.integers(0, 4)),
        white_drums=bool(rng.random() < 0.3),
        red_frame=False,
        red_digits=bool(rng.random() < 0.3),
        housing=_pick(rng, [(170, 90, 20), (40, 40, 180), (200, 200, 200), (60, 130, 60)]),
        plate=(235, 238, 240),
        unit="m3",
        dials=int(rng.integers(3, 5)),
        disc=False,
    )


@dataclass(frozen=True)
class _Look:
    """The drums' geometry, drawn before the kind's own features."""

    drum_w: int
    drum_h: int
    gap: int
    condensed: float
    window_frame: bool

    def style(self, kind: Kind, **features: Any) -> DrumStyle:
        return DrumStyle(kind=kind, **features, **self.__dict__)


def _grey(level: int) -> Colour:
    return (level, level, level)


def _pick(rng: np.random.Generator, colours: list[Colour]) -> Colour:
    return colours[int(rng.integers(len(colours)))]


def _digit_strip(ch: str, style: DrumStyle, face: Colour, ink: Colour) -> Image:
    """Two drum faces stacked: `ch` and the digit after it (for a drum caught rolling)."""
    w, h = style.drum_w, style.drum_h
    strip = np.zeros((2 * h, w, 3), np.uint8)
    strip[:] = face
    size = int(h * 0.78)
    for i, c in enumerate((ch, str((int(ch) + 1) % 10))):
        glyph = np.zeros((h, 2 * w, 3), np.uint8)
        glyph[:] = face
        left, top, right, _ = _text_box(c, size)
        org = ((2 * w - (right - left)) // 2 - left, (h - top) // 2)
        _put_text(glyph, c, org, size, ink)  # not emboldened: the face's 5 would close up
        squeezed = max(1, round(2 * w * style.condensed))
        narrow = cv2.resize(glyph, (squeezed, h), interpolation=cv2.INTER_AREA)
        x0 = (squeezed - w) // 2
        if x0 >= 0:
            strip[i * h : (i + 1) * h] = narrow[:, x0 : x0 + w]
        else:
            strip[i * h : (i + 1) * h, -x0 : -x0 + squeezed] = narrow
    return strip


def _drum(ch: str, style: DrumStyle, *, decimal: bool, roll: float) -> Image:
    """One drum as seen through the window, shaded by its curvature."""
    face, ink = (_WHITE, _BLACK) if style.white_drums else (_grey(style.dark_face), _WHITE)
    if decimal and not style.red_frame:
        face, ink = (_WHITE, _RED) if style.red_digits else (_RED, _WHITE)
    h = style.drum_h
    off = round(roll * h)
    cell = _digit_strip(ch, style, face, ink)[off : off + h].astype(np.float32)
    half = np.linspace(0.6, 1.0, h // 2, dtype=np.float32)
    shade = np.concatenate([half, half[::-1], [0.6] * (h - 2 * (h // 2))])[:, None, None]
    return (cell * shade).astype(np.uint8)


def counter_window(reading: str, fraction: str, style: DrumStyle, roll: float) -> Image:
    """The drums in their window; `roll` > 0 catches the last drum between two digits."""
    chars = [(c, False) for c in reading] + [(c, True) for c in fraction]
    w, h, gap = style.drum_w, style.drum_h, style.gap
    pad = max(gap, 4, _frame_width(style) + 2)
    scale_h = int(0.42 * h) if style.scale else 0
    drums_w = len(chars) * (w + gap) - gap + 2 * pad
    unit_w = _unit_band(style)
    win = np.zeros((h + 2 * pad + scale_h, drums_w + unit_w, 3), np.uint8)
    win[:] = (20, 20, 20) if not style.white_drums else (90, 90, 90)
    if unit_w:
        win[:, drums_w:] = (20, 20, 20)
        size = int(h * 0.7)
        _put_text(win, style.unit, (drums_w + gap, pad + int(h * 0.78)), size, _WHITE)
    for i, (c, decimal) in enumerate(chars):
        x = pad + i * (w + gap)
        last = i == len(chars) - 1
        win[pad : pad + h, x : x + w] = _drum(c, style, decimal=decimal, roll=roll if last else 0)
        if style.drum_frame:
            _drum_frame(win, (x, pad), style)
        if decimal and style.red_frame:
            cv2.rectangle(win, (x - 2, pad - 3), (x + w + 1, pad + h + 2), _RED, 3)
    if style.scale:
        _place_values(win, len(reading), len(fraction), pad, style)
    return win


def _unit_band(style: DrumStyle) -> int:
    """Width of the window's band right of the drums that holds the unit (0: none)."""
    if not style.unit_in_window:
        return 0
    return _text_box(style.unit, int(style.drum_h * 0.7))[2] + 3 * style.gap + 6


def _pen_marks(win: Image, count: int, rng: np.random.Generator) -> None:
    """`count` strokes of a marker pen across the glass (installers and readers write on
    meters), each a wavy line from above the window to below it, light or dark."""
    h, w = win.shape[:2]
    for _ in range(count):
        x = float(rng.uniform(0.1, 0.9)) * w
        ys = np.linspace(-0.2 * h, 1.2 * h, 6)
        xs = x + np.cumsum(rng.normal(0, 0.12 * h, 6))
        points = np.stack([xs, ys], axis=1).astype(np.int32)
        colour = _WHITE if rng.random() < 0.7 else (150, 60, 30)
        thickness = max(2, int(h * float(rng.uniform(0.05, 0.1))))
        cv2.polylines(win, [points], False, colour, thickness, cv2.LINE_AA)


_HERSHEY = (cv2.FONT_HERSHEY_SIMPLEX, cv2.FONT_HERSHEY_SCRIPT_SIMPLEX, cv2.FONT_HERSHEY_PLAIN)


def marker_text(rng: np.random.Generator) -> str:
    """What readers and installers write on a meter's glass: a round's code such as `P12`, a
    letter, or a number."""
    digits = "".join(str(d) for d in rng.integers(0, 10, int(rng.integers(1, 4))))
    kind = rng.random()
    if kind < 0.5:
        return str(rng.choice(list("PKAE"))) + digits[:2]
    return digits if kind < 0.8 else str(rng.choice(list("PXKV")))


def _marker_letters(body: Image, counter: Box, text: str, rng: np.random.Generator) -> None:
    """`text` handwritten with a marker pen on the glass over the counter (`handwriting_mask`),
    in a light ink, sometimes blue or dark."""
    mask = handwriting_mask(body.shape[:2], counter, text, rng)
    colour = (245, 245, 245) if rng.random() < 0.75 else _pick(rng, [(150, 60, 30), _BLACK])
    alpha = np.clip(mask, 0, 1)[..., None] * float(rng.uniform(0.75, 1.0))
    mixed = body.astype(np.float32) * (1 - alpha) + np.array(colour, np.float32) * alpha
    body[:] = mixed.astype(np.uint8)


def handwriting_mask(
    shape: tuple[int, ...], counter: Box, text: str, rng: np.random.Generator
) -> np.ndarray:
    """Where `text` written by hand over the counter `counter` puts ink on an image of `shape`
    (float32, about 0 to 1): each character two to four times as tall as the window, slanted,
    turned and wobbling, thin strokes, the letters' feet on or across the drums' line."""
    x0, y0, x1, y1 = counter
    window_h = y1 - y0
    height = window_h * float(rng.uniform(1.8, 4.0))
    thickness = max(2, round(window_h * float(rng.uniform(0.03, 0.07))))
    foot = (y0 + y1) / 2 + window_h * float(rng.uniform(-0.3, 0.7))
    x = x0 + (x1 - x0) * float(rng.uniform(-0.25, 0.55))
    font = _HERSHEY[int(rng.integers(len(_HERSHEY)))]
    mask = np.zeros(shape[:2], np.float32)
    for ch in text:
        (cw, ch_h), _ = cv2.getTextSize(ch, font, 1.0, 1)
        scale = height / max(ch_h, 1)
        pad = 2 * thickness + 4
        glyph = np.zeros((int(height) + 2 * pad, int(cw * scale) + 2 * pad), np.uint8)
        cv2.putText(glyph, ch, (pad, int(height) + pad), font, scale, 255, thickness, cv2.LINE_AA)
        glyph = _handwritten(glyph.astype(np.float32) / 255, height, rng)
        gx, gy = int(x), int(foot - height - pad)
        _add_clipped(mask, glyph, gx, gy)
        x += (cw * scale + 2 * pad) * float(rng.uniform(0.8, 1.15))
    return mask


def _handwritten(glyph: np.ndarray, height: float, rng: np.random.Generator) -> np.ndarray:
    """A stroke glyph slanted, turned and scaled a little, its strokes wobbling."""
    h, w = glyph.shape
    shear = math.tan(math.radians(float(rng.uniform(-20, 20))))
    turn = math.radians(float(rng.uniform(-12, 12)))
    stretch = float(rng.uniform(0.75, 1.2))
    c, s = math.cos(turn), math.sin(turn)
    m = np.array([[c * stretch, -s + shear, 0], [s * stretch, c, 0]], np.float32)
    m[:, 2] = np.array([w / 2, h / 2], np.float32) - m[:, :2] @ np.array([w / 2, h / 2])
    glyph = cv2.warpAffine(glyph, m, (w, h))
    wobble = height * float(rng.uniform(0.02, 0.06))
    fields = [
        cv2.GaussianBlur(rng.normal(0, 1, (h, w)).astype(np.float32), (0, 0), height / 6)
        for _ in range(2)
    ]
    dx, dy = (f / (np.abs(f).max() + 1e-6) * wobble for f in fields)
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    return cv2.remap(glyph, xs + dx, ys + dy, cv2.INTER_LINEAR)


def _add_clipped(mask: np.ndarray, glyph: np.ndarray, x: int, y: int) -> None:
    """Add `glyph` into `mask` with its top left corner at (x, y), clipped to the mask."""
    h, w = glyph.shape
    ax, ay = max(0, x), max(0, y)
    bx, by = min(mask.shape[1], x + w), min(mask.shape[0], y + h)
    if bx > ax and by > ay:
        mask[ay:by, ax:bx] += glyph[ay - y : by - y, ax - x : bx - x]


def _frame_width(style: DrumStyle) -> int:
    return max(2, style.drum_h // 14) if style.drum_frame else 0


def _drum_frame(win: Image, corner: tuple[int, int], style: DrumStyle) -> None:
    """A light frame around one drum: rims above and below, thinner bars at its sides."""
    x, y = corner
    w, h, t = style.drum_w, style.drum_h, _frame_width(style)
    grey = _grey(style.drum_frame)
    cv2.rectangle(win, (x - t, y - t), (x + w + t - 1, y - 1), grey, -1)
    cv2.rectangle(win, (x - t, y + h), (x + w + t - 1, y + h + t - 1), grey, -1)
    side = max(1, t // 2)
    cv2.rectangle(win, (x - side, y), (x - 1, y + h - 1), grey, -1)
    cv2.rectangle(win, (x + w, y), (x + w + side - 1, y + h - 1), grey, -1)


def _place_values(win: Image, integers: int, decimals: int, pad: int, style: DrumStyle) -> None:
    """`10000 1000 100 10 1 1/10` under the drums, light on the window's dark band."""
    labels = [str(10 ** (integers - 1 - i)) for i in range(integers)]
    labels += [f"1/{10 ** (k + 1)}" for k in range(decimals)]
    size = max(8, int(style.drum_h * 0.26))
    while size > 8 and _text_box(labels[0], size)[2] > style.drum_w + style.gap - 2:
        size -= 1
    baseline = pad + style.drum_h + _frame_width(style) + int(style.drum_h * 0.34)
    for i, text in enumerate(labels):
        left, _, right, _ = _text_box(text, size)
        centre = pad + i * (style.drum_w + style.gap) + style.drum_w // 2
        _put_text(win, text, (centre - (right - left) // 2 - left, baseline), size, _WHITE)


def _pointer_dial(img: Image, centre: tuple[int, int], radius: int, angle: float) -> None:
    """A small dial with ten marks and a red pointer (water meters' litre dials)."""
    cv2.circle(img, centre, radius, (245, 245, 245), -1, cv2.LINE_AA)
    cv2.circle(img, centre, radius, _BLACK, 2, cv2.LINE_AA)
    for k in range(10):
        a = 2 * math.pi * k / 10
        inner, outer = 0.75 * radius, 0.95 * radius
        p0 = (int(centre[0] + inner * math.sin(a)), int(centre[1] - inner * math.cos(a)))
        p1 = (int(centre[0] + outer * math.sin(a)), int(centre[1] - outer * math.cos(a)))
        cv2.line(img, p0, p1, _BLACK, 1, cv2.LINE_AA)
    tip = (
        int(centre[0] + 0.8 * radius * math.sin(angle)),
        int(centre[1] - 0.8 * radius * math.cos(angle)),
    )
    cv2.line(img, centre, tip, _RED, 3, cv2.LINE_AA)
    cv2.circle(img, centre, 3, _RED, -1, cv2.LINE_AA)


def _place_counter(
    face: Image, window: Image, style: DrumStyle, top: float, max_w: int
) -> tuple[int, int, int, int]:
    """Paste the window centred (left of centre when dials sit beside it); its box."""
    wh, ww = window.shape[:2]
    scale = min(1.0, max_w / ww)
    window = cv2.resize(window, (int(ww * scale), int(wh * scale)), interpolation=cv2.INTER_AREA)
    wh, ww = window.shape[:2]
    fw = face.shape[1]
    x0 = (fw - ww) // 2 - (40 if style.dials else 0)
    y0 = int(face.shape[0] * top)
    face[y0 : y0 + wh, x0 : x0 + ww] = window
    if style.window_frame:
        cv2.rectangle(face, (x0 - 7, y0 - 7), (x0 + ww + 6, y0 + wh + 6), style.bezel, 4)
    return x0, y0, x0 + ww, y0 + wh


def _ferraris_face(
    window: Image,
    style: DrumStyle,
    rng: np.random.Generator,
    number: str | None,
    print_rng: np.random.Generator,
) -> tuple[Image, Box]:
    w, h = 560, 640
    body = np.zeros((h, w, 3), np.uint8)
    body[:] = style.housing
    face = np.zeros((h - 80, w - 60, 3), np.uint8)
    face[:] = style.plate
    if style.metallic:
        face[:] = _brushed_metal(face.shape[:2], rng)
    x0, y0, x1, y1 = _place_counter(face, window, style, 0.12, 360)
    ink = _BLACK
    if not style.unit_in_window:
        _put_text(face, style.unit, (x1 + 12, y1 - 8), 30, ink)
    if not style.scale:
        for k, p in enumerate(("10000", "1000", "100")):
            _put_text(face, p, (x0 + 8 + 60 * k, y1 + 26), 14, ink)
    # the disc's window: a slit with the disc's edge and its red mark
    dy = y1 + 70
    cv2.rectangle(face, (110, dy), (w - 170, dy + 34), (30, 30, 30), -1)
    cv2.rectangle(face, (118, dy + 10), (w - 178, dy + 24), (170, 175, 178), -1)
    mark = int(rng.integers(130, w - 200))
    cv2.rectangle(face, (mark, dy + 10), (mark + 14, dy + 24), _RED, -1)
    revolutions = int(rng.choice([75, 96, 120, 150, 187, 375, 600]))
    name = str(rng.choice(["Wechselstromzaehler", "Drehstromzaehler"]))
    digit_px = 0.78 * style.drum_h * (x1 - x0) / window.shape[1]  # the drums' digits on the face
    _plate_print(face, digit_px, (y1, dy), revolutions, name, number, print_rng)
    body[40 : 40 + face.shape[0], 30 : 30 + face.shape[1]] = face
    return body, (x0 + 30, y0 + 40, x1 + 30, y1 + 40)


def _plate_print(
    face: Image,
    digit_px: float,
    counter: tuple[int, int],
    revolutions: int,
    name: str,
    number: str | None,
    rng: np.random.Generator,
) -> None:
    """What a Ferraris meter's plate prints beside its counter, much of it in digits about the
    size of the drums': the year of make beside the counter, and below the disc's window a
    ruled table of the type, the meter number, the rating and the revolutions per kWh, and a
    barcode. `counter`: the bottom of the counter window and the top of the disc's window."""
    h, w = face.shape[:2]
    ink = _BLACK
    big = max(14, int(digit_px * rng.uniform(0.7, 1.1)))  # the number's digits
    small = max(12, int(digit_px * rng.uniform(0.45, 0.7)))
    year = str(int(rng.integers(1975, 2016)))
    _put_text(face, f"PDM {year}" if rng.random() < 0.5 else year, (w - 150, 30), small, ink)
    typename = str(rng.choice(["CV140", "DZ 6", "AEG C114", "E1F", "D4 TS"]))
    cells = [
        (f"{typename}  {name[:5]}", f"Nr. {number}" if number else f"No {year}"),
        ("230 V  10(40) A", "50 Hz"),
        (f"{revolutions} U/kWh" if rng.random() < 0.6 else f"{revolutions} Umdr./kWh", year),
    ]
    top = counter[1] + 50
    x_mid = 40 + max(_text_box(left, small)[2] for left, _ in cells)
    for i, (left, right) in enumerate(cells):
        size = big if i == 0 else small
        while size > small and _text_box(right, size)[2] > w - 30 - x_mid:
            size -= 1
        line_h = int(size * 1.5)
        if top + line_h > h - 8:
            break
        cv2.rectangle(face, (20, top), (w - 20, top + line_h), ink, 2)
        cv2.line(face, (x_mid, top), (x_mid, top + line_h), ink, 2)
        baseline = top + int(size * 1.15)
        _put_text(face, left, (30, baseline), small, ink)
        _put_text(face, right, (x_mid + 10, baseline), size, ink)
        top += line_h
    if top + 50 < h - 10 and rng.random() < 0.6:
        _barcode(face, (int(w * rng.uniform(0.1, 0.5)), top + 12), 44, rng)


def _barcode(face: Image, corner: tuple[int, int], height: int, rng: np.random.Generator) -> None:
    """Vertical bars of random widths (a barcode label)."""
    x, y = corner
    for _ in range(int(rng.integers(24, 40))):
        bar = int(rng.integers(1, 5))
        if x + bar >= face.shape[1] - 10:
            break
        cv2.rectangle(face, (x, y), (x + bar - 1, y + height), _BLACK, -1)
        x += bar + int(rng.integers(1, 5))


def _brushed_metal(shape: tuple[int, ...], rng: np.random.Generator) -> Image:
    """A metal faceplate: a diagonal light gradient with fine horizontal streaks."""
    h, w = shape[:2]
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    lo, hi = float(rng.uniform(120, 170)), float(rng.uniform(200, 245))
    ramp = lo + (hi - lo) * np.abs(np.sin((xs / w + ys / h) * math.pi * rng.uniform(0.6, 1.2)))
    streaks = rng.normal(0, 6, (h, 1)).astype(np.float32)
    grey = np.clip(ramp + streaks, 0, 255).astype(np.uint8)
    return np.dstack([grey, grey, np.clip(grey.astype(np.int16) + 4, 0, 255).astype(np.uint8)])


def _gas_face(
    window: Image,
    style: DrumStyle,
    rng: np.random.Generator,
    number: str | None,
    _print_rng: np.random.Generator,
) -> tuple[Image, Box]:
    w, h = 600, 520
    body = np.zeros((h, w, 3), np.uint8)
    body[:] = style.housing
    face = np.zeros((260, 500, 3), np.uint8)
    face[:] = style.plate
    x0, y0, x1, y1 = _place_counter(face, window, style, 0.3, 400)
    ink = _WHITE if sum(style.plate) < 300 else _BLACK
    _put_text(face, style.unit, (x1 + 10, y1 - 6), 32, ink)
    size = str(rng.choice(["G4", "G6", "G2,5"]))
    _put_text(face, f"{size}  Qmax 6 m3/h  pmax 0,5 bar", (30, 40), 22, ink)
    _put_text(face, "Vmin 2 dm3  Balgengaszaehler", (30, y1 + 44), 22, ink)
    body[60:320, 50:550] = face
    if number:
        _put_text(body, f"Nr {number}", (60, 400), 30, _BLACK)
    _put_text(body, "1 U = 2 dm3", (60, 450), 24, _BLACK)
    return body, (x0 + 50, y0 + 60, x1 + 50, y1 + 60)


def _water_face(
    window: Image,
    style: DrumStyle,
    rng: np.random.Generator,
    number: str | None,
    _print_rng: np.random.Generator,
) -> tuple[Image, Box]:
    size = 600
    body = np.zeros((size, size, 3), np.uint8)
    c = size // 2
    cv2.circle(body, (c, c), c - 2, style.housing, -1, cv2.LINE_AA)
    cv2.circle(body, (c, c), int(c * 0.88), style.plate, -1, cv2.LINE_AA)
    x0, y0, x1, y1 = _place_counter(body, window, style, 0.34, 300)
    _put_text(body, style.unit, (x1 + 8, y0 - 8), 28, _BLACK)
    # x0,1 beside the drums, x0,01 x0,001 x0,0001 below them
    centres = [(min(x1 + 44, size - 90), y1 + 70)]
    centres += [(150 + 95 * k, y1 + 150) for k in range(style.dials - 1)]
    for k, centre in enumerate(centres):
        _pointer_dial(body, centre, 30, float(rng.uniform(0, 2 * math.pi)))
        _put_text(body, "x0," + "0" * k + "1", (centre[0] - 26, centre[1] + 48), 14, _BLACK)
    _put_text(body, "Qn 2,5 m3/h", (c - 80, int(size * 0.25)), 24, _BLACK)
    if number:
        _put_text(body, f"Nr {number}", (c - 100, int(size * 0.85)), 28, _BLACK)
    return body, (x0, y0, x1, y1)


_FACES = {"ferraris": _ferraris_face, "gas": _gas_face, "water": _water_face}


def render_counter_meter(
    reading: str,
    fraction: str,
    style: DrumStyle,
    *,
    angle: float = 0,
    perspective: float = 0,
    blur: float = 0,
    glare: bool = False,
    noise: float = 0,
    seed: int = 0,
    roll: float = 0.0,
    meter_number: str | None = None,
    distance: float = 1.0,
    pen_marks: int = 0,
    marker: str = "",
) -> Image:
    """A photo of a drum counter in `style` showing `reading` and `fraction` (as many digits
    as the style's drums). `roll` in [0, 1) catches the last drum between its digit and the
    next (by convention the lower one is the reading); `distance` > 1 photographs the meter
    from further away (smaller in the photo); `pen_marks` strokes of a marker pen cross the
    drums; `marker` is written by hand with a marker pen over the counter, its letters' feet on
    the drums' line; the other arguments as in `ocr.synth.render_drum_meter`."""
    if len(reading) != style.integer_digits or len(fraction) != style.decimals:
        raise ValueError("reading and fraction must have the style's drum counts")
    if not (reading + fraction).isdigit():
        raise ValueError("reading and fraction must be digits")
    rng = np.random.default_rng(seed)
    window = counter_window(reading, fraction, style, roll)
    if pen_marks:
        _pen_marks(window, pen_marks, rng)
    # the plate's print from a generator of its own: the rest of the photo as without it
    body, counter = _FACES[style.kind](
        window, style, rng, meter_number, np.random.default_rng([seed, 1])
    )
    if marker:
        # from a generator of its own, as the plate's print
        _marker_letters(body, counter, marker, np.random.default_rng([seed, 2]))
    if distance != 1.0:
        shrink = 1 / distance
        body = cv2.resize(body, None, fx=shrink, fy=shrink, interpolation=cv2.INTER_AREA)
    img, _ = _warp(body, angle, perspective, rng)
    return _photo_effects(img, blur=blur, glare=glare, noise=noise, rng=rng)


@dataclass(frozen=True)
class Sample:
    """A rendered photo with what it shows and what master data would say of its meter."""

    image: Image
    reading: str  # integer drums as shown, leading zeros kept
    fraction: str
    integer_digits: int


# Ferraris renders with the unit on the window's band beside the drums, and with a marker pen's
# letters written over the counter
UNIT_IN_WINDOW_SHARE = 0.35
MARKER_SHARE = 0.25


def random_meter(kind: Kind, seed: int, *, extras: bool = True) -> Sample:
    """A photo of a meter of `kind` in a style, reading and photograph all drawn from `seed`:
    readings spread over the orders of magnitude (leading zeros common), rotation up to 20
    degrees, some perspective, blur, glare, noise, the last drum rolling in a third. Ferraris
    meters also with the unit on the window's band beside the drums and a marker pen's letters
    over the counter, drawn from a generator of their own (`extras=False`: neither; the other
    renders are the same pixels either way)."""
    rng = np.random.default_rng([seed, KINDS.index(kind)])
    style = random_style(kind, rng)
    extra = np.random.default_rng([seed, KINDS.index(kind), 2])
    marker = ""
    if kind == "ferraris" and extras:
        if extra.random() < UNIT_IN_WINDOW_SHARE:
            style = replace(style, unit_in_window=True)
        marker = marker_text(extra) if extra.random() < MARKER_SHARE else ""
    # Ferraris meters are often photographed whole, round housing and all: smaller digits
    distance, pen_marks = 1.0, 0
    if kind == "ferraris":
        distance = float(rng.uniform(1.0, 1.6))
        pen_marks = int(rng.integers(1, 3)) if rng.random() < 0.3 else 0
    value = int(10 ** rng.uniform(1, style.integer_digits)) % 10**style.integer_digits
    reading = str(value).zfill(style.integer_digits)
    fraction = "".join(str(d) for d in rng.integers(0, 10, style.decimals))
    image = render_counter_meter(
        reading,
        fraction,
        style,
        angle=float(rng.uniform(-20, 20)),
        perspective=float(rng.uniform(0, 0.15)),
        blur=float(rng.choice([0, 0.6, 1.0])),
        glare=bool(rng.random() < 0.3),
        noise=float(rng.uniform(0, 6)),
        seed=int(rng.integers(1 << 30)),
        roll=float(rng.uniform(0.2, 0.45)) if rng.random() < 0.33 else 0.0,
        meter_number=str(rng.integers(10**6, 10**8)) if rng.random() < 0.8 else None,
        distance=distance,
        pen_marks=pen_marks,
        marker=marker,
    )
    return Sample(image, reading, fraction, style.integer_digits)
