"""The OCR pipeline, top to bottom: load, find rows, rectify, classify, pick, meter number.

`OcrEngine` holds what is expensive to set up (the digit model, the Tesseract wrapper);
`read_meter` in `ocr/__init__.py` uses a default engine built from the settings. Bad input never
raises: it comes back as `MeterRead(reading=None, reason=...)`. Only a missing Tesseract
(`ToolMissingError`) aborts.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace
from typing import Literal

import cv2
import numpy as np

from core.errors import ImageError, ToolMissingError
from core.settings import Settings
from core.types import DigitRead, MeterRead
from ocr import digits_logic, trust
from ocr.counter import Cells, cut_cells
from ocr.digits import DigitModel
from ocr.digits_logic import MAX_DECIMALS
from ocr.loading import ImageInput, load_image
from ocr.locate import WORK_SIDE, Row, find_rows
from ocr.panel import lcd_rows
from ocr.plate import read_plate
from ocr.tesseract import Tesseract, TesseractFailed

log = logging.getLogger(__name__)

Display = Literal["drum", "lcd"]
MAX_ROWS = 10  # candidate rows classified per photo
REFINE_ROWS = 3  # of which the best are also tried at the other size and upside down
HEIGHT_FACTORS = (1.35, 1.0)  # blob = digit (cell 1.35x taller) or blob = whole drum window


@dataclass(frozen=True)
class Candidate:
    row: Row
    run: digits_logic.Run
    cells: Cells
    digits: list[DigitRead]
    point: int  # digits after a 7-segment decimal point (0: none)
    before: list[DigitRead]  # forced reads of the cells left of the run, nearest first

    @property
    def decimals(self) -> int:
        return self.run.decimals or self.point


def _work_image(image: np.ndarray) -> np.ndarray:
    scale = WORK_SIDE / max(image.shape[:2])
    if scale >= 1:
        return image
    return cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)


class OcrEngine:
    def __init__(
        self,
        settings: Settings,
        *,
        tesseract: Tesseract | None = None,
        model: DigitModel | None = None,
    ) -> None:
        self.settings = settings
        self.tesseract = tesseract or Tesseract(
            settings.tesseract_cmd, timeout=settings.tesseract_timeout_seconds
        )
        self.model = model or DigitModel()

    def read(
        self, image: ImageInput, *, integer_digits: int | None = None, meter_number: bool = True
    ) -> MeterRead:
        """One photo; `meter_number=False` skips the plate (Tesseract, about 0.1 s)."""
        start = time.perf_counter()
        try:
            bgr = load_image(image, max_pixels=self.settings.max_image_pixels)
            result = self._read(_work_image(bgr), integer_digits, meter_number)
        except ImageError as exc:
            log.info("image refused: %s (%s)", exc.reason, exc)
            result = MeterRead(reading=None, reason=exc.reason)
        except TesseractFailed as exc:
            log.warning("tesseract failed: %s", exc)
            result = MeterRead(reading=None, reason=exc.reason)
        except ToolMissingError:
            raise
        except Exception:  # one photo must never stop the worker
            log.exception("OCR failed unexpectedly")
            result = MeterRead(reading=None, reason="ocr_internal_error")
        return _with_seconds(result, time.perf_counter() - start)

    def _classify(
        self, image: np.ndarray, variants: list[tuple[Row, float, bool]]
    ) -> list[Reading]:
        """Cut and classify (row, cell size, upside down) variants in one batch for the model."""
        cut = [
            (row, cut_cells(image, row, height_factor=factor, flipped=flipped, extend=3))
            for row, factor, flipped in variants
        ]
        probs = self.model.predict([g for _, cells in cut for g in cells.gray])
        out, at = [], 0
        for row, cells in cut:
            out.append((row, cells, probs[at : at + len(cells.gray)]))
            at += len(cells.gray)
        return out

    def _candidates(
        self, image: np.ndarray, rows: list[Row], integer_digits: int | None
    ) -> list[Candidate]:
        """All rows as found; then the most promising ones also at the other cell size, upside
        down, and with both cell sizes' probabilities averaged (two stages keep the model's work
        small)."""
        points = [
            (r.origin[0] + r.point * r.direction[0], r.origin[1] + r.point * r.direction[1])
            for r in rows
            if r.point is not None
        ]
        readings = self._classify(
            image, [(row, HEIGHT_FACTORS[0], False) for row in rows[:MAX_ROWS]]
        )
        first = [c for c in (_candidate(r, points) for r in readings) if c is not None]
        if not first:
            return []
        tallest = max(c.row.height for c in first)
        first.sort(key=lambda c: -_fit(c, integer_digits, tallest))
        by_row = {id(r[0]): r for r in readings}
        big, small = HEIGHT_FACTORS
        top = [c.row for c in first[:REFINE_ROWS]]
        more = self._classify(
            image,
            [(row, f, up) for row in top for f, up in ((small, False), (big, True), (small, True))],
        )
        out = list(first)
        for i, row in enumerate(top):
            small_r, big_up, small_up = more[3 * i : 3 * i + 3]
            extra = (small_r, big_up, small_up, _average(by_row[id(row)], small_r))
            out += [
                c
                for c in (_candidate(r, points) for r in (*extra, _average(big_up, small_up)))
                if c
            ]
        return out

    def _read(self, image: np.ndarray, integer_digits: int | None, meter_number: bool) -> MeterRead:
        gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        rows = lcd_rows(gray) + find_rows(gray)
        candidates = self._candidates(image, rows, integer_digits)
        if not candidates:
            return MeterRead(reading=None, reason="no_counter_found")
        tallest = max(c.row.height for c in candidates)
        ranked = sorted(candidates, key=lambda c: -_fit(c, integer_digits, tallest))
        best = ranked[0]
        on_panel = any(r.lcd and _same_place(r, best.row) for r in rows)  # a drum window too
        display: Display = "lcd" if best.point or (on_panel and not best.run.decimals) else "drum"
        integer, fraction, reason = _split(best, integer_digits)
        if not integer:
            return MeterRead(reading=None, reason="no_counter_found")
        reading = digits_logic.as_text(integer)
        texts = [digits_logic.as_text(_split(c, integer_digits)[0]) for c in ranked]
        rival = next(
            (c for c, t in zip(ranked, texts, strict=True) if t != reading and _elsewhere(c, best)),
            None,
        )
        margin = _fit(best, integer_digits, tallest) - (
            _fit(rival, integer_digits, tallest) if rival is not None else 0.0
        )
        raw = trust.raw_score(
            integer,
            layout_known=best.decimals > 0,
            agreeing=texts.count(reading) - 1,
            margin=margin,
            count_known=integer_digits is not None,
        )
        numbers = (
            read_plate(
                self.tesseract, image, rows, best.row, flipped=best.cells.flipped, reading=reading
            )
            if meter_number
            else ()
        )
        return self._result(
            integer, fraction, trust.calibrated(raw, display), numbers, reason, display
        )

    def _result(
        self,
        integer: list[DigitRead],
        fraction: list[DigitRead],
        confidence: float,
        numbers: tuple[str, ...],
        reason: str | None,
        display: Display,
    ) -> MeterRead:
        accepted = reason is None and confidence >= self.settings.auto_accept_min_confidence
        if reason is None and not accepted:
            reason = f"low_confidence_digit_{trust.weakest_digit(integer)}"
        return MeterRead(
            reading=digits_logic.as_text(integer),
            fraction=digits_logic.as_text(fraction) or None,
            confidence=confidence,
            accepted=accepted,
            meter_number=numbers[0] if numbers else None,
            meter_number_candidates=numbers,
            reason=reason,
            display=display,
            digits=tuple(integer + fraction),
        )


Reading = tuple[Row, Cells, np.ndarray]  # a row cut into cells and the model's probabilities


def _candidate(reading: Reading, points: list[tuple[float, float]]) -> Candidate | None:
    row, cells, probs = reading
    run = digits_logic.find_run(probs, [0.0] * len(cells.red) if row.lcd else cells.red)
    if run is None:
        return None
    digits = digits_logic.read_digits(run.cells)
    point = 0 if run.decimals else _lcd_decimals(row, run, cells, points)
    before = [
        digits_logic.forced_read(probs[i]) for i in range(run.start - 1, max(-1, run.start - 4), -1)
    ]
    return Candidate(row, run, cells, digits, point, before)


def _same_place(a: Row, b: Row) -> bool:
    """Two rows through the same digits (found twice, or cut differently)."""
    (x1, y1), (x2, y2) = a.origin, b.origin
    return bool(np.hypot(x1 - x2, y1 - y2) <= 0.8 * max(a.height, b.height))


def _elsewhere(c: Candidate, best: Candidate) -> bool:
    """A row in another place of the photo (not the same digits cut differently)."""
    return not _same_place(c.row, best.row)


def _average(a: Reading, b: Reading) -> Reading:
    """Two cell sizes of the same row (same cell positions): average what the model said."""
    red = [(x + y) / 2 for x, y in zip(a[1].red, b[1].red, strict=True)]
    return a[0], replace(a[1], red=red), (a[2] + b[2]) / 2


def _lcd_decimals(
    row: Row, run: digits_logic.Run, cells: Cells, points: list[tuple[float, float]]
) -> int:
    """Digits after a 7-segment decimal point on this row (0: none, or the row is upside down).

    `points` are decimal points seen by the display finder, in photo coordinates; any row through
    the same digits can use them.
    """
    if cells.flipped:
        return 0
    ux, uy = row.direction
    ox, oy = row.origin
    mine = cells.positions[run.start : run.start + len(run.cells)]
    for px, py in points:
        along = (px - ox) * ux + (py - oy) * uy
        across = -(px - ox) * uy + (py - oy) * ux
        if abs(across) < row.height:
            after = sum(p > along for p in mine)
            if 0 < after < len(mine):
                return after
    return 0


def _split(
    c: Candidate, integer_digits: int | None
) -> tuple[list[DigitRead], list[DigitRead], str | None]:
    """Integer and decimal digits; with a known digit count, the red drums or the count decide.

    When the decimals are known and drums are missing on the left (a dark or mis-cut first drum),
    the cells there are read anyway, with their (lower) confidence.
    """
    digits, decimals = c.digits, c.decimals
    if decimals:
        integer, fraction = digits[: len(digits) - decimals], digits[len(digits) - decimals :]
        if integer_digits is None or len(integer) == integer_digits:
            return integer, fraction, None
        if len(integer) > integer_digits:
            return integer[-integer_digits:], fraction, None
        need = integer_digits - len(integer)
        if len(c.before) >= need:
            return c.before[:need][::-1] + integer, fraction, None
        return integer, fraction, "digits_missing"
    if integer_digits is None:
        return digits, [], "decimals_unclear"
    if len(digits) < integer_digits:
        return digits, [], "digits_missing"
    rest = digits[integer_digits:]
    return digits[:integer_digits], rest[:MAX_DECIMALS], None if not rest else "decimals_unclear"


def _fit(c: Candidate, integer_digits: int | None, tallest: float) -> float:
    """How much a candidate looks like the counter: confident digits, large, red drums or a
    decimal point, upright, and (when known) the digit count of the meter. Weights were tuned
    by hand on the dev photos; they are few and coarse on purpose."""
    n = len(c.run.cells)
    fit = c.run.score + 0.6 * c.row.height / tallest + 0.3 * min(d.confidence for d in c.digits)
    fit += 0.5 * (c.run.decimals > 0) + 0.3 * (c.point > 0) - 0.15 * c.cells.flipped
    if integer_digits is not None:
        shown = n - c.decimals if c.decimals else n  # integer drums (all cells if unknown)
        fit += 0.4 * (integer_digits <= shown <= integer_digits + MAX_DECIMALS)
        fit -= 0.3 * max(0, integer_digits - shown)
    else:
        fit += 0.02 * min(n, 8)
    return fit


def _with_seconds(result: MeterRead, seconds: float) -> MeterRead:
    from dataclasses import replace

    return replace(result, seconds=seconds)
