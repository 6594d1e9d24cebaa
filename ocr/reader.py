"""The OCR pipeline, top to bottom: load, find rows, rectify, classify, pick, meter number.

`OcrEngine` holds what is expensive to set up (the digit model, the Tesseract wrapper);
`read_meter` in `ocr/__init__.py` uses a default engine built from the settings. Bad input never
raises: it comes back as `MeterRead(reading=None, reason=...)`. Only a missing Tesseract
(`ToolMissingError`) aborts.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from itertools import pairwise
from typing import NamedTuple

import cv2
import numpy as np

from core.errors import ImageError, ToolMissingError
from core.settings import Settings
from core.types import DigitRead, Display, MeterRead
from ocr import digits_logic, ranking, trust
from ocr.counter import (
    Cells,
    Grid,
    cut_cells,
    fit_grids,
    grid_cells,
    grid_positions,
    rectify,
    scan_cells,
    scan_centres,
)
from ocr.digits import SECOND_OPINION_PATHS, DigitModel
from ocr.digits_logic import MAX_DECIMALS
from ocr.loading import ImageInput, load_image
from ocr.locate import WORK_SIDE, Row, find_rows
from ocr.panel import LcdRead, lcd_reads
from ocr.plate import read_plate
from ocr.ranking import Described
from ocr.tesseract import Tesseract, TesseractFailed

log = logging.getLogger(__name__)

MAX_ROWS = 10  # candidate rows classified per photo
# Of those, the most promising are also cut on the grids the model finds. With a digit count,
# the promise model picks them: the rows at least REFINE_MIN likely to be the counter, at most
# REFINE_LIKELY_ROWS (on the dev photos, cross-validated, that refines the counter's row in 436
# of the 438 photos that have one, 3.6 rows a photo). Without one, the hand-made order's
# first REFINE_ROWS.
REFINE_MIN = 0.02
REFINE_LIKELY_ROWS = 8
REFINE_ROWS = 5
# after how many refined rows the search may stop (see EARLY_EXIT; the last stage refines all
# rows worth it); with none refined only a 7-segment read can be sure, so that stage is tried
# only where a display was read
STAGES = (0, 1, MAX_ROWS)
# The ranker's probability (before the knot's mapping) at which a read ends the search early:
# on the dev photos every read that sure after a stage was the whole search's read too
# (bench/early_exit.py; with a digit count 0.85 was not always)
EARLY_EXIT = {"counted": 0.9, "uncounted": 0.8}
WAY_KEEP = 0.7  # a way up whose best run is weaker than this share of the other's is not cut
GRIDS = 2  # ... on its best grids (runners-up: another pitch, or cells half a drum off)
LCD_SURE_WITHOUT_POINT = 0.95  # weakest segment-read digit for a display read without a point
# fewer segment-read digits are more often a stray match (or part of a display) than a display;
# two sure digits without a point are a display's integer part with its decimals lost to glare
LCD_MIN_DIGITS = 3
LCD_MIN_DIGITS_WITHOUT_POINT = 2
HEIGHT_FACTORS = (1.35, 1.0)  # blob = digit (cell 1.35x taller) or blob = whole drum window
UPRIGHT_DIGITS = 4  # black drums before red ones that settle which way up a row is
SPAN_MARGIN = 3.5  # digit heights searched beyond the row's blobs (drums the blobs missed)
SECOND_OPINIONS = 20  # most likely drum reads that the second digit model reads again (see docs)
RED_PROMISE = 1.0  # added to a row's promise when red drums show anywhere along it
ZERO_LED_DRUMS = 2  # leading drums that may be read as 0 instead (a known digit count only)
ZERO_ALTERNATIVE = 0.05  # ... when the model gave 0 at least this much


@dataclass(frozen=True)
class Candidate:
    row: Row
    run: digits_logic.Run
    cells: Cells
    digits: list[DigitRead]
    point: int  # digits after a 7-segment decimal point (0: none)
    before: list[DigitRead]  # forced reads of the cells left of the run, nearest first
    # the digit model's output for all cells (None: a 7-segment read)
    probs: np.ndarray | None = field(default=None, compare=False)

    @property
    def decimals(self) -> int:
        return self.run.decimals or self.point


class Stage(NamedTuple):
    """The search after one of its stages (see `OcrEngine.stages`)."""

    refined: int  # most promising rows cut on the model's grids so far
    described: list[Described]  # every candidate read so far
    rows: list[Row]  # rows found (displays with a decimal point first)


def choice(
    described: list[Described], shape: tuple[int, ...], model: ranking.Model
) -> tuple[Described, float]:
    """The ranker's choice among candidate reads and the probability that its reading is right."""
    probs = ranking.probabilities(ranking.features(described, shape), model)
    chosen = int(np.argmax(probs))
    return described[chosen], ranking.reading_probability(
        [d.text for d in described], probs, chosen
    )


