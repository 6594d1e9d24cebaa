"""Training cells for the digit model, cut from rendered counter strips as the reader cuts them.

A strip is a row of drums in a window frame: drums rendered from TrueType fonts (black on white,
white on black, red decimal drums, rolling between two digits) or real drum crops from
`meter-digits`, side by side with gaps, then photographed (tilt, blur, low resolution, glare,
noise, JPEG). Cells are cut like `ocr.counter.cut_cells` does at inference: a cell 0.95-1.5 times
the digit height, as wide as the pitch allows, centred on a drum (the digit) or half a drum off
and beyond the ends ("no digit"). So the model learns the neighbours' edges, the window frame and
the dial around the counter as they appear in real cells.

Fonts come from the Debian packages fonts-dejavu-core, fonts-liberation2, fonts-freefont-ttf,
fonts-roboto-unhinted and fonts-open-sans; whichever are installed are used.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ocr.digits import INPUT_H, INPUT_W, NO_DIGIT
from ocr.synth_drums import handwriting_mask, marker_text

CLASSES = NO_DIGIT + 1
FONT_DIRS = ("/usr/share/fonts/truetype", "/usr/share/fonts/opentype")
FONT_HINTS = ("Sans", "Roboto", "OpenSans", "Liberation", "Mono", "Serif")
SKIP_FONTS = ("Italic", "Oblique", "Math")
DRUM_H = 64  # drums are rendered at this height, then scaled with the strip


@dataclass(frozen=True)
class Drum:
    face: np.ndarray  # BGR, DRUM_H tall
    target: np.ndarray  # soft target over CLASSES
    digit_h: float  # height of the digit on the face


def soft_target(value: float | None) -> np.ndarray:
    """`value` 3.4: 60 % "3", 40 % "4" (a rolling drum); None: "no digit"."""
    target = np.zeros(CLASSES, np.float32)
    if value is None:
        target[NO_DIGIT] = 1.0
        return target
    value %= 10
    low = math.floor(value)
    frac = value - low
    target[low] += 1.0 - frac
    target[(low + 1) % 10] += frac
    return target


def find_fonts() -> list[Path]:
    fonts = [
        p
        for d in FONT_DIRS
        if Path(d).is_dir()
        for p in sorted(Path(d).rglob("*.ttf"))
        if any(h in p.name for h in FONT_HINTS) and not any(s in p.name for s in SKIP_FONTS)
    ]
    if not fonts:
        raise SystemExit("no TrueType fonts found: apt-get install fonts-dejavu-core")
    return fonts


class DrumRenderer:
    """Drums with printed digits in many fonts, polarities and roll positions; on a share
    `flagged_ones` of the drums a 1 is drawn with a long flag and mostly no foot (`FlaggedOne`)."""

    def __init__(
        self, fonts: list[Path], *, flagged_ones: float = 0.0, thinnest_one: float = 0.09
    ) -> None:
        self.fonts = fonts
        self.flagged_ones = flagged_ones
        self.thinnest_one = thinnest_one
        self._cache: dict[tuple[int, int], ImageFont.FreeTypeFont] = {}

    def _font(self, index: int, size: int) -> ImageFont.FreeTypeFont:
        key = (index, size)
        if key not in self._cache:
            self._cache[key] = ImageFont.truetype(str(self.fonts[index]), size)
        return self._cache[key]

    def drum(self, value: float, rng: np.random.Generator, *, red: bool) -> Drum:
        width = int(DRUM_H * rng.uniform(0.55, 0.85))
        paper, ink = _drum_colours(rng, red=red)
        font = self._font(int(rng.integers(len(self.fonts))), int(DRUM_H * rng.uniform(0.6, 0.85)))
        digit_step = DRUM_H * rng.uniform(0.95, 1.3)  # distance between digits on the drum
        tall = Image.new("RGB", (width, int(DRUM_H + 2 * digit_step)), paper)
        draw = ImageDraw.Draw(tall)
        low = math.floor(value) % 10
        offset = (value - math.floor(value)) * digit_step
        box = font.getbbox("0", anchor="mm")
        digit_h = float(box[3] - box[1])
        one = self._one(digit_h, rng)
        for k in (-1, 0, 1):
            text = str((low + k) % 10)
            centre = (width / 2, DRUM_H / 2 + digit_step + k * digit_step - offset)
            if text == "1" and one is not None:
                one.draw(draw, centre, ink)
            else:
                draw.text(centre, text, fill=ink, font=font, anchor="mm")
        face = np.asarray(tall)[int(digit_step) : int(digit_step) + DRUM_H, :, ::-1]
        return Drum(_curvature(face, rng), soft_target(value), digit_h)

    def _one(self, digit_h: float, rng: np.random.Generator) -> FlaggedOne | None:
        """This drum's 1 drawn by hand, on a share `flagged_ones` of the drums (the random
        draw only then, so that the default recipe's cells stay the same)."""
        if not self.flagged_ones or rng.random() >= self.flagged_ones:
            return None
        return FlaggedOne.random(digit_h, rng, thinnest=self.thinnest_one)


