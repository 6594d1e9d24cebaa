"""The two-stage search for the counter: every row read on the grid through its blobs, then the
most promising rows refined on the grids the digit model finds along them."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from itertools import pairwise
from typing import NamedTuple

import cv2
import numpy as np

from core.types import Display
from ocr import candidates, digits_logic, ranking
from ocr.counter import (
    cut_cells,
    fit_grids,
    grid_cells,
    grid_positions,
    rectify,
    scan_cells,
    scan_centres,
)
from ocr.digits import DigitModel
from ocr.locate import Row, find_rows, rows_to_read
from ocr.panel import lcd_reads
from ocr.reads import Candidate, Described, Reading
from ocr.tuning import (
    DRUM_ROWS,
    GRIDS,
    HEIGHT_FACTORS,
    MAX_ROWS,
    REFINE_LIKELY_ROWS,
    REFINE_MIN,
    REFINE_ROWS,
    SECOND_OPINIONS,
    STAGES,
)


class Stage(NamedTuple):
    """The search after one of its stages (see `Search.stages`)."""

    refined: int  # most promising rows cut on the model's grids so far
    described: list[Described]  # every candidate read so far
    rows: list[Row]  # rows found (displays with a decimal point first)
    reads: list[Candidate]  # the candidates `described` splits (to split them under other counts)


class Search:
    """The search with the models it runs: the digit model, the second opinions (the same recipe
    from other seeds, so their mistakes differ) and the promise model of which row is the
    counter."""

    def __init__(
        self, model: DigitModel, second_opinions: tuple[DigitModel, ...], promise: ranking.Model
    ) -> None:
        self.model = model
        self.second_opinions = second_opinions
        self.promise = promise

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

    def _first_stage(self, image: np.ndarray, rows: list[Row]) -> list[Candidate]:
        """MAX_ROWS rows (`locate.rows_to_read`) cut on the grid through their blobs."""
        chosen = rows_to_read(rows, MAX_ROWS, DRUM_ROWS)
        readings = self._classify(image, [(row, HEIGHT_FACTORS[0], False) for row in chosen])
        return [c for c in (candidates.from_reading(r) for r in readings) if c is not None]

    def _most_promising(
        self, first: list[Candidate], integer_digits: int | None, shape: tuple[int, ...]
    ) -> tuple[list[Candidate], int]:
        """The rows read on their blob grids, likeliest counter first, and how many of them are
        worth refining. With a digit count the fitted promise model (`ranking.load_promise`)
        orders them and rows less likely than REFINE_MIN to be the counter are not refined;
        without one (displays, unknown meters) the hand-made `candidates.promise` orders them."""
        if not first:
            return first, 0
        if integer_digits is None:
            tallest = max(c.row.height for c in first)
            ordered = sorted(first, key=lambda c: -candidates.promise(c, integer_digits, tallest))
            return ordered, min(len(ordered), REFINE_ROWS)
        likely = ranking.probabilities(
            candidates.first_features(first, integer_digits, shape), self.promise
        )
        order = np.argsort(-likely, kind="stable")
        return [first[i] for i in order], refined_count(likely)

    def counter_features(
        self, image: np.ndarray, integer_digits: int | None
    ) -> tuple[np.ndarray, list[Row]]:
        """Features of the rows read on their blob grids and the rows: what
        `bench/fit_ranker.py` fits the promise model on."""
        gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        first = self._first_stage(image, find_rows(gray))
        return candidates.first_features(first, integer_digits, image.shape), [c.row for c in first]

    def stages(
        self,
        image: np.ndarray,
        integer_digits: int | None,
        display: Display | None = None,
        memo: Memo | None = None,
    ) -> Iterator[Stage]:
        """Every candidate read of a work image (`reader.work_image`) with its split and fit, and
        the rows found (displays with a decimal point first), after each stage of the search:
        the rows on their blob grids (and the 7-segment reads), then the most promising row,
        then the other rows worth refining (`_most_promising`) cut on the grids the model finds
        along them, upright and upside down, at both cell sizes and with their probabilities
        averaged. The last stage is the whole search; stopping early saves the model's work on
        a sure read. A meter known to have drums (`display="drum"`) is not read segment by
        segment: its printed digits can match 7-segment patterns, and a drum counter's reading
        is never one; a meter known to have a display (`display="lcd"`) is read from its
        7-segment reads alone where there are any: the digit model's reads of printed numbers
        beside the display (`10000 imp/kWh`) are no reading of it. `memo` keeps what does not
        depend on the digit count and the kind, for reading the same photo again under another
        hypothesis."""
        memo = memo or Memo(image)
        drum_rows = memo.rows()
        displays = memo.displays() if display != "drum" else []
        rows = [c.row for c in displays if c.point] + drum_rows
        if display == "lcd" and displays:
            yield Stage(0, candidates.all_described(displays, integer_digits), rows, displays)
            return
        first, worth = self._most_promising(self.first(image, memo), integer_digits, image.shape)
        refined: list[Candidate] = []
        done = 0
        for upto in STAGES if displays else STAGES[1:]:
            todo = [(c.row, candidates.ways_up(c)) for c in first[done : min(upto, worth)]]
            refined += self._refined_rows(image, todo, memo)
            done = min(upto, worth)
            drums = self._second_opinion(first + refined, integer_digits, memo)
            reads = drums + displays
            yield Stage(done, candidates.all_described(reads, integer_digits), rows, reads)
            if done >= worth:
                return

    def first(self, image: np.ndarray, memo: Memo) -> list[Candidate]:
        """The photo's rows read on their blob grids (once per memo)."""
        if memo.first is None:
            memo.first = self._first_stage(image, memo.rows())
        return memo.first

    def _refined_rows(
        self, image: np.ndarray, todo: list[tuple[Row, tuple[bool, ...]]], memo: Memo
    ) -> list[Candidate]:
        """The candidates of `todo`'s rows refined (`_refined`), each row refined once per photo
        (the model's output does not depend on the other cells of its batch)."""
        missing = [(row, ways) for row, ways in todo if id(row) not in memo.refined]
        memo.refined.update(self._refined_in(image, missing))
        return [c for row, _ in todo for c in memo.refined[id(row)]]

    def _refined_in(
        self, image: np.ndarray, todo: list[tuple[Row, tuple[bool, ...]]]
    ) -> dict[int, list[Candidate]]:
        """Per row of `todo` (by identity), its candidates refined, and a run of them broken at
        one drum also bridged over it (`candidates.bridged`)."""
        out: dict[int, list[Candidate]] = {id(row): [] for row, _ in todo}
        for reading in self._refined(image, todo):
            candidate = candidates.from_reading(reading)
            if candidate is not None:
                more = candidates.bridged(candidate)
                out[id(reading[0])] += [candidate] if more is None else [candidate, more]
        return out

    def _refined(
        self, image: np.ndarray, rows: list[tuple[Row, tuple[bool, ...]]]
    ) -> list[Reading]:
        """Rows on the grids the model finds along them (`counter.fit_grids`:
        the best, and the runners-up with another pitch or cells half a drum off), each way up
        given (False: upright, True: upside down): per way and grid the model slid along the
        big strip, interpolated at the cells' centres (it reads better than the big cells
        themselves, and costs no more model work), the small cells, and the average of both."""
        if not rows:
            return []
        big, small = HEIGHT_FACTORS
        ways = [(row, up) for row, ups in rows for up in ups]
        strips = [
            rectify(image, row, candidates.span(row), height_factor=big, flipped=up)
            for row, up in ways
        ]
        scans = [scan_centres(strip) for strip in strips]
        scanned = self._predict([scan_cells(s, xs) for s, xs in zip(strips, scans, strict=True)])
        grids = [
            fit_grids(xs, digits_logic.digit_strength(seen), strip.digit_h, GRIDS)
            for strip, xs, seen in zip(strips, scans, scanned, strict=True)
        ]
        kept = candidates.strong_ways(ways, grids)
        cut = []
        for (row, up), strip, xs, seen, found, keep in zip(
            ways, strips, scans, scanned, grids, kept, strict=True
        ):
            if not keep:
                continue
            other = rectify(image, row, candidates.span(row), height_factor=small, flipped=up)
            for grid in found:
                positions = grid_positions(strip, grid.pitch, grid.phase)
                big_cells, small_cells = grid_cells(strip, positions), grid_cells(other, positions)
                cut.append(
                    (
                        row,
                        big_cells,
                        small_cells,
                        candidates.interpolated(seen, xs, big_cells.centres),
                    )
                )
        probs = self._predict([small_cells.gray for _, _, small_cells, _ in cut])
        out: list[Reading] = []
        for (row, big_cells, small_cells, slid), p_small in zip(cut, probs, strict=True):
            both = candidates.average((row, big_cells, slid), (row, small_cells, p_small))
            out += [(row, big_cells, slid), (row, small_cells, p_small), both]
        return out

    def _second_opinion(
        self, reads: list[Candidate], integer_digits: int | None, memo: Memo
    ) -> list[Candidate]:
        """The likeliest of the (non-empty) drum reads read again by the other digit models, all
        models' outputs combined as a product of experts (`candidates.geometric`: a digit one
        model all but rules out stays unlikely, which accepts more reads than their mean).
        `memo` keeps the other models' outputs per list of cells (reads of one grid share
        theirs) and the combined reads per read (`reads` are the memo's own) across the
        search's stages and hypotheses."""
        if not reads:
            return []
        tallest = max(c.row.height for c in reads)
        ranked = sorted(reads, key=lambda c: -candidates.fit(c, integer_digits, tallest))
        chosen = [c for c in ranked if c.probs is not None][:SECOND_OPINIONS]
        seen = memo.opinions
        new = {id(c.cells.gray): c.cells.gray for c in chosen if id(c.cells.gray) not in seen}
        said = [self._predict(list(new.values()), model) for model in self.second_opinions]
        seen.update((key, [opinion[i] for opinion in said]) for i, key in enumerate(new))
        combined = memo.combined
        for c in chosen:
            if id(c) not in combined and c.probs is not None:
                combined[id(c)] = _again(c, candidates.geometric(c.probs, *seen[id(c.cells.gray)]))
        taken = {id(c) for c in chosen}
        out = [combined.get(id(c), c) if id(c) in taken else c for c in reads]
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