def load_work_image(image: ImageInput, *, max_pixels: int) -> np.ndarray:
    """A photo loaded as the pipeline reads it (see `work_image`); raises `ImageError`."""
    return work_image(load_image(image, max_pixels=max_pixels, at_least=WORK_SIDE))


def work_image(image: np.ndarray) -> np.ndarray:
    """The photo scaled down (never up) to WORK_SIDE on its long side: the size the pipeline
    measures in, and what `OcrEngine.describe` takes."""
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
        second_opinions: tuple[DigitModel, ...] | None = None,
        ranker: dict[str, ranking.Model] | None = None,
        promise: ranking.Model | None = None,
    ) -> None:
        self.settings = settings
        self.tesseract = tesseract or Tesseract(
            settings.tesseract_data_dir, timeout=settings.tesseract_timeout_seconds
        )
        self.model = model or DigitModel()
        self.second_opinions = second_opinions or tuple(map(DigitModel, SECOND_OPINION_PATHS))
        self.ranker = ranker if ranker is not None else ranking.load()
        self.promise = promise if promise is not None else ranking.load_promise()

    def read(
        self,
        image: ImageInput,
        *,
        integer_digits: int | None = None,
        display: Display | None = None,
        meter_number: bool = True,
    ) -> MeterRead:
        """One photo; `meter_number=False` skips the plate (Tesseract, about 0.1 s). `display`
        is the meter's kind of counter where master data knows it (see `_read`)."""
        start = time.perf_counter()
        try:
            work = load_work_image(image, max_pixels=self.settings.max_image_pixels)
            result = self._read(work, integer_digits, display, meter_number)
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
        probs = self._predict([cells.gray for _, cells in cut])
        return [(row, cells, p) for (row, cells), p in zip(cut, probs, strict=True)]

    def _first_stage(
        self, image: np.ndarray, rows: list[Row], integer_digits: int | None
    ) -> list[Candidate]:
        """All rows cut on the grid through their blobs (in `find_rows` order)."""
        readings = self._classify(
            image, [(row, HEIGHT_FACTORS[0], False) for row in rows[:MAX_ROWS]]
        )
        return [c for c in (_candidate(r) for r in readings) if c is not None]

    def _most_promising(
        self, first: list[Candidate], integer_digits: int | None, shape: tuple[int, ...]
    ) -> tuple[list[Candidate], int]:
        """The rows read on their blob grids, likeliest counter first, and how many of them are
        worth refining. With a digit count the fitted promise model (`ranking.load_promise`)
        orders them and rows less likely than REFINE_MIN to be the counter are not refined;
        without one (displays, unknown meters) the hand-made `_promise` orders them."""
        if not first:
            return first, 0
        if integer_digits is None:
            tallest = max(c.row.height for c in first)
            ordered = sorted(first, key=lambda c: -_promise(c, integer_digits, tallest))
            return ordered, min(len(ordered), REFINE_ROWS)
        likely = ranking.probabilities(_first_features(first, integer_digits, shape), self.promise)
        order = np.argsort(-likely, kind="stable")
        return [first[i] for i in order], refined_count(likely)

    def counter_features(
        self, image: np.ndarray, integer_digits: int | None
    ) -> tuple[np.ndarray, list[Row]]:
        """Features of the rows read on their blob grids and the rows: what
        `bench/fit_ranker.py` fits the promise model on."""
        gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        first = self._first_stage(image, find_rows(gray), integer_digits)
        return _first_features(first, integer_digits, image.shape), [c.row for c in first]

    def stages(
        self, image: np.ndarray, integer_digits: int | None, display: Display | None = None
    ) -> Iterator[Stage]:
        """Every candidate read of a work image (see `work_image`) with its split and fit, and
        the rows found (displays with a decimal point first), after each stage of the search:
        the rows on their blob grids (and the 7-segment reads), then the most promising row,
        then the other rows worth refining (`_most_promising`) cut on the grids the model finds
        along them, upright and upside down, at both cell sizes and with their probabilities
        averaged. The last stage is the whole search; stopping early saves the model's work on
        a sure read. A meter known to have drums (`display="drum"`) is not read segment by
        segment: on the dev photos the counted ranker never chose a 7-segment read of a drum
        meter anyway."""
        gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        drum_rows = find_rows(gray)
        panels = lcd_reads(gray, drum_rows) if display != "drum" else []
        displays = [c for c in map(_lcd_candidate, panels) if c is not None]
        rows = [c.row for c in displays if c.point] + drum_rows
        first, worth = self._most_promising(
            self._first_stage(image, drum_rows, integer_digits), integer_digits, image.shape
        )
        refined: list[Candidate] = []
        opinions: dict[int, list[np.ndarray]] = {}
        done = 0
        for upto in STAGES if displays else STAGES[1:]:
            todo = [(c.row, _ways_up(c)) for c in first[done : min(upto, worth)]]
            refined += [c for c in map(_candidate, self._refined(image, todo)) if c is not None]
            done = min(upto, worth)
            drums = self._second_opinion(first + refined, integer_digits, opinions)
            yield Stage(done, _all_described(drums + displays, integer_digits), rows)
            if done >= worth:
                return

    def _refined(
        self, image: np.ndarray, rows: list[tuple[Row, tuple[bool, ...]]]
    ) -> list[Reading]:
        """Rows on the grids the model finds along them (`counter.fit_grids`: the best, and the
        runners-up with another pitch or cells half a drum off), each way up given (False:
        upright, True: upside down): per way and grid the model slid along the big strip,
        interpolated at the cells' centres (it reads better than the big cells themselves, and
        costs no more model work), the small cells, and the average of both."""
        if not rows:
            return []
        big, small = HEIGHT_FACTORS
        ways = [(row, up) for row, ups in rows for up in ups]
        strips = [
            rectify(image, row, _span(row), height_factor=big, flipped=up) for row, up in ways
        ]
        scans = [scan_centres(strip) for strip in strips]
        scanned = self._predict([scan_cells(s, xs) for s, xs in zip(strips, scans, strict=True)])
        grids = [
            fit_grids(xs, digits_logic.digit_strength(seen), strip.digit_h, GRIDS)
            for strip, xs, seen in zip(strips, scans, scanned, strict=True)
        ]
        kept = _strong_ways(ways, grids)
        cut = []
        for (row, up), strip, xs, seen, found, keep in zip(
            ways, strips, scans, scanned, grids, kept, strict=True
        ):
            if not keep:
                continue
            other = rectify(image, row, _span(row), height_factor=small, flipped=up)
            for grid in found:
                positions = grid_positions(strip, grid.pitch, grid.phase)
                big_cells, small_cells = grid_cells(strip, positions), grid_cells(other, positions)
                cut.append(
                    (row, big_cells, small_cells, _interpolated(seen, xs, big_cells.centres))
                )
        probs = self._predict([small_cells.gray for _, _, small_cells, _ in cut])
        out: list[Reading] = []
        for (row, big_cells, small_cells, slid), p_small in zip(cut, probs, strict=True):
            both = _average((row, big_cells, slid), (row, small_cells, p_small))
            out += [(row, big_cells, slid), (row, small_cells, p_small), both]
        return out

    def _second_opinion(
        self,
        candidates: list[Candidate],
        integer_digits: int | None,
        seen: dict[int, list[np.ndarray]],
    ) -> list[Candidate]:
        """The likeliest of the (non-empty) drum reads read again by the other digit models
        (`SECOND_OPINION_PATHS`: the same recipe from another seed, so its mistakes differ), all
        models' outputs combined as a product of experts (`_geometric`: cross-validated 5 more water
        photos accepted than with their mean).
        `seen` keeps the other models' outputs per list of cells (reads of one grid share
        theirs) across the search's stages."""
        if not candidates:
            return []
        tallest = max(c.row.height for c in candidates)
        ranked = sorted(candidates, key=lambda c: -_fit(c, integer_digits, tallest))
        chosen = [c for c in ranked if c.probs is not None][:SECOND_OPINIONS]
        new = {id(c.cells.gray): c.cells.gray for c in chosen if id(c.cells.gray) not in seen}
        said = [self._predict(list(new.values()), model) for model in self.second_opinions]
        seen.update((key, [opinion[i] for opinion in said]) for i, key in enumerate(new))
        combined = {
            id(c): _candidate((c.row, c.cells, _geometric(c.probs, *seen[id(c.cells.gray)])))
            for c in chosen
            if c.probs is not None
        }
        out = [combined.get(id(c), c) for c in candidates]
        return [c for c in out if c is not None]

    def _predict(
        self, groups: list[list[np.ndarray]], model: DigitModel | None = None
    ) -> list[np.ndarray]:
        """A model (the first by default) over several lists of cells in one batch."""
        probs = (model or self.model).predict([cell for group in groups for cell in group])
        bounds = np.cumsum([0] + [len(g) for g in groups])
        return [probs[a:b] for a, b in pairwise(bounds)]

    def describe(
        self, image: np.ndarray, integer_digits: int | None
    ) -> tuple[list[Described], list[Row]]:
        """The whole search's candidate reads and rows (see `stages`); `bench/fit_ranker.py`
        fits the ranker on these."""
        *_, last = self.stages(image, integer_digits)
        return last.described, last.rows

    def _choose(
        self,
        image: np.ndarray,
        integer_digits: int | None,
        model: ranking.Model,
        display: Display | None = None,
    ) -> tuple[Described, float, Stage] | None:
        """The likeliest read, its probability and the search so far, from the first stage of
        the search at which the read is sure (or from the last)."""
        found = None
        for stage in self.stages(image, integer_digits, display):
            if not stage.described:
                continue
            best, likely = choice(stage.described, image.shape, model)
            found = (best, likely, stage)
            log.debug("%d rows refined: %s at p %.3f", stage.refined, best.text, likely)
            if _sure(best, likely, integer_digits):
                break
        return found

    def _read(
        self,
        image: np.ndarray,
        integer_digits: int | None,
        display: Display | None,
        meter_number: bool,
    ) -> MeterRead:
        found, model, disagrees = self._search(image, integer_digits, display)
        if found is None or not found[0].integer:
            return MeterRead(reading=None, reason="no_counter_found")
        best, likely, stage = found
        c = best.candidate
        on_panel = any(r.lcd and _same_place(r, c.row) for r in stage.rows)  # a drum window too
        shown: Display = "lcd" if c.point or (on_panel and not c.run.decimals) else "drum"
        numbers = (
            read_plate(
                self.tesseract, image, stage.rows, c.row, flipped=c.cells.flipped, reading=best.text
            )
            if meter_number
            else ()
        )
        result = self._result(best, trust.calibrated(likely, model.knot), numbers, shown)
        return replace(result, accepted=False, reason="display_disagrees") if disagrees else result

    def _search(
        self, image: np.ndarray, integer_digits: int | None, display: Display | None
    ) -> tuple[tuple[Described, float, Stage] | None, ranking.Model, bool]:
        """The choice, the ranker that made it, and whether the meter's kind was unknown and a
        display read disagreed with the drums. The counted ranker is fitted on drum counters
        only: on a display it can prefer the digit model's read of the display's own digits
        (`00` for `36`). So a display is read as if its digit count were unknown (the display
        ranker chooses; plausibility checks the count). Where the kind is unknown, a counted read
        that a display read with a decimal point contradicts is not accepted, and is read again
        as a display: the display ranker's choice replaces it where that is a display read with
        a decimal point, surer than the counted read (on the dev photos: right for 60 more of
        the 95 such displays, wrong for 4 of the 53 such drum counters)."""
        counted = None if display == "lcd" else integer_digits
        model = self.ranker[ranking.mode(counted)]
        found = self._choose(image, counted, model, display)
        if display is not None or counted is None or found is None:
            return found, model, False
        if not _display_disagrees(found[0], found[2].described):
            return found, model, False
        uncounted = self.ranker[ranking.mode(None)]
        again = self._choose(image, None, uncounted)
        if again is not None and again[0].candidate.point and again[1] > found[1]:
            return again, uncounted, True
        return found, model, True

    def _result(
        self, best: Described, confidence: float, numbers: tuple[str, ...], display: Display
    ) -> MeterRead:
        reason = best.reason
        accepted = reason is None and confidence >= self.settings.auto_accept_min_confidence
        if reason is None and not accepted:
            reason = f"low_confidence_digit_{trust.weakest_digit(best.integer)}"
        return MeterRead(
            reading=best.text,
            fraction=digits_logic.as_text(best.fraction) or None,
            confidence=confidence,
            accepted=accepted,
            meter_number=numbers[0] if numbers else None,
            meter_number_candidates=numbers,
            reason=reason,
            display=display,
            digits=tuple(best.integer + best.fraction),
        )


