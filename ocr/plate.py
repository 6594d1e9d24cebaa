"""Meter number candidates: barcodes / QR codes (OpenCV detectors) and the printed serial number.

The serial number is a row of small printed characters near the counter. The row finder already
found such rows; the most serial-like ones (enough characters, smaller than the counter digits,
close to it) are cut out upright, stacked into one small image and read by one Tesseract call.
Candidates are ranked: codes first, then printed numbers (most digits first). Tesseract failures
here only lose the candidates; they never cost the reading.
"""

from __future__ import annotations

import logging
import math
import re

import cv2
import numpy as np

from ocr.locate import Row
from ocr.tesseract import Tesseract, TesseractFailed

log = logging.getLogger(__name__)

SERIAL = re.compile(r"[A-Z0-9][A-Z0-9\-/]{4,18}[A-Z0-9]")
NUMBER_WORD = re.compile(r"^N[RO](?=[0-9])")  # "Nr", "No" before the number
O_BESIDE_DIGIT = re.compile(r"O(?=[0-9])|(?<=[0-9])O")
MIN_DIGITS = 5
LINE_H = 36  # pixel height of a serial line handed to Tesseract
MAX_LINES = 3


def codes(gray: np.ndarray) -> list[str]:
    """Barcode and QR code texts of the whole photo (whichever counter is read). Both are looked
    for at half size (a third of the time) and decoded at full size only where one was seen: a
    code too small to be seen at half size is missed, which costs only a meter number
    candidate."""
    found: list[str] = []
    try:
        half = cv2.resize(gray, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)
        barcodes = cv2.barcode.BarcodeDetector()
        seen, _ = barcodes.detect(half)
        if seen:
            ok, texts, _, _ = barcodes.detectAndDecodeWithType(gray)
            if ok:
                found += [t for t in texts if t]
        detector = cv2.QRCodeDetector()
        seen, _ = detector.detect(half)
        if seen:
            text, _, _ = detector.detectAndDecode(gray)
            if text:
                found.append(text)
    except cv2.error as exc:  # odd inputs can trip the detectors; the reading does not need them
        log.debug("code detection failed: %s", exc)
    return found


def serial_rows(rows: list[Row], counter: Row) -> list[Row]:
    """Rows that may be the printed serial number: several characters, small, near the counter."""
    cx, cy = counter.origin
    picked = []
    for row in rows:
        dist = math.hypot(row.origin[0] - cx, row.origin[1] - cy)
        if row is counter or len(row.blobs) < 5 or dist > 8 * counter.height:
            continue
        small = 0.15 * counter.height <= row.height <= counter.height
        if small and dist > counter.height / 2:
            picked.append(row)
    picked.sort(key=lambda r: -len(r.blobs))
    return picked[:MAX_LINES]


def _line_image(image: np.ndarray, row: Row, reading: tuple[float, float]) -> np.ndarray:
    """The row cut out upright (as the counter reads), dark text on light, LINE_H pixels high."""
    ux, uy = row.direction
    margin = max(3 * row.pitch, 5 * row.height)  # the row may hold only part of the number
    first = row.positions[0] - margin
    width = row.positions[-1] - row.positions[0] + 2 * margin
    k = LINE_H / (1.8 * row.height)
    ox, oy = row.origin
    x0 = ox + first * ux + 0.9 * row.height * uy
    y0 = oy + first * uy - 0.9 * row.height * ux
    m = np.array([[ux / k, -uy / k, x0], [uy / k, ux / k, y0]], np.float32)
    size = (max(1, int(width * k)), LINE_H)
    flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    line = cv2.warpAffine(image, m, size, flags=flags, borderMode=cv2.BORDER_REPLICATE)
    gray = cv2.cvtColor(line, cv2.COLOR_BGR2GRAY)
    if ux * reading[0] + uy * reading[1] < 0:
        gray = cv2.rotate(gray, cv2.ROTATE_180)
    return 255 - gray if row.blobs[0].polarity == 1 else gray


def _stack(lines: list[np.ndarray]) -> np.ndarray:
    width = max(line.shape[1] for line in lines) + 20
    out = np.full((len(lines) * (LINE_H + 12) + 12, width), 255, np.uint8)
    for i, line in enumerate(lines):
        y = 12 + i * (LINE_H + 12)
        out[y : y + LINE_H, 10 : 10 + line.shape[1]] = line
    return out


def serial_candidates(text: str, *, exclude: str = "") -> list[str]:
    """Tokens that look like a meter number (enough digits), most digits first; each also
    cleaned (`cleaned`), the cleaned form first."""
    tokens = SERIAL.findall(text.upper().replace(" ", "\n"))
    both = [form for t in tokens for form in (cleaned(t), t)]
    keep = [t for t in both if sum(c.isdigit() for c in t) >= MIN_DIGITS and t != exclude]
    return sorted(dict.fromkeys(keep), key=lambda t: -sum(c.isdigit() for c in t))


def cleaned(token: str) -> str:
    """A serial token without a glued-on "Nr"/"No" (`Nr 7WAS…` read as one word) and with each
    letter O beside a digit read as a zero (round zeros are read as O: `7WASOO12345`)."""
    text, before = NUMBER_WORD.sub("", token), ""
    while text != before:  # `OO1` -> `O01` -> `001`
        text, before = O_BESIDE_DIGIT.sub("0", text), text
    return text


def serial_text(
    tesseract: Tesseract, image: np.ndarray, rows: list[Row], counter: Row, *, flipped: bool
) -> str:
    """What Tesseract reads on the most serial-like rows near `counter` (read turned if
    flipped), one line per word; empty where there are none or Tesseract failed."""
    ux, uy = counter.direction
    direction = (-ux, -uy) if flipped else (ux, uy)
    lines = [_line_image(image, row, direction) for row in serial_rows(rows, counter)]
    if not lines:
        return ""
    try:
        words = tesseract.words(_stack(lines), psm=6)
    except TesseractFailed as exc:
        log.info("meter number not read: %s", exc.reason)
        return ""
    # no confidence cut: Tesseract gives 0 to whole serials it read right; the pattern and
    # the digit count filter, and master data confirms a candidate
    return "\n".join(w.text for w in words)


def meter_numbers(found_codes: list[str], text: str, *, reading: str) -> tuple[str, ...]:
    """The candidates, codes first, then the serials in `text` (`serial_candidates`) other than
    the counter's `reading`."""
    return tuple(dict.fromkeys([*found_codes, *serial_candidates(text, exclude=reading)]))
