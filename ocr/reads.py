"""What the search produces: candidate reads of a row, and what the reader made of each.

A small module of types that the search, the choice and the ranker share (the ranker computes
its features from these; it does not depend on the search).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from core.types import DigitRead
from ocr import digits_logic
from ocr.counter import Cells
from ocr.locate import Row
from ocr.sevenseg import Segments

Reading = tuple[Row, Cells, np.ndarray]  # a row cut into cells and the model's probabilities


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
    # a 7-segment read's evidence for the run's digits (None: read by the digit model)
    segments: Segments | None = field(default=None, compare=False)
    # positions along the row (as `Row.positions`) of cells the run was bridged over: drums
    # whose digit the model did not see (see `candidates.bridged`)
    lost: tuple[float, ...] = ()

    @property
    def decimals(self) -> int:
        return self.run.decimals or self.point

    @cached_property  # the ranker asks for it once per way the read is described
    def certainty(self) -> tuple[float, float, float]:
        """Its digits' least and mean confidence, and the sum of their logs (each at least
        1e-6)."""
        confidences = [x.confidence for x in self.digits]
        logs = float(np.sum(np.log(np.maximum(confidences, 1e-6))))
        return min(confidences), float(np.mean(confidences)), logs


@dataclass(frozen=True)
class Described:
    """A candidate with what the reader made of it."""

    candidate: Candidate
    integer: list[DigitRead]
    fraction: list[DigitRead]
    reason: str | None
    fit: float
    red_anywhere: bool

    @cached_property  # the ranker's features and the choice ask for it many times
    def text(self) -> str:
        return digits_logic.as_text(self.integer)