Reading = tuple[Row, Cells, np.ndarray]  # a row cut into cells and the model's probabilities


def _candidate(reading: Reading) -> Candidate | None:
    row, cells, probs = reading
    run = digits_logic.find_run(probs, [0.0] * len(cells.red) if row.lcd else cells.red)
    if run is None:
        return None
    digits = digits_logic.read_digits(run.cells)
    before = [
        digits_logic.forced_read(probs[i]) for i in range(run.start - 1, max(-1, run.start - 4), -1)
    ]
    return Candidate(row, run, cells, digits, 0, before, probs)


def _lcd_candidate(lcd: LcdRead) -> Candidate | None:
    """A display read segment by segment: no rolling digits, the point counted from the right.
    Short reads (see LCD_MIN_DIGITS), and reads without a decimal point unless every digit is
    sure, are left out: printed digits and drum windows often match 7-segment patterns too."""
    run = digits_logic.find_run(lcd.probs, [0.0] * len(lcd.probs))
    if run is None:
        return None
    digits = [digits_logic.forced_read(p) for p in run.cells]
    point = lcd.decimals - (len(lcd.probs) - run.start - len(run.cells))
    point = point if 0 < point <= MAX_DECIMALS and point < len(digits) else 0
    if len(digits) < (LCD_MIN_DIGITS if point else LCD_MIN_DIGITS_WITHOUT_POINT):
        return None
    if not point and min(d.confidence for d in digits) < LCD_SURE_WITHOUT_POINT:
        return None
    return Candidate(lcd.row, run, lcd.cells, digits, point, [])


