"""Synthetic photos of digital meter displays, drawn with wide variation from a seed.

`random_display(kind, seed)` draws what an electricity (eHZ), heat or water meter's LCD shows and
how it looks: the value (5-8 digits, leading zeros, 0-3 decimals), the OBIS code beside it
(electricity), the unit, arrows and status symbols, small secondary text; dark segments on a
light panel or light ones on a dark panel, backlit blue/green/orange, low contrast, unlit segments
showing faintly; segments thin or thick, slanted, with or without gaps between them. Then
`render_display(spec)` puts the panel in a housing and "photographs" it: rotation, perspective,
glare, blur, noise. Everything follows from the seed (the same image on every machine: text is
drawn in Pillow's built-in face). The truth is on the spec: `reading`, `fraction`, `obis`,
`unit`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import cv2
import numpy as np

from ocr.synth import _DIGIT_SEGMENTS, _paste, _put_text, _text_box, _warp, encode_jpeg

Image = np.ndarray
Colour = tuple[int, int, int]  # BGR

KINDS = ("electricity", "heat", "water")
BLANK_SHARE = 0.4  # displays that leave their leading zeros unlit (`blanks`)
WORN_SHARE = 0.5  # displays the worn draw wears (the others stay as drawn)
FEW_INTEGER_SHARE = 0.35  # worn displays showing only 2-3 integer digits (pumps, heat meters)
SUPER = 3  # segments are drawn this many times larger, then shrunk (anti-aliasing)

# segment end points in a unit cell (x right, y down; 0..1 wide, 0..2 high)
_ENDS = {
    "a": ((0, 0), (1, 0)),
    "b": ((1, 0), (1, 1)),
    "c": ((1, 1), (1, 2)),
    "d": ((0, 2), (1, 2)),
    "e": ((0, 1), (0, 2)),
    "f": ((0, 0), (0, 1)),
    "g": ((0, 1), (1, 1)),
}
_LIT = {**_DIGIT_SEGMENTS, "-": "g"}
# (panel colour, lit segment colour) per look, BGR
_LOOKS: dict[str, tuple[Colour, Colour]] = {
    "grey": ((168, 182, 176), (30, 38, 34)),  # reflective LCD, no backlight
    "green": ((120, 226, 168), (40, 70, 30)),  # green backlight, dark segments
    "orange": ((70, 170, 245), (30, 40, 70)),  # amber backlight
    "blue_light": ((235, 200, 140), (90, 40, 20)),  # light blue backlight, dark segments
    "blue_dark": ((110, 45, 15), (255, 240, 215)),  # dark blue panel, light segments
    "black": ((28, 28, 24), (200, 245, 235)),  # dark panel, light segments
    "black_green": ((25, 35, 20), (120, 255, 140)),
}
# more looks for the widened draw (`random_display(..., wide=True)`)
_WIDE_LOOKS: dict[str, tuple[Colour, Colour]] = {
    "white": ((232, 236, 236), (45, 45, 50)),  # white backlight
    "yellow": ((110, 215, 220), (35, 50, 45)),  # yellow-green reflective
    "red_on_black": ((22, 20, 26), (70, 70, 235)),  # red segments (LED-like)
    "amber_on_black": ((20, 24, 28), (60, 170, 250)),
    "grey_blue": ((150, 130, 112), (60, 40, 30)),  # dim grey-blue, low contrast
    "navy": ((90, 30, 10), (250, 220, 180)),  # deep blue backlight, light segments
}
_LABELS = ("T1", "T2", "ACT", "MEM", "SUM", "L1 L2 L3", "P+", "INFO")
UNITS = {"electricity": ("kWh", "MWh"), "heat": ("GJ", "MWh", "kWh"), "water": ("m³",)}
OBIS = ("1.8.0", "1.8.1", "1.8.2", "2.8.0")


@dataclass(frozen=True)
class DisplaySpec:
    """What the display shows (the truth) and how it is drawn and photographed."""

    kind: str
    reading: str  # integer digits as shown (leading zeros kept)
    fraction: str
    unit: str | None
    obis: str | None
    look: str
    contrast: float  # 0..1: share of the full contrast between panel and lit segments
    ghost: float  # 0..1: how visible the unlit segments are (of the contrast)
    digit_h: int  # main digit height, body px
    width: float  # digit width / height
    spacing: float  # gap between digits / digit width
    thick: float  # stroke / digit height
    gap: float  # gap between segment ends / digit height
    slant: float  # tan of the italic slant
    bevel: bool  # hexagonal segment ends (else square)
    obis_above: bool  # OBIS code on a line above the value (else left of it)
    symbols: bool  # arrows, phase marks and status text around the value
    housing: Colour
    angle: float
    perspective: float
    blur: float
    noise: float
    glare: float  # 0: none, else the glare's strength (grey levels)
    scale: float  # the body's size in the photo
    seed: int
    # the widened draw only (the defaults draw what the narrow one does)
    streak: float = 0.0  # a specular streak across the panel: its strength (grey levels)
    shade: float = 0.0  # light falling off across the photo: darkest share lost
    jpeg: int = 0  # JPEG quality the photo went through (0: none)
    label: str = ""  # small status text left of the value's top (tariff, phase marks)
    blank: bool = False  # leading zeros left unlit (their digit cells stay, dark)
    # the worn draw only (`random_display(..., worn=True)`; the defaults draw as before)
    fade: float = 0.0  # lit digits fade unevenly: the weakest digit's lost share of its ink
    segment_fade: float = 0.0  # each lit segment loses up to this share of its ink
    patchy: float = 0.0  # ink lost in blotches about a segment long (share at the worst)
    backlight: float = 0.06  # the backlight's unevenness across the panel (share of it)
    point_scale: float = 1.0  # the decimal point's size (of the usual size)
    point_shift: tuple[float, float] = (0.0, 0.0)  # the point moved (x, y), of the digit height

    @property
    def shown(self) -> str:
        return self.reading + ("." + self.fraction if self.fraction else "")

    @property
    def lit(self) -> str:
        """What the display lights: `shown`, with the leading zeros blank where it blanks them."""
        if not self.blank:
            return self.shown
        integer = self.reading.lstrip("0") or "0"
        return integer.rjust(len(self.reading)) + ("." + self.fraction if self.fraction else "")


def random_display(
    kind: str, seed: int, *, wide: bool = False, blanks: bool = False, worn: bool = False
) -> DisplaySpec:
    """A display of `kind` ("electricity", "heat", "water") drawn from `seed`. `wide` draws
    from a wider range (more backlights, thinner and bolder, narrower and wider, more slanted
    segments, lower contrast, stronger perspective, blur, glare streaks, shading, JPEG, status
    text beside the value); `blanks` leaves the leading zeros of some displays unlit (a few lit
    digits in a wider display, as fuel pumps and many heat meters show them); `worn` draws the
    wear of real panels (`_worn`). Without them the same seed gives the same display as always;
    each draws from its own stream."""
    spec = _narrow_display(kind, seed)
    if wide:
        spec = _widened(spec, np.random.default_rng([seed, KINDS.index(kind), 2]))
    if blanks:
        rng = np.random.default_rng([seed, KINDS.index(kind), 3])
        spec = replace(spec, blank=bool(rng.random() < BLANK_SHARE))
    if worn:
        spec = _worn(spec, np.random.default_rng([seed, KINDS.index(kind), 4]))
    return spec


def _worn(spec: DisplaySpec, rng: np.random.Generator) -> DisplaySpec:
    """`spec` with the wear photos of real panels show: digits and segments lit unevenly
    (fading, uneven contact), an uneven backlight, unlit segments showing, a decimal point tiny
    or off its place, and some displays with only 2-3 integer digits (WORN_SHARE of them)."""
    if rng.random() >= WORN_SHARE:
        return spec
    reading = spec.reading
    if rng.random() < FEW_INTEGER_SHARE:
        rest = rng.integers(0, 10, size=int(rng.integers(1, 3)))
        reading = str(int(rng.integers(1, 10))) + "".join(str(d) for d in rest)
    odd_point = rng.random() < 0.15
    return replace(
        spec,
        reading=reading,
        fade=float(rng.uniform(0.0, 0.3)),
        segment_fade=float(rng.uniform(0.0, 0.2)),
        patchy=float(rng.choice([0.0, rng.uniform(0.15, 0.5)], p=[0.4, 0.6])),
        backlight=float(rng.uniform(0.06, 0.2)),
        ghost=max(spec.ghost, float(rng.choice([0.0, rng.uniform(0.05, 0.3)]))),
        point_scale=float(rng.uniform(0.5, 0.8)) if odd_point else 1.0,
        point_shift=(
            (float(rng.uniform(-0.05, 0.05)), float(rng.uniform(-0.06, 0.02)))
            if odd_point
            else (0.0, 0.0)
        ),
    )


def _widened(spec: DisplaySpec, rng: np.random.Generator) -> DisplaySpec:
    """`spec` redrawn from the wider ranges (its value, OBIS code and unit kept)."""
    looks = [*_LOOKS, *_WIDE_LOOKS]
    return replace(
        spec,
        look=str(rng.choice(looks)),
        contrast=float(rng.uniform(0.3, 1.0)),
        ghost=float(rng.choice([0.0, rng.uniform(0.04, 0.25)])),
        digit_h=int(rng.integers(34, 80)),
        width=float(rng.uniform(0.4, 0.7)),
        spacing=float(rng.uniform(0.25, 0.8)),
        thick=float(rng.uniform(0.07, 0.2)),
        gap=float(rng.choice([0.0, rng.uniform(0.01, 0.05)])),
        slant=float(rng.choice([0.0, rng.uniform(0.03, 0.26)])),
        symbols=bool(rng.random() < 0.85),
        housing=tuple(int(c) for c in rng.integers(20, 245, size=3)),  # type: ignore[arg-type]
        angle=float(rng.uniform(-35, 35)),
        perspective=float(rng.uniform(0.0, 0.2)),
        blur=float(rng.uniform(0.0, 2.4)),
        noise=float(rng.uniform(0.0, 10.0)),
        glare=float(rng.choice([0.0, rng.uniform(30, 120)])),
        scale=float(rng.uniform(0.7, 1.2)),
        streak=float(rng.choice([0.0, rng.uniform(25, 90)])),
        shade=float(rng.choice([0.0, rng.uniform(0.1, 0.5)])),
        jpeg=int(rng.choice([0, int(rng.integers(35, 85))])),
        label=str(rng.choice(_LABELS)) if rng.random() < 0.5 else "",
    )


def _narrow_display(kind: str, seed: int) -> DisplaySpec:
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}")
    rng = np.random.default_rng([seed, KINDS.index(kind)])
    reading, fraction = _value(kind, rng)
    unit: str | None = str(rng.choice(UNITS[kind]))
    if rng.random() < 0.1:
        unit = None
    obis = str(rng.choice(OBIS, p=[0.55, 0.2, 0.2, 0.05])) if kind == "electricity" else None
    if obis and rng.random() < 0.15:
        obis = None
    look = str(rng.choice(list(_LOOKS)))
    return DisplaySpec(
        kind=kind,
        reading=reading,
        fraction=fraction,
        unit=unit,
        obis=obis,
        look=look,
        contrast=float(rng.uniform(0.4, 1.0)),
        ghost=float(rng.choice([0.0, rng.uniform(0.04, 0.15)])),
        digit_h=int(rng.integers(46, 74)),
        width=float(rng.uniform(0.45, 0.62)),
        spacing=float(rng.uniform(0.4, 0.65)),
        thick=float(rng.uniform(0.09, 0.17)),
        gap=float(rng.choice([0.0, rng.uniform(0.01, 0.035)])),
        slant=float(rng.choice([0.0, rng.uniform(0.04, 0.2)])),
        bevel=bool(rng.random() < 0.6),
        obis_above=bool(rng.random() < 0.25),
        symbols=bool(rng.random() < 0.7),
        housing=tuple(int(c) for c in rng.choice([(225, 228, 230), (60, 60, 62), (200, 215, 225)])),  # type: ignore[arg-type]
        angle=float(rng.uniform(-25, 25)),
        perspective=float(rng.uniform(0.0, 0.12)),
        blur=float(rng.uniform(0.0, 1.6)),
        noise=float(rng.uniform(0.0, 6.0)),
        glare=float(rng.choice([0.0, rng.uniform(30, 80)])),
        scale=float(rng.uniform(0.8, 1.15)),
        seed=seed,
    )


def _ink(spec: DisplaySpec, rng: np.random.Generator) -> np.ndarray | None:
    """How much ink each lit segment gets (None: all of it): each digit faded by its own share
    of `spec.fade` (one of them by all of it), each segment by its own of `spec.segment_fade`."""
    if not spec.fade and not spec.segment_fade:
        return None
    chars = len(spec.lit)
    digit = 1 - spec.fade * rng.uniform(0, 1, size=(chars, 1))
    digit[int(rng.integers(chars))] = 1 - spec.fade
    return np.asarray(digit * (1 - spec.segment_fade * rng.uniform(0, 1, size=(chars, 7))))


def _patchy(mask: np.ndarray, share: float, h: float, rng: np.random.Generator) -> np.ndarray:
    """`mask` losing up to `share` of its ink in smooth blotches about half a digit across."""
    cells = (max(2, round(mask.shape[0] / (0.5 * h))), max(2, round(mask.shape[1] / (0.5 * h))))
    blotches = cv2.resize(
        rng.uniform(0, 1, cells).astype(np.float32),
        mask.shape[::-1],
        interpolation=cv2.INTER_CUBIC,
    )
    return np.asarray(mask * (1 - share * np.clip(blotches, 0, 1))).astype(np.uint8)


def _value(kind: str, rng: np.random.Generator) -> tuple[str, str]:
    """Integer digits (leading zeros kept) and decimals as the kind's displays show them."""
    if kind == "electricity":
        integer, decimals = int(rng.integers(5, 8)), int(rng.choice([0, 1, 1, 2]))
    elif kind == "heat":
        integer, decimals = int(rng.integers(4, 7)), int(rng.choice([0, 1, 2, 3, 3]))
    else:
        integer, decimals = int(rng.integers(4, 6)), int(rng.choice([1, 2, 3, 3]))
    integer = max(integer, 5 - decimals)
    integer = min(integer, 8 - decimals)
    used = int(rng.integers(1, integer + 1))  # digits of the value; the rest are leading zeros
    value = "".join(str(d) for d in rng.integers(0, 10, size=used))
    return value.zfill(integer), "".join(str(d) for d in rng.integers(0, 10, size=decimals))