@dataclass(frozen=True)
class FlaggedOne:
    """The 1 of many water meters' drums: a stem with a long flag reaching down to the left,
    mostly no foot, which the fonts' 1s do not show and the digit models read as 7 or 4."""

    height: float
    stroke: int
    flag_dx: float  # how far the flag reaches left of the stem
    flag_dy: float  # and down from the stem's top
    foot: float  # half width of the foot (0: none)

    @classmethod
    def random(
        cls, digit_h: float, rng: np.random.Generator, *, thinnest: float = 0.09
    ) -> FlaggedOne:
        """`thinnest`: the thinnest stroke as a share of the digit's height (the thickest is
        0.17); worn print and a drum seen at an angle leave a stroke of a pixel or two."""
        return cls(
            digit_h,
            max(1, round(digit_h * rng.uniform(thinnest, 0.17))),
            digit_h * rng.uniform(0.22, 0.45),
            digit_h * rng.uniform(0.15, 0.4),
            digit_h * rng.uniform(0.2, 0.3) if rng.random() < 0.25 else 0.0,
        )

    def draw(
        self, draw: ImageDraw.ImageDraw, centre: tuple[float, float], ink: tuple[int, int, int]
    ) -> None:
        x, y = centre[0] + 0.1 * self.height, centre[1]
        top, bottom = y - self.height / 2, y + self.height / 2
        draw.line([(x, top), (x, bottom)], fill=ink, width=self.stroke)
        draw.line([(x, top), (x - self.flag_dx, top + self.flag_dy)], fill=ink, width=self.stroke)
        if self.foot:
            draw.line(
                [(x - self.foot, bottom), (x + self.foot, bottom)], fill=ink, width=self.stroke
            )


def _drum_colours(
    rng: np.random.Generator, *, red: bool
) -> tuple[tuple[int, int, int], tuple[int, int, int]]:
    light = _colour(rng, 185, 256)
    dark = _colour(rng, 0, 60)
    if red:
        redc = (int(rng.integers(150, 240)), int(rng.integers(0, 60)), int(rng.integers(0, 70)))
        return (light, redc) if rng.random() < 0.6 else (redc, light)
    return (light, dark) if rng.random() < 0.7 else (dark, light)  # RGB


def _colour(rng: np.random.Generator, low: int, high: int) -> tuple[int, int, int]:
    r, g, b = (int(c) for c in rng.integers(low, high, size=3))
    return r, g, b