def _is_counter(c: Candidate) -> bool:
    """Red decimal drums after enough black drums: a drum counter, read by the digit model."""
    return not c.point and c.run.decimals > 0 and len(c.run.integer) >= UPRIGHT_DIGITS


def _ways_up(c: Candidate) -> tuple[bool, ...]:
    """Upright only, when the upright read already ends in red drums after enough black ones."""
    return (False,) if _is_counter(c) else (False, True)


def _strong_ways(ways: list[tuple[Row, bool]], grids: list[list[Grid]]) -> list[bool]:
    """Per way up of a row: is its strongest run of digits at least WAY_KEEP of the strongest
    either way up (a row read upside down shows no digits, only shapes)?"""
    strongest: dict[int, float] = {}
    for (row, _), found in zip(ways, grids, strict=True):
        strongest[id(row)] = max(strongest.get(id(row), 0.0), found[0].run)
    return [
        found[0].run >= WAY_KEEP * strongest[id(row)]
        for (row, _), found in zip(ways, grids, strict=True)
    ]


def _display_disagrees(best: Described, described: list[Described]) -> bool:
    """Does a 7-segment read with a decimal point give another integer value than `best`?
    On a display the counted ranker may prefer the digit model's read of the display's own
    digits (`00` for `36`). Printed numbers on a drum meter's dial can match 7-segment patterns
    too (53 of the 452 water photos), so this only withholds acceptance."""
    value = _integer_value(best)
    return any(d.candidate.point and d.integer and _integer_value(d) != value for d in described)


