"""From per-cell probabilities to digits: trimming, red decimal drums, rolling drums, confidences.

Rolling drums: the model spreads its probability over the two digits a drum is caught between. By
convention the lower one is the reading, unless the drum to its right has already passed zero (then
the drum has in fact completed its step): the rule digital meter readers use for geared drums.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from core.types import DigitRead
from ocr.digits import NO_DIGIT

DIGIT_MIN = 0.5  # cells with less digit mass than this are not part of the counter
ROLL_BOTH = 0.3  # both neighbours at least this likely -> the drum is between them
MAX_DECIMALS = 3
EDGE_WEAK = 0.35  # a first cell this much weaker than the median cell is dropped


@dataclass(frozen=True)
class Run:
    """The cells that make up the counter, split into integer and decimal drums."""

    cells: list[np.ndarray]  # probabilities per cell, reading order
    decimals: int  # trailing red cells (0: none found)
    score: float
    start: int  # index of the first run cell among all cells of the row

    @property
    def integer(self) -> list[np.ndarray]:
        return self.cells[: len(self.cells) - self.decimals]

    @property
    def fraction(self) -> list[np.ndarray]:
        return self.cells[len(self.cells) - self.decimals :]


def red_block(red: list[float]) -> tuple[int, int] | None:
    """The decimal drums: a block of 1..4 cells clearly redder than all cells before it.

    Returns (start, length) or None. Cells after the block (a frame, the unit label) are not part
    of the counter. Among qualifying blocks the one separating best (as Otsu's threshold) wins.
    """
    best: tuple[int, int] | None = None
    best_score = 0.0
    values = [float(v) for v in red]  # a few dozen cells: plain floats beat numpy's overhead
    total = squares = 0.0
    before: list[float] = []  # the cells before the block, sorted
    for start in range(1, len(values)):
        total += values[start - 1]
        squares += values[start - 1] ** 2
        bisect.insort(before, values[start - 1])
        top = _upper_quartile(before)  # robust: one reddish frame cell must not veto
        if values[start] - top <= 3:
            continue  # the block's least red cell is at most its first
        mean = total / start  # of the black cells before the block
        spread = math.sqrt(max(squares / start - mean * mean, 0.0)) + 2.0
        block_total, block_min = 0.0, math.inf
        for k in range(1, min(MAX_DECIMALS, len(values) - start) + 1):
            block_total += values[start + k - 1]
            block_min = min(block_min, values[start + k - 1])
            gain = block_total / k - mean
            if block_min - top <= 3 or gain <= max(5.0, 0.25 * mean):
                continue
            score = start * k * gain**2 / spread
            if score > best_score:
                best, best_score = (start, k), score
    return best


def _upper_quartile(ordered: list[float]) -> float:
    """The 75th percentile of sorted values (as numpy's default, linear), without numpy's
    per-call overhead."""
    at = 0.75 * (len(ordered) - 1)
    low = int(at)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (at - low)


def _longest_run(is_digit: list[bool]) -> tuple[int, int] | None:
    best: tuple[int, int] | None = None
    start = None
    for i, flag in enumerate([*is_digit, False]):
        if flag and start is None:
            start = i
        elif not flag and start is not None:
            if best is None or i - start > best[1] - best[0]:
                best = (start, i)
            start = None
    return best


def digit_strength(probs: np.ndarray) -> np.ndarray:
    """Per cell: how sure the model is that it shows one particular digit."""
    return np.asarray((1.0 - probs[:, NO_DIGIT]) * probs[:, :10].max(axis=1))


def find_run(probs: np.ndarray, red: list[float], framed: Sequence[float] = ()) -> Run | None:
    """Longest run of digit cells; trailing red cells are the decimals, or where no cell is
    red, a trailing drum framed in red (`framed`, per cell: a Ferraris counter's decimal drum;
    a cell's edges tell a frame around it, not one around several). A framed drum right before
    the red cells is the decimal drum too: a cell cut beside it sees the frame's right side."""
    span = _longest_run((probs[:, NO_DIGIT] < DIGIT_MIN).tolist())
    if span is None:
        return None
    cells = list(range(*span))
    strength = digit_strength(probs)
    while len(cells) > 2 and strength[cells[0]] < EDGE_WEAK * np.median(strength[cells]):
        cells = cells[1:]  # a frame edge or a half-visible drum at the start, not a digit
    # red drums may follow the run: white on red is faint for the model, the colour is not
    reach = list(range(cells[0], min(len(red), cells[-1] + 1 + MAX_DECIMALS)))
    block = red_block([red[i] for i in reach])
    frame = red_block([framed[i] for i in reach]) if framed else None
    frame = frame if frame is not None and frame[1] == 1 else None  # a frame holds one drum
    if frame is not None and (block is None or block[0] == frame[0] + 1):
        block = frame  # red just right of a framed drum is the frame's own right side
    decimals = 0
    if block is not None and block[0] <= len(cells):
        cells = reach[: block[0] + block[1]]
        decimals = block[1]
    digit_mass = np.mean([1.0 - probs[i, NO_DIGIT] for i in cells])
    score = float(digit_mass * np.mean(probs[cells, :10].max(axis=1)))
    return Run([probs[i] for i in cells], decimals, score, cells[0])


def _at_wrap(d: DigitRead) -> bool | None:
    """Is this drum between 9 and 0 (True: still at 9, False: past 0, None: elsewhere)?"""
    top2 = {v for v, _ in d.alternatives[:2]}
    if d.value == 9 or top2 == {9, 0}:
        return d.value == 9
    return False if d.value == 0 else None


def digit_read(p: np.ndarray, right: DigitRead | None) -> DigitRead:
    """One drum: best digit, confidence, top-3 alternatives; rolling drums resolved by `right`.

    A drum only turns while the drum to its right goes from 9 to 0. So a drum caught between
    a and a+1 reads a when the right drum still shows 9 (or it is the last drum: the convention),
    a+1 when the right drum already shows 0; otherwise the second guess was just a confusion.
    """
    digit_mass = float(p[:10].sum())
    q = p[:10] / max(digit_mass, 1e-9)
    order = np.argsort(-q)
    top, second = int(order[0]), int(order[1])
    alternatives = tuple((int(d), round(float(q[d]), 4)) for d in order[:3])
    if q[second] >= ROLL_BOTH and (top - second) % 10 in (1, 9):
        lower = top if (second - top) % 10 == 1 else second
        upper = (lower + 1) % 10
        wrap = True if right is None else _at_wrap(right)
        if wrap is not None:
            value = lower if wrap else upper
            pair = float(q[lower] + q[upper]) * (0.9 if right is not None else 0.8)
            return DigitRead(value, pair * digit_mass, alternatives)
    return DigitRead(top, float(q[top]) * digit_mass, alternatives)


def forced_read(p: np.ndarray) -> DigitRead:
    """A cell the model doubts is a digit at all, read anyway: its confidence says how much."""
    q = p[:10] / max(float(p[:10].sum()), 1e-9)
    order = np.argsort(-q)
    alternatives = tuple((int(d), round(float(q[d]), 4)) for d in order[:3])
    return DigitRead(int(order[0]), float(q[order[0]]) * float(p[:10].sum()), alternatives)


def read_digits(rows: list[np.ndarray]) -> list[DigitRead]:
    """Digits right to left, so each drum can look at its right neighbour."""
    out: list[DigitRead] = []
    right: DigitRead | None = None
    for p in reversed(rows):
        right = digit_read(p, right)
        out.append(right)
    return out[::-1]


def as_text(digits: list[DigitRead]) -> str:
    return "".join(str(d.value) for d in digits)