def _curvature(face: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A drum is a cylinder: darker towards top and bottom."""
    h = face.shape[0]
    depth = rng.uniform(0.0, 0.45)
    y = np.linspace(-1, 1, h, dtype=np.float32)
    shade = 1.0 - depth * y**2
    return np.clip(face.astype(np.float32) * shade[:, None, None], 0, 255).astype(np.uint8)


class RealDrums:
    """Drum crops from meter-digits with their soft targets."""

    def __init__(self, crops: list[np.ndarray], targets: list[np.ndarray]) -> None:
        self.crops = crops
        self.targets = targets

    def drum(self, rng: np.random.Generator) -> Drum:
        i = int(rng.integers(len(self.crops)))
        crop = self.crops[i]
        h, w = crop.shape[:2]
        face = cv2.resize(crop, (max(8, round(w * DRUM_H / h)), DRUM_H))
        return Drum(face, self.targets[i], DRUM_H * 0.75)


@dataclass(frozen=True)
class Strip:
    image: np.ndarray  # BGR, photographed
    centres: list[float]  # x of each drum's centre
    pitch: float
    digit_h: float
    band_y: float  # y of the drums' middle
    targets: list[np.ndarray]


def render_strip(
    drums: list[Drum],
    rng: np.random.Generator,
    *,
    scale: float,
    windows: float = 0.0,
    strokes: float = 0.0,
) -> Strip:
    """Drums side by side in a frame on a dial, photographed at `scale` (drum height in px / 64);
    on a share `windows` of the strips each drum shows through a window of its own
    (`_drum_windows`), on a share `strokes` a marker pen has written across the drums
    (`_pen_strokes`)."""
    gap = int(DRUM_H * rng.uniform(0.04, 0.45))
    frame = tuple(int(c) for c in rng.integers(0, 256, size=3))
    dial = tuple(int(c) for c in rng.integers(120, 256, size=3))
    margin_y = int(DRUM_H * rng.uniform(0.1, 0.6))
    border = int(DRUM_H * rng.uniform(0.05, 0.3))
    outside = 2 * DRUM_H
    widths = [d.face.shape[1] for d in drums]
    width = sum(widths) + gap * (len(drums) + 1) + 2 * (border + outside)
    height = DRUM_H + 2 * (margin_y + border) + 2 * DRUM_H
    img = np.empty((height, width, 3), np.uint8)
    img[:] = dial
    _dial_marks(img, rng)
    x0, y0 = outside, DRUM_H
    win_w = sum(widths) + gap * (len(drums) + 1) + 2 * border
    win_h = DRUM_H + 2 * (margin_y + border)
    img[y0 : y0 + win_h, x0 : x0 + win_w] = frame
    x = x0 + border + gap
    centres = []
    top = y0 + border + margin_y
    faces = []
    for d in drums:
        w = d.face.shape[1]
        img[top : top + DRUM_H, x : x + w] = d.face
        faces.append((x, w))
        centres.append(x + w / 2)
        x += w + gap
    if windows and rng.random() < windows:
        _drum_windows(img, faces, top, frame, rng)
    if strokes and rng.random() < strokes:
        _pen_strokes(img, (x0 + border, top, x - gap + 1, top + DRUM_H), rng)
    pitch = float(np.mean(np.diff(centres))) if len(centres) > 1 else widths[0] + gap
    digit_h = float(np.mean([d.digit_h for d in drums]))
    photo = _photograph(img, rng, scale)
    k = photo.shape[1] / img.shape[1]
    return Strip(
        photo,
        [c * k for c in centres],
        pitch * k,
        digit_h * k,
        (top + DRUM_H / 2) * k,
        [d.target for d in drums],
    )


def _drum_windows(
    img: np.ndarray,
    faces: list[tuple[int, int]],
    top: int,
    frame: tuple[int, ...],
    rng: np.random.Generator,
) -> None:
    """Each drum (x, width) behind a window of its own, as on many water meters: the frame hides
    the drum above and below the window, a dark rim outlines it, and on some meters a light sill
    runs under each window. The digits are often faint behind such windows (worn print, glare on
    the glass) while the rims stay sharp: the models read a faint 1 or 7 inside a sharp rectangle
    as 0, so the faces are faded towards their mean by up to three quarters."""
    fade = rng.uniform(0.25, 1.0) if rng.random() < 0.6 else 1.0
    cut = int(DRUM_H * rng.uniform(0.0, 0.12))
    margin, thick = int(rng.integers(0, 4)), int(rng.integers(1, 5))
    rim = tuple(int(c * rng.uniform(0.1, 0.6)) for c in frame)
    sill = int(rng.integers(2, 7)) if rng.random() < 0.3 else 0
    light = tuple(int(c) for c in rng.integers(200, 256, size=3))
    y1, y2 = top + cut, top + DRUM_H - cut
    for x, w in faces:
        face = img[top : top + DRUM_H, x : x + w].astype(np.float32)
        mean = face.mean(axis=(0, 1))
        img[top : top + DRUM_H, x : x + w] = (mean + (face - mean) * fade).astype(np.uint8)
        img[top:y1, x : x + w] = frame
        img[y2 : top + DRUM_H, x : x + w] = frame
        cv2.rectangle(
            img, (x - margin, y1 - margin), (x + w - 1 + margin, y2 - 1 + margin), rim, thick
        )
        below = y2 + margin + thick
        img[below : below + sill, x - margin : x + w + margin] = light


# marker inks (BGR): black, dark blue, red, green, white
MARKER_INKS = ((25, 25, 25), (120, 45, 20), (40, 35, 190), (50, 120, 40), (235, 235, 235))


def _pen_strokes(
    img: np.ndarray, drums: tuple[int, int, int, int], rng: np.random.Generator
) -> None:
    """What readers and installers write with a pen on a meter's glass, across the drums in
    `drums` (x0, y0, x1, y1): handwritten letters and numbers whose feet cross the drums
    (`ocr.synth_drums.handwriting_mask`) or one or two wavy lines at any angle, a hairline to a
    fifth of the drum's height wide, half to fully opaque. The digits stay what they are: a
    person still reads them through the ink."""
    x0, y0, x1, y1 = drums
    h = y1 - y0
    if rng.random() < 0.5:
        mask = handwriting_mask(img.shape, drums, marker_text(rng), rng)
    else:
        mask = np.zeros(img.shape[:2], np.float32)
        for _ in range(int(rng.integers(1, 3))):
            angle = rng.uniform(0, math.pi)
            length = h * rng.uniform(0.6, 3.0)
            along = np.linspace(-0.5, 0.5, 8)[:, None] * length
            direction = np.array([[math.cos(angle), math.sin(angle)]])
            centre = np.array([[rng.uniform(x0, x1), rng.uniform(y0, y1)]])
            wobble = np.cumsum(rng.normal(0, 0.04 * h, (8, 2)), axis=0)
            points = (centre + along * direction + wobble).astype(np.int32)
            width = max(1, round(h * rng.uniform(0.03, 0.2)))
            cv2.polylines(mask, [points], False, 1.0, width, cv2.LINE_AA)
    ink = np.array(MARKER_INKS[int(rng.integers(len(MARKER_INKS)))], np.float32)
    alpha = np.clip(mask, 0, 1)[..., None] * rng.uniform(0.5, 1.0)
    img[:] = (img.astype(np.float32) * (1 - alpha) + ink * alpha).astype(np.uint8)


def _dial_marks(img: np.ndarray, rng: np.random.Generator) -> None:
    """Printed text and lines on the dial around the counter."""
    h, w = img.shape[:2]
    for _ in range(int(rng.integers(0, 5))):
        text = "".join(rng.choice(list("m3QnkWhABCVT.,/ 0123456789"), size=int(rng.integers(1, 6))))
        org = (int(rng.integers(0, w)), int(rng.integers(10, h)))
        colour = tuple(int(c) for c in rng.integers(0, 120, size=3))
        cv2.putText(img, text, org, cv2.FONT_HERSHEY_SIMPLEX, rng.uniform(0.6, 2.0), colour, 2)


def _photograph(img: np.ndarray, rng: np.random.Generator, scale: float) -> np.ndarray:
    h, w = img.shape[:2]
    out: np.ndarray = img.astype(np.float32)
    if rng.random() < 0.4:  # glare: a bright soft spot
        cx, cy = rng.uniform(0, w), rng.uniform(0, h)
        r = rng.uniform(0.2, 1.0) * h
        yy, xx = np.mgrid[0:h, 0:w]
        spot = np.exp(-((xx - cx) ** 2 + ((yy - cy) * 2) ** 2) / (2 * r * r))
        out += spot[..., None] * rng.uniform(60, 200)
    if rng.random() < 0.5:  # light falling from one side
        out *= np.linspace(rng.uniform(0.4, 1.0), rng.uniform(0.8, 1.2), w)[None, :, None]
    m = np.array([[1, rng.normal(0, 0.05), 0], [rng.normal(0, 0.02), 1, 0]], np.float32)
    out = cv2.warpAffine(out, m, (w, h), borderMode=cv2.BORDER_REPLICATE)
    if rng.random() < 0.5:
        out = cv2.GaussianBlur(out, (0, 0), rng.uniform(0.5, 3.0))
    small: np.ndarray = cv2.resize(
        np.clip(out, 0, 255).astype(np.uint8),
        (max(8, round(w * scale)), max(8, round(h * scale))),
        interpolation=cv2.INTER_AREA,
    )
    noisy = small.astype(np.float32) + rng.normal(0, rng.uniform(0, 8), small.shape)
    small = np.clip(noisy, 0, 255).astype(np.uint8)
    if rng.random() < 0.6:
        quality = int(rng.integers(30, 90))
        jpg = cv2.imencode(".jpg", small, [cv2.IMWRITE_JPEG_QUALITY, quality])[1]
        small = np.asarray(cv2.imdecode(jpg, cv2.IMREAD_COLOR))
    return small


@dataclass(frozen=True)
class Cutting:
    """How the drums' cells are cut: how far their centres stray from the drum (share of the
    pitch, standard deviation) and how wide they are (share of the cell's height, a range). The
    default is the shipped models' recipe; `JITTERED` cuts them looser, so the model learns
    digits off centre and between neighbours' edges as the reader's grids cut them."""

    jitter: float = 0.06
    width: tuple[float, float] = (0.62, 0.62)

    def cell_width(self, cell_h: float, rng: np.random.Generator) -> float:
        low, high = self.width
        return (low if low == high else rng.uniform(low, high)) * cell_h


JITTERED = Cutting(jitter=0.12, width=(0.5, 0.75))


def cut_cell(
    strip: Strip, centre_x: float, rng: np.random.Generator, cutting: Cutting = Cutting()
) -> np.ndarray:
    """A cell as the reader cuts it: 0.95-1.5 digit heights tall, at most the pitch wide."""
    cell_h = strip.digit_h * rng.uniform(0.95, 1.5)
    cell_w = min(strip.pitch, cutting.cell_width(cell_h, rng))
    cy = strip.band_y + rng.normal(0, 0.06) * cell_h
    gray = cv2.cvtColor(strip.image, cv2.COLOR_BGR2GRAY)
    x1, y1 = centre_x - cell_w / 2, cy - cell_h / 2
    k_x, k_y = INPUT_W / cell_w, INPUT_H / cell_h
    m = np.array([[k_x, 0, -x1 * k_x], [0, k_y, -y1 * k_y]], np.float32)
    flags = cv2.INTER_AREA if k_y < 1 else cv2.INTER_LINEAR
    return cv2.warpAffine(gray, m, (INPUT_W, INPUT_H), flags=flags, borderMode=cv2.BORDER_REPLICATE)


def strip_cells(
    strip: Strip, rng: np.random.Generator, cutting: Cutting = Cutting()
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Every drum (jittered), a few half-drum-off cells and the cells beyond both ends."""
    cells, targets = [], []
    none = soft_target(None)
    for c, t in zip(strip.centres, strip.targets, strict=True):
        cells.append(cut_cell(strip, c + rng.normal(0, cutting.jitter) * strip.pitch, rng, cutting))
        targets.append(t)
        if rng.random() < 0.35:
            off = rng.uniform(0.4, 0.6) * strip.pitch * rng.choice([-1, 1])
            cells.append(cut_cell(strip, c + off, rng, cutting))
            targets.append(none)
    for end, sign in ((strip.centres[0], -1), (strip.centres[-1], 1)):
        if rng.random() < 0.5:
            off = sign * strip.pitch * rng.uniform(0.9, 1.6)
            cells.append(cut_cell(strip, end + off, rng, cutting))
            targets.append(none)
    return cells, targets


def counter_cells(
    count: int,
    rng: np.random.Generator,
    renderer: DrumRenderer,
    real: RealDrums | None,
    real_share: float = 0.4,
    cutting: Cutting = Cutting(),
    windows: float = 0.0,
    strokes: float = 0.0,
    rolling: float = 0.2,
) -> tuple[np.ndarray, np.ndarray]:
    """About `count` cells (uint8, INPUT_H x INPUT_W) and their soft targets; `real_share` of
    the strips are made of real drum crops, the rest of rendered drums, `rolling` of those
    caught between two digits; the drums' cells cut as `cutting` says; `windows` of the strips
    with a window for each drum, `strokes` with a marker pen's writing across the drums."""
    cells: list[np.ndarray] = []
    targets: list[np.ndarray] = []
    while len(cells) < count:
        n = int(rng.integers(3, 9))
        reds = int(rng.integers(0, 4)) if rng.random() < 0.6 else 0
        use_real = real is not None and rng.random() < real_share
        drums = []
        for i in range(n):
            if use_real and real is not None:
                drums.append(real.drum(rng))
                continue
            value = float(rng.integers(0, 10))
            if rng.random() < rolling:
                value += rng.uniform(0.1, 0.9)
            drums.append(renderer.drum(value, rng, red=i >= n - reds))
        scale = rng.uniform(10, 60) / DRUM_H  # digits 10-60 px tall in the photo
        strip = render_strip(drums, rng, scale=scale, windows=windows, strokes=strokes)
        c, t = strip_cells(strip, rng, cutting)
        cells += c
        targets += t
    return np.stack(cells[:count]), np.stack(targets[:count])