def _again(c: Candidate, probs: np.ndarray) -> Candidate | None:
    """`c` read again from other probabilities for its cells (bridged again where it was: a
    bridge the new probabilities do not hold keeps `c` as it was)."""
    again = candidates.from_reading((c.row, c.cells, probs))
    if not c.lost or again is None:
        return again
    return candidates.bridged(again) or c


class Memo:
    """What the search finds in one photo whatever the digit count and the kind: the rows, the
    display reads, the rows read on their blob grids, the refined rows, the second models'
    outputs and the reads combined with them (keyed by the identity of cells and reads this memo
    keeps alive), and the plate's codes and serial text. Reading the photo under several
    hypotheses with one memo locates the counter and reads the plate once."""

    def __init__(self, image: np.ndarray) -> None:
        self.gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        self._rows: list[Row] | None = None
        self._displays: list[Candidate] | None = None
        self.first: list[Candidate] | None = None
        self.refined: dict[int, list[Candidate]] = {}
        self.opinions: dict[int, list[np.ndarray]] = {}
        # per read the memo keeps (by identity): that read with the other models' say
        self.combined: dict[int, Candidate | None] = {}
        self.codes: list[str] | None = None  # the photo's barcodes and QR codes (`plate.codes`)
        self.serials: dict[tuple[object, ...], str] = {}  # Tesseract's text per counter
        # the unit printed after each counter's end and the pointer dials around each counter
        # box (`ocr.kind_marks`)
        self.units: dict[tuple[object, ...], str | None] = {}
        self.dials: dict[tuple[object, ...], int] = {}
        self._beside: Memo | None = None

    def beside(self) -> Memo:
        """The memo of reading the same photo with other digit-model heads (a site model's
        check by the shipped ones): the rows and the display reads, which no head reads, are
        shared; one per memo, so several hypotheses share it too."""
        if self._beside is None:
            other = copy.copy(self)
            other.first, other.refined, other.opinions, other.serials = None, {}, {}, {}
            other.combined = {}
            other.units, other.dials = {}, {}
            self._beside = other
        return self._beside

    def rows(self) -> list[Row]:
        if self._rows is None:
            self._rows = find_rows(self.gray)
        return self._rows

    def displays(self) -> list[Candidate]:
        """The 7-segment reads that can be a display's."""
        if self._displays is None:
            panels = lcd_reads(self.gray, self.rows())
            self._displays = [c for c in map(candidates.lcd_candidate, panels) if c is not None]
        return self._displays


def refined_count(likely: np.ndarray) -> int:
    """How many rows to refine, given each one's probability of being the counter: the likely
    ones (REFINE_MIN), at least one, at most REFINE_LIKELY_ROWS."""
    return min(REFINE_LIKELY_ROWS, max(1, int((likely >= REFINE_MIN).sum())))