def _integer_value(d: Described) -> int | None:
    return int(d.text) if d.text.isdigit() else None


def _span(row: Row) -> tuple[float, float]:
    """The part of the row searched for drums: its blobs and SPAN_MARGIN digit heights more."""
    positions = row.positions
    return min(positions) - SPAN_MARGIN * row.height, max(positions) + SPAN_MARGIN * row.height


def _same_place(a: Row, b: Row) -> bool:
    """Two rows through the same digits (found twice, or cut differently)."""
    (x1, y1), (x2, y2) = a.origin, b.origin
    return bool(np.hypot(x1 - x2, y1 - y2) <= 0.8 * max(a.height, b.height))


def _average(a: Reading, b: Reading) -> Reading:
    """Two reads of the same row at the same cell positions: average what the model said."""
    red = [(x + y) / 2 for x, y in zip(a[1].red, b[1].red, strict=True)]
    return a[0], replace(a[1], red=red), (a[2] + b[2]) / 2


def _geometric(*probs: np.ndarray) -> np.ndarray:
    """Several models' probabilities per cell combined as a product of experts: the geometric
    mean, renormalised (a digit one model all but rules out stays unlikely)."""
    logs = np.mean([np.log(np.maximum(p, 1e-9)) for p in probs], axis=0)
    g = np.exp(logs - logs.max(axis=1, keepdims=True))
    return np.asarray(g / g.sum(axis=1, keepdims=True))


