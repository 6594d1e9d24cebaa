"""Candidate generation: a row cut into cells and classified becomes a candidate read, and each
candidate is split into integer and decimal digits and scored by hand (`fit`) for the search's
order and the ranker's features."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from core.types import DigitRead
from ocr import digits_logic, ranking
from ocr.counter import Grid
from ocr.digits import NO_DIGIT
from ocr.digits_logic import MAX_DECIMALS
from ocr.locate import MOST_DRUMS, Row
from ocr.panel import LcdRead
from ocr.reads import Candidate, Described, Reading
from ocr.tuning import (
    LCD_MIN_DIGITS,
    LCD_MIN_DIGITS_WITHOUT_POINT,
    LCD_SURE_WITHOUT_POINT,
    RED_PROMISE,
    SPAN_MARGIN,
    UPRIGHT_DIGITS,
    WAY_KEEP,
    ZERO_ALTERNATIVE,
    ZERO_LED_DRUMS,
)


def from_reading(reading: Reading) -> Candidate | None:
    """A row read by the digit model: its run of digits (red drums mark the decimals), or None
    where the cells hold no run."""
    row, cells, probs = reading
    if row.lcd:
        run = digits_logic.find_run(probs, [0.0] * len(cells.red))
    else:
        run = digits_logic.find_run(probs, cells.red, cells.framed)
    if run is None:
        return None
    digits = digits_logic.read_digits(run.cells)
    before = [
        digits_logic.forced_read(probs[i]) for i in range(run.start - 1, max(-1, run.start - 4), -1)
    ]
    return Candidate(row, run, cells, digits, 0, before, probs)


def bridged(c: Candidate) -> Candidate | None:
    """A drum counter's run of digits ending in red drums, continued over the one cell before
    it that the model saw no digit in to the run of digits before that cell (a pen stroke or
    glare across a drum breaks the counter's run there), as long as the whole is no more drums
    than a counter has (MOST_DRUMS): the bridged cell is named lost (`Candidate.lost`), so a
    read with a digit there keeps its value but is not accepted. None where there is no such
    gap."""
    probs = c.probs
    gap = c.run.start - 1
    if probs is None or c.row.lcd or c.run.decimals == 0 or c.lost or gap < 1:
        return None
    digit = probs[:, NO_DIGIT] < digits_logic.DIGIT_MIN
    if digit[gap] or not digit[gap - 1]:
        return None
    first = gap - 1
    while first > 0 and digit[first - 1]:
        first -= 1
    end = c.run.start + len(c.run.cells)
    reddest_before = max(c.cells.red[first:gap])
    if end - first > MOST_DRUMS or reddest_before >= min(c.cells.red[end - c.run.decimals : end]):
        return None
    cells = [probs[i] for i in range(first, end)]
    run = digits_logic.Run(cells, c.run.decimals, c.run.score, first)
    digits = digits_logic.read_digits(cells)
    before = [digits_logic.forced_read(probs[i]) for i in range(first - 1, max(-1, first - 4), -1)]
    lost = (c.cells.positions[gap],)
    return replace(c, run=run, digits=digits, before=before, lost=lost)


def offered(c: Candidate, integer_digits: int | None) -> bool:
    """Is the candidate read weighed under this digit count? A bridged run (`bridged`) only
    where its black drums are the count: bridging a lost drum is worth its doubt only where it
    makes the counter whole."""
    return not c.lost or len(c.run.cells) - c.run.decimals == integer_digits


def lcd_candidate(lcd: LcdRead) -> Candidate | None:
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
    segments = lcd.segments and lcd.segments.part(run.start, run.start + len(run.cells))
    return Candidate(lcd.row, run, lcd.cells, digits, point, [], segments=segments)


def is_counter(c: Candidate) -> bool:
    """Red decimal drums after enough black drums: a drum counter, read by the digit model."""
    return not c.point and c.run.decimals > 0 and len(c.run.integer) >= UPRIGHT_DIGITS


def ways_up(c: Candidate) -> tuple[bool, ...]:
    """Upright only, when the upright read already ends in red drums after enough black ones."""
    return (False,) if is_counter(c) else (False, True)


def strong_ways(ways: list[tuple[Row, bool]], grids: list[list[Grid]]) -> list[bool]:
    """Per way up of a row: is its strongest run of digits at least WAY_KEEP of the strongest
    either way up (a row read upside down shows no digits, only shapes)?"""
    strongest: dict[int, float] = {}
    for (row, _), found in zip(ways, grids, strict=True):
        strongest[id(row)] = max(strongest.get(id(row), 0.0), found[0].run)
    return [
        found[0].run >= WAY_KEEP * strongest[id(row)]
        for (row, _), found in zip(ways, grids, strict=True)
    ]


def span(row: Row) -> tuple[float, float]:
    """The part of the row searched for drums: its blobs and SPAN_MARGIN digit heights more."""
    positions = row.positions
    return min(positions) - SPAN_MARGIN * row.height, max(positions) + SPAN_MARGIN * row.height


def average(a: Reading, b: Reading) -> Reading:
    """Two reads of the same row at the same cell positions: average what the model said."""
    red = [(x + y) / 2 for x, y in zip(a[1].red, b[1].red, strict=True)]
    framed = tuple((x + y) / 2 for x, y in zip(a[1].framed, b[1].framed, strict=True))
    return a[0], replace(a[1], red=red, framed=framed), (a[2] + b[2]) / 2


def geometric(*probs: np.ndarray) -> np.ndarray:
    """Several models' probabilities per cell combined as a product of experts: the geometric
    mean, renormalised (a digit one model all but rules out stays unlikely)."""
    logs = np.mean([np.log(np.maximum(p, 1e-9)) for p in probs], axis=0)
    g = np.exp(logs - logs.max(axis=1, keepdims=True))
    return np.asarray(g / g.sum(axis=1, keepdims=True))


def interpolated(seen: np.ndarray, xs: list[float], centres: list[float]) -> np.ndarray:
    """The slid model's probabilities at cell centres, interpolated between scan positions."""
    return np.stack([np.interp(centres, xs, seen[:, k]) for k in range(seen.shape[1])], axis=1)


def split(
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


def all_described(reads: list[Candidate], integer_digits: int | None) -> list[Described]:
    """Each candidate (`offered` under the count) split and fitted; with a known digit count
    also the zero-led variants."""
    if not reads:
        return []
    tallest = max(c.row.height for c in reads)
    out = [described(c, integer_digits, tallest) for c in reads if offered(c, integer_digits)]
    if integer_digits is not None:
        out += [z for z in map(zero_led, out) if z is not None]
    return out


def described(c: Candidate, integer_digits: int | None, tallest: float) -> Described:
    """A candidate split into integer and decimal digits, with its fit (`tallest`: the height of
    the photo's tallest row)."""
    integer, fraction, reason = split(c, integer_digits)
    red = digits_logic.red_block(c.cells.red) is not None
    return Described(c, integer, fraction, reason, fit(c, integer_digits, tallest), red)


def zero_led(d: Described) -> Described | None:
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


def first_features(
    first: list[Candidate], integer_digits: int | None, shape: tuple[int, ...]
) -> np.ndarray:
    """The ranker's features of the rows read on their blob grids (the promise model's input)."""
    if not first:
        return np.zeros((0, len(ranking.FEATURES)))
    tallest = max(c.row.height for c in first)
    return ranking.features([described(c, integer_digits, tallest) for c in first], shape)


def promise(c: Candidate, integer_digits: int | None, tallest: float) -> float:
    """How worth a closer look a row read on its blob grid is: its fit, and red drums anywhere
    along it (the blob grid often misses them, or cuts the black drums badly)."""
    red = digits_logic.red_block(c.cells.red) is not None
    return fit(c, integer_digits, tallest) + RED_PROMISE * red


def fit(c: Candidate, integer_digits: int | None, tallest: float) -> float:
    """How much a candidate looks like the counter: confident digits, large, red drums or a
    decimal point, upright, and (when known) the digit count of the meter. The weights are set
    by hand, few and coarse on purpose: the fitted ranker weighs this score among its features."""
    n = len(c.run.cells)
    score = c.run.score + 0.3 * c.row.height / tallest + 0.3 * min(d.confidence for d in c.digits)
    score += 1.0 * (c.run.decimals > 0) + 0.3 * (c.point > 0) - 0.15 * c.cells.flipped
    if integer_digits is not None:
        shown = n - c.decimals if c.decimals else n  # integer drums (all cells if unknown)
        score += 0.2 * (integer_digits <= shown <= integer_digits + MAX_DECIMALS)
        score -= 0.3 * max(0, integer_digits - shown)
    else:
        score += 0.02 * min(n, 8)
    return score