def _segment(p0: np.ndarray, p1: np.ndarray, t: float, gap: float, bevel: bool) -> np.ndarray:
    """A segment's polygon from p0 to p1 (px), `t` thick, ends pulled back by `gap`."""
    d = (p1 - p0) / (np.linalg.norm(p1 - p0) + 1e-9)
    n = np.array([-d[1], d[0]])
    a, b = p0 + d * (gap + (t / 2 if bevel else 0)), p1 - d * (gap + (t / 2 if bevel else 0))
    if not bevel:
        return np.array([a + n * t / 2, b + n * t / 2, b - n * t / 2, a - n * t / 2])
    tip = t / 2
    return np.array(
        [a - d * tip, a + n * t / 2, b + n * t / 2, b + d * tip, b - n * t / 2, a - n * t / 2]
    )


@dataclass(frozen=True)
class Face:
    """How one display's 7-segment characters are drawn (px of the supersampled mask)."""

    height: float
    width: float
    spacing: float
    thick: float
    gap: float
    slant: float
    bevel: bool
    point_scale: float = 1.0
    point_shift: tuple[float, float] = (0.0, 0.0)  # px

    @property
    def pitch(self) -> float:
        return self.width * (1 + self.spacing)

    def advance(self, text: str) -> float:
        return sum(self.pitch for ch in text if ch != ".")

    def draw(
        self,
        mask: np.ndarray,
        text: str,
        x: float,
        y: float,
        *,
        lit: bool = True,
        ink: np.ndarray | None = None,
    ) -> None:
        """`text` (digits, '-', ' ', '.') with its top left at (x, y); '.' sits in the gap after
        the digit before it. `lit=False` draws every segment and point (the unlit pattern).
        `ink` (characters of `text` x 7 segments, 0..1) draws each segment that much inked."""
        t, h2 = self.thick * self.height, self.height / 2
        for i, ch in enumerate(text):
            if ch == ".":
                r = min(0.6 * t, 0.35 * self.width * self.spacing) * self.point_scale
                cx = x - self.width * self.spacing / 2 + self.point_shift[0]
                cy = y + self.height - max(r, t / 2) + self.point_shift[1]
                cv2.circle(mask, (round(cx), round(cy)), max(1, round(r)), 255, -1)
                continue
            segments = "abcdefg" if not lit else _LIT.get(ch, "")
            for s in segments:
                (x0, y0), (x1, y1) = _ENDS[s]
                p0 = np.array([x + x0 * self.width + self.slant * (h2 * 2 - y0 * h2), y + y0 * h2])
                p1 = np.array([x + x1 * self.width + self.slant * (h2 * 2 - y1 * h2), y + y1 * h2])
                inset = np.array([t / 2 if x0 == x1 == 0 else -t / 2 if x0 == x1 else 0, 0])
                vert = np.array([0, t / 2 if y0 == y1 == 0 else -t / 2 if y0 == y1 == 2 else 0])
                poly = _segment(
                    p0 + inset + vert, p1 + inset + vert, t, self.gap * self.height, self.bevel
                )
                value = 255 if ink is None else round(255 * ink[i, "abcdefg".index(s)])
                cv2.fillPoly(mask, [np.round(poly).astype(np.int32)], value, cv2.LINE_AA)
            x += self.pitch