def _interpolated(seen: np.ndarray, xs: list[float], centres: list[float]) -> np.ndarray:
    """The slid model's probabilities at cell centres, interpolated between scan positions."""
    return np.stack([np.interp(centres, xs, seen[:, k]) for k in range(seen.shape[1])], axis=1)


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


def _all_described(candidates: list[Candidate], integer_digits: int | None) -> list[Described]:
    """Each candidate split and fitted; with a known digit count also the zero-led variants."""
    if not candidates:
        return []
    tallest = max(c.row.height for c in candidates)
    described = [_described(c, integer_digits, tallest) for c in candidates]
    if integer_digits is not None:
        described += [z for z in map(_zero_led, described) if z is not None]
    return described


def complete(best: Described) -> bool:
    """A read the search may stop on: integer digits and no reason code against it."""
    return bool(best.integer) and best.reason is None


def _sure(best: Described, likely: float, integer_digits: int | None) -> bool:
    """Is a read sure enough to end the search before its last stage?"""
    return complete(best) and likely >= EARLY_EXIT[ranking.mode(integer_digits)]


def _described(c: Candidate, integer_digits: int | None, tallest: float) -> Described:
    integer, fraction, reason = _split(c, integer_digits)
    red = digits_logic.red_block(c.cells.red) is not None
    return Described(c, integer, fraction, reason, _fit(c, integer_digits, tallest), red)


def _zero_led(d: Described) -> Described | None:
    """The read with its first non-zero leading drum taken as 0, where the model saw a 0 there
    too: leading drums of a meter of known digit count mostly show 0, and a dark or reflecting
    first drum is the model's commonest doubt. The ranker weighs it against the read as seen."""
    for i, digit in enumerate(d.integer[:ZERO_LED_DRUMS]):
        if digit.value == 0:
            continue
        zero = dict(digit.alternatives).get(0, 0.0)
        if zero < ZERO_ALTERNATIVE:
            return None
        integer = [*d.integer[:i], DigitRead(0, zero, digit.alternatives), *d.integer[i + 1 :]]
        return replace(d, integer=integer)
    return None


def refined_count(likely: np.ndarray) -> int:
    """How many rows to refine, given each one's probability of being the counter: the likely
    ones (REFINE_MIN), at least one, at most REFINE_LIKELY_ROWS."""
    return min(REFINE_LIKELY_ROWS, max(1, int((likely >= REFINE_MIN).sum())))


def _first_features(
    first: list[Candidate], integer_digits: int | None, shape: tuple[int, ...]
) -> np.ndarray:
    """The ranker's features of the rows read on their blob grids (the promise model's input)."""
    if not first:
        return np.zeros((0, len(ranking.FEATURES)))
    tallest = max(c.row.height for c in first)
    return ranking.features([_described(c, integer_digits, tallest) for c in first], shape)


def _promise(c: Candidate, integer_digits: int | None, tallest: float) -> float:
    """How worth a closer look a row read on its blob grid is: its fit, and red drums anywhere
    along it (the blob grid often misses them, or cuts the black drums badly)."""
    red = digits_logic.red_block(c.cells.red) is not None
    return _fit(c, integer_digits, tallest) + RED_PROMISE * red


def _fit(c: Candidate, integer_digits: int | None, tallest: float) -> float:
    """How much a candidate looks like the counter: confident digits, large, red drums or a
    decimal point, upright, and (when known) the digit count of the meter. Weights were tuned
    by hand on the dev photos; they are few and coarse on purpose."""
    n = len(c.run.cells)
    fit = c.run.score + 0.3 * c.row.height / tallest + 0.3 * min(d.confidence for d in c.digits)
    fit += 1.0 * (c.run.decimals > 0) + 0.3 * (c.point > 0) - 0.15 * c.cells.flipped
    if integer_digits is not None:
        shown = n - c.decimals if c.decimals else n  # integer drums (all cells if unknown)
        fit += 0.2 * (integer_digits <= shown <= integer_digits + MAX_DECIMALS)
        fit -= 0.3 * max(0, integer_digits - shown)
    else:
        fit += 0.02 * min(n, 8)
    return fit


def _with_seconds(result: MeterRead, seconds: float) -> MeterRead:
    return replace(result, seconds=seconds)
