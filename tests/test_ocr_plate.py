"""Meter numbers from codes on the meter: a QR code and an EAN-13 barcode beside the counter."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from ocr import read_meter
from ocr.plate import serial_candidates
from ocr.synth import encode_jpeg, render_drum_meter

# EAN-13 left-hand "L" patterns; "R" patterns are their complements, "G" the reversed "R"
L_CODES = (
    "0001101",  # 0
    "0011001",  # 1
    "0010011",  # 2
    "0111101",  # 3
    "0100011",  # 4
    "0110001",  # 5
    "0101111",  # 6
    "0111011",  # 7
    "0110111",  # 8
    "0001011",  # 9
)
PARITY = (  # of digits 2-7, set by the first digit
    "LLLLLL",  # 0
    "LLGLGG",  # 1
    "LLGGLG",  # 2
    "LLGGGL",  # 3
    "LGLLGG",  # 4
    "LGGLLG",  # 5
    "LGGGLL",  # 6
    "LGLGLG",  # 7
    "LGLGGL",  # 8
    "LGGLGL",  # 9
)


def _r_code(digit: int) -> str:
    return "".join("1" if bit == "0" else "0" for bit in L_CODES[digit])


def ean13_modules(number: str) -> str:
    """The 95 modules (1 = bar) of an EAN-13 code for 12 digits and their check digit."""
    digits = [int(ch) for ch in number]
    check = (10 - sum(d * (3 if i % 2 else 1) for i, d in enumerate(digits)) % 10) % 10
    digits.append(check)
    left = "".join(
        L_CODES[d] if kind == "L" else _r_code(d)[::-1]
        for d, kind in zip(digits[1:7], PARITY[digits[0]], strict=True)
    )
    right = "".join(_r_code(d) for d in digits[7:])
    return "101" + left + "01010" + right + "101"


def _barcode(number: str, module: int = 3, height: int = 90) -> np.ndarray:
    """Black bars on white, slightly blurred as a photographed label is (OpenCV's detector
    misses perfectly sharp synthetic bars at most sizes)."""
    bars = np.array([0 if m == "1" else 255 for m in ean13_modules(number)], np.uint8)
    sharp = np.repeat(np.tile(bars, (height, 1)), module, axis=1)
    quiet = 11 * module  # the standard's quiet zone on each side
    label = cv2.copyMakeBorder(sharp, 12, 12, quiet, quiet, cv2.BORDER_CONSTANT, value=255)
    return np.asarray(cv2.GaussianBlur(label, (0, 0), 1.0))


def _qr_code(text: str, size: int = 120) -> np.ndarray:
    code = cv2.QRCodeEncoder.create().encode(text)
    code = cv2.resize(code, (size, size), interpolation=cv2.INTER_NEAREST)
    return cv2.copyMakeBorder(code, 12, 12, 12, 12, cv2.BORDER_CONSTANT, value=255)


def _photo_with(code: np.ndarray, at: tuple[int, int]) -> bytes:
    photo = render_drum_meter("00321", "815", seed=3)
    y, x = at
    h, w = code.shape
    photo[y : y + h, x : x + w] = code[:, :, None]
    return encode_jpeg(photo)


def test_ean13_modules_follow_the_standard() -> None:
    modules = ean13_modules("400638133393")  # check digit 1
    assert len(modules) == 95
    # the first digit (4) sets the parities; the second (0) is the first one drawn, with "L"
    assert modules.startswith("101" + "0001101") and modules.endswith("1100110" + "101")
    assert modules[45:50] == "01010"


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        (_qr_code("7WAS0012345"), "7WAS0012345"),
        (_barcode("400638133393"), "4006381333931"),
    ],
    ids=["qr", "ean13"],
)
def test_a_code_beside_the_counter_gives_the_meter_number(code: np.ndarray, expected: str) -> None:
    result = read_meter(_photo_with(code, (740, 500)), integer_digits=5)
    assert result.reading == "00321"
    assert result.meter_number == expected  # codes rank before printed numbers


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("NR7WASOO12345", ["7WAS0012345", "NR7WASOO12345"]),  # "Nr 7WAS0012345", one word
        ("Nr 7WAS0012345", ["7WAS0012345"]),  # apart: "NR" is no serial
        ("No12345678", ["12345678", "NO12345678"]),
        ("1ESY1160555001", ["1ESY1160555001"]),  # letters away from digits stay
        ("SOLO 12 Qn 1,5", []),  # too few digits, also cleaned
    ],
)
def test_serial_candidates_also_offer_the_cleaned_number(text: str, expected: list[str]) -> None:
    assert serial_candidates(text) == expected