def _panel(spec: DisplaySpec, rng: np.random.Generator) -> Image:
    """The display panel with its value, OBIS code, unit and symbols."""
    h = spec.digit_h * SUPER
    face = Face(h, spec.width * h, spec.spacing, spec.thick, spec.gap, spec.slant, spec.bevel)
    shifted = (spec.point_shift[0] * h, spec.point_shift[1] * h)
    point_face = replace(face, point_scale=spec.point_scale, point_shift=shifted)
    small = Face(
        0.5 * h,
        0.5 * spec.width * h,
        0.45,
        min(0.16, spec.thick * 1.1),
        spec.gap,
        spec.slant,
        spec.bevel,
    )
    obis_w = small.advance(spec.obis or "8.8.8") if spec.kind == "electricity" else 0.0
    unit_w = 1.9 * h if spec.unit or spec.kind != "electricity" else 0.6 * h
    left = 0.35 * h + (0 if spec.obis_above else obis_w + 0.5 * h * (obis_w > 0))
    width = int(left + face.advance(spec.shown) + unit_w + 0.3 * h)
    top = 0.45 * h + (0.65 * h if spec.obis_above and obis_w else 0.0)
    height = int(top + h + 0.55 * h)
    lit = np.zeros((height, width), np.uint8)
    unlit = np.zeros_like(lit)
    face.draw(unlit, "8" * len(spec.reading) + "." + "8" * len(spec.fraction), left, top, lit=False)
    point_face.draw(lit, spec.lit, left, top, ink=_ink(spec, rng))
    if obis_w:
        ox, oy = (left, 0.25 * h) if spec.obis_above else (0.35 * h, top)
        small.draw(unlit, "8.8.8", ox, oy, lit=False)
        if spec.obis:
            small.draw(lit, spec.obis, ox, oy)
    if spec.symbols:
        _symbols(lit, rng, h, left, top, face.advance(spec.shown))
    if spec.patchy:
        lit = _patchy(lit, spec.patchy, spec.digit_h * SUPER, rng)
    mask_lit = cv2.resize(lit, (width // SUPER, height // SUPER), interpolation=cv2.INTER_AREA)
    mask_unlit = cv2.resize(unlit, (width // SUPER, height // SUPER), interpolation=cv2.INTER_AREA)
    back, ink = (np.array(c, np.float32) for c in {**_LOOKS, **_WIDE_LOOKS}[spec.look])
    ink = back + spec.contrast * (ink - back)
    panel = np.empty((*mask_lit.shape, 3), np.float32)
    panel[:] = back
    glow = cv2.GaussianBlur(rng.normal(0, 1, (4, 8)).astype(np.float32), (0, 0), 1)
    panel *= (1 + spec.backlight * cv2.resize(glow, mask_lit.shape[::-1]))[..., None]
    ghost = (mask_unlit.astype(np.float32) / 255 * spec.ghost)[..., None]
    panel = panel + ghost * (ink - back)
    alpha = (mask_lit.astype(np.float32) / 255)[..., None]
    panel = panel * (1 - alpha) + ink * alpha
    out = np.clip(panel, 0, 255).astype(np.uint8)
    if spec.label:  # just above the value's first digits, or below them under an OBIS line
        size = max(9, int(0.28 * spec.digit_h))
        above = not (spec.obis_above and obis_w)
        y = top / SUPER - 0.06 * spec.digit_h if above else top / SUPER + spec.digit_h + size + 2
        colour: Colour = tuple(int(c) for c in ink)  # type: ignore[assignment]
        _put_text(out, spec.label, (int(left / SUPER), int(y)), size, colour)
    if spec.unit:
        size = int(rng.uniform(0.45, 0.65) * spec.digit_h)
        ux = int((left + face.advance(spec.shown)) / SUPER + 0.15 * spec.digit_h)
        uy = int((top + h) / SUPER - rng.uniform(0, 0.4) * spec.digit_h)
        _unit(out, spec.unit, (ux, uy), size, tuple(int(c) for c in ink))  # type: ignore[arg-type]
    return out


def _unit(panel: Image, unit: str, org: tuple[int, int], size: int, colour: Colour) -> None:
    """The unit as an LCD icon: Pillow's face, m³ with a raised 3."""
    if unit == "m³":
        _put_text(panel, "m", org, size, colour, 1)
        right = _text_box("m", size)[2]
        _put_text(panel, "3", (org[0] + right + 2, org[1] - size // 2), int(size * 0.6), colour, 1)
        return
    _put_text(panel, unit, org, size, colour, 1)


def _symbols(
    mask: np.ndarray, rng: np.random.Generator, h: float, left: float, top: float, width: float
) -> None:
    """Arrows, a frame line, and phase/status marks above or below the value (supersampled)."""
    y = top - 0.3 * h if rng.random() < 0.5 else top + h + 0.22 * h
    x = left
    for _ in range(int(rng.integers(2, 5))):
        s = 0.09 * h
        if rng.random() < 0.5:  # a triangle (arrow)
            pts = np.array([[x, y - s], [x + 2 * s, y], [x, y + s]])
        else:  # a small bar or square
            pts = np.array(
                [[x, y - s / 2], [x + 2.5 * s, y - s / 2], [x + 2.5 * s, y + s / 2], [x, y + s / 2]]
            )
        cv2.fillPoly(mask, [np.round(pts).astype(np.int32)], 255, cv2.LINE_AA)
        x += rng.uniform(0.15, 0.35) * width
    if rng.random() < 0.4:
        frame_y = round(top - 0.12 * h)
        cv2.line(
            mask,
            (round(left), frame_y),
            (round(left + width), frame_y),
            255,
            max(1, round(0.025 * h)),
        )


def _housing(spec: DisplaySpec, panel: Image, rng: np.random.Generator) -> Image:
    """The meter's front around the panel: case, window frame, labels, LED, buttons."""
    ph, pw = panel.shape[:2]
    w, h = max(480, pw + 90), max(300, ph + 210)
    body = np.empty((h, w, 3), np.uint8)
    body[:] = spec.housing
    dark = sum(spec.housing) < 300
    text: Colour = (230, 230, 230) if dark else (35, 35, 35)
    cv2.rectangle(body, (0, 0), (w - 1, h - 1), (100, 100, 100), 4)
    x0, y0 = (w - pw) // 2, int(rng.integers(60, 90))
    cv2.rectangle(body, (x0 - 10, y0 - 10), (x0 + pw + 10, y0 + ph + 10), (70, 70, 70), -1)
    _paste(body, panel, x0, y0)
    brand = str(rng.choice(["EMH eHZ", "ITRON", "WAERME-TEC", "AQUA-DIGI", "LOGARITHM"]))
    _put_text(body, brand, (x0, y0 - 28), 28, text, 1)
    below = y0 + ph + 50
    if spec.kind == "electricity":
        _put_text(body, "10000 imp/kWh", (x0, below), 16, text)
        cv2.circle(body, (x0 + 200, below - 8), 7, (40, 40, 200), -1)
        cv2.circle(body, (w - 90, h - 90), 38, (30, 30, 30), 3)  # optical interface
    else:
        _put_text(body, f"Nr {int(rng.integers(10**7, 10**8))}", (x0, below), 26, text)
    cv2.circle(body, (w - 70, below - 10), 16, (80, 80, 80), -1)  # button
    return body


def _glare(img: Image, strength: float, rng: np.random.Generator) -> Image:
    """A soft light reflection somewhere around the middle of the photo."""
    spot = np.zeros(img.shape[:2], np.float32)
    cx, cy = (int(v) for v in rng.integers(img.shape[1] // 3, 2 * img.shape[1] // 3, size=2))
    cv2.ellipse(spot, (cx, cy), (120, 40), float(rng.uniform(0, 180)), 0, 360, 1.0, -1)
    glow = cv2.GaussianBlur(spot, (0, 0), 30)
    return np.clip(img + glow[..., None] * strength, 0, 255).astype(np.uint8)


def render_display(spec: DisplaySpec) -> Image:
    """A photo (BGR) of the meter `spec` describes."""
    rng = np.random.default_rng([spec.seed, 7])
    body = _housing(spec, _panel(spec, rng), rng)
    fit = spec.scale * min(1.0, 680 / max(body.shape[:2]))
    body = cv2.resize(body, None, fx=fit, fy=fit, interpolation=cv2.INTER_AREA)
    img, _ = _warp(body, spec.angle, spec.perspective, rng)
    if spec.glare:
        img = _glare(img, spec.glare, rng)
    out: np.ndarray = img.astype(np.float32)
    if spec.streak:
        out = _streak(out, spec.streak, rng)
    if spec.shade:
        out = _shade(out, spec.shade, rng)
    if spec.blur:
        out = cv2.GaussianBlur(out, (0, 0), spec.blur)
    out = out + rng.normal(0, spec.noise, out.shape) if spec.noise else out
    photo = np.clip(out, 0, 255).astype(np.uint8)
    if spec.jpeg:
        data = np.frombuffer(encode_jpeg(photo, quality=spec.jpeg), np.uint8)
        photo = cv2.imdecode(data, cv2.IMREAD_COLOR)
    return photo


def _streak(img: np.ndarray, strength: float, rng: np.random.Generator) -> np.ndarray:
    """A narrow bright band of reflected light across the middle of the photo (the panel's
    glass), at any angle."""
    h, w = img.shape[:2]
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    a = float(rng.uniform(0, np.pi))
    cx, cy = (float(v) for v in rng.uniform(0.35, 0.65, size=2) * (w, h))
    dist = (xs - cx) * np.sin(a) - (ys - cy) * np.cos(a)
    band = np.exp(-0.5 * (dist / float(rng.uniform(6, 22))) ** 2)
    return img + (strength * band)[..., None]


def _shade(img: np.ndarray, share: float, rng: np.random.Generator) -> np.ndarray:
    """Light falling off linearly across the photo, in a random direction."""
    h, w = img.shape[:2]
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    a = float(rng.uniform(0, 2 * np.pi))
    ramp = (xs / w - 0.5) * np.cos(a) + (ys / h - 0.5) * np.sin(a) + 0.5
    return img * (1 - share * np.clip(ramp, 0, 1))[..., None]
