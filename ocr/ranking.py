"""Which candidate read is the meter's reading, and how likely it is right.

A conditional logit over the photo's candidate reads with an outside option ("none of them"):
each candidate gets a score `w . features + b`, the outside option 0, and a softmax over all of
them gives each candidate's probability of being the right read. A reading's probability is the
sum over the candidates that read it (several cuts of the same row often agree); the outside
option takes the probability that no candidate is right, so a photo with one poor candidate does
not get a sure reading.

The weights come from `bench/fit_ranker.py`, fitted on the dev photos (features of every
candidate, which ones read the label) and written to `models/ranker.json` with the probability
from which cross-validated reads were right >= 99.5 % by the lower Wilson bound (the knot that
trust maps to the accept threshold; none where no probability gets there). One weight set when
master data gave the digit count (drum counters), one without it (displays, unknown meters). A
third weight set ("promise") scores the rows read on their blob grids by how likely each is the
counter, so that the search refines the likely ones first and skips the unlikely ones.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from core.types import DigitRead
from ocr.locate import Row, same_place
from ocr.reads import Described

RANKER_PATH = Path(__file__).parent / "models" / "ranker.json"
FEATURES = (
    "fit",  # the hand-made score (candidates.fit)
    "behind_best",  # fit minus the photo's best fit
    "run_score",
    "height",  # digit height relative to the tallest row
    "weakest",  # weakest digit of the run
    "mean_confidence",
    "weakest_integer",
    "log_likelihood",  # sum of log digit confidences / 10
    "red_drums",
    "decimal_point",
    "upside_down",
    "cells",  # cells in the run, / 10, at most 1
    "lcd_panel",
    "digit_model",  # read by the CNN (not segment by segment)
    "red_anywhere",
    "agreeing",  # other candidates reading the same, / 5
    "off_centre",  # row centre's distance from the photo centre (L1, in photo sizes)
    "split_clean",  # integer and decimals split without a reason code
    # small readings are likelier (meters are exchanged long before their drums fill up), but
    # only relative to the photo's other candidates: a meter showing a high reading in every
    # read is not doubted for it
    "more_digits",  # digits after leading zeros beyond the photo's fewest, / 5
    "no_leading_zero",  # 1 when another candidate starts with 0 and this one does not
    # at most one digit after the leading zeros: a reading under 10 is rare on a meter in use,
    # a print such as the litre factor `x0,0001` or a lone mark read as a row is not
    "one_digit",
    # a single red drum: water meters show three or four, so one alone is mostly a red mark or a
    # misplaced split; not counted where master data gives the meter one decimal (a Ferraris
    # meter's red tenth drum)
    "lone_red",
    "extra_black",  # more black drums before the red ones than the meter has
    # a thin "1" on a worn drum is the digit model's commonest confident mistake (read as 7, 4
    # or 0): how much the model still gives to "1" on the integer digits not read as 1
    "one_doubt",  # the most on any of them
    "runner_up",  # the likeliest second choice of any integer digit
    "one_doubt_sum",  # "1" summed over the digits not read as 1
    "one_doubt_significant",  # the most on any after the leading zeros
    "zero_doubt",  # the most the model gives to "0" on an integer digit not read as 0
    "one_doubts",  # integer digits not read as 1 with at least DOUBT on "1", / 3
    # what the photo's other cuts say: a counter cut on several grids, at both cell sizes and by
    # both digit models reads the same where the read is right; a misplaced grid or a misread
    # digit mostly reads so in one cut only
    "agreeing_whole",  # other candidates reading the same integer and decimal digits, / 5
    "other_places",  # other places in the photo (rows not through the same digits) reading the
    # same integer digits, / 3, at most 1: the counter found twice, or a print (one place only)
)
DOUBT = 0.05


@dataclass(frozen=True)
class Model:
    weights: np.ndarray
    bias: float
    knot: float | None  # probability from which reads are right >= 99.5 % (None: never)


def mode(integer_digits: int | None) -> str:
    return "uncounted" if integer_digits is None else "counted"


@cache
def load(path: Path = RANKER_PATH) -> dict[str, Model]:
    data = _data(path)
    return {name: _model(m, path) for name, m in data["models"].items()}


@cache
def load_promise(path: Path = RANKER_PATH) -> Model:
    """The model of which first-stage row is the counter (a digit count known): the same
    conditional logit, fitted on the counter boxes labelled in the dev photos."""
    return _model(_data(path)["promise"], path)


_REFIT = "run bench/fit_ranker.py"


def _data(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    if tuple(data["features"]) != FEATURES:
        raise ValueError(f"{path} was fitted on other features; {_REFIT}")
    if "promise" not in data or set(data["models"]) != {"counted", "uncounted"}:
        raise ValueError(f"{path} lacks the promise model or a mode's weights; {_REFIT}")
    return data


def _model(m: dict[str, Any], path: Path) -> Model:
    weights = np.array(m["weights"], dtype=np.float64)
    if weights.shape != (len(FEATURES),):
        raise ValueError(f"{path} holds {weights.size} weights for {len(FEATURES)} features")
    return Model(weights, float(m["bias"]), m.get("knot"))


def features(
    described: list[Described], shape: tuple[int, ...], *, decimal_digits: int | None = None
) -> np.ndarray:
    """One row of FEATURES per candidate (`shape`: the work image's; `decimal_digits`: the
    meter's decimal drums where master data gives them)."""
    lone_red_expected = decimal_digits == 1
    tallest = max(d.candidate.row.height for d in described)
    best_fit = max(d.fit for d in described)
    counts = Counter(d.text for d in described)
    x = np.array(
        [
            _features(d, shape, tallest, best_fit, counts[d.text] - 1, lone_red_expected)
            for d in described
        ],
        dtype=np.float64,
    ).reshape(len(described), len(FEATURES))
    more, lead = FEATURES.index("more_digits"), FEATURES.index("no_leading_zero")
    x[:, more] -= x[:, more].min()
    x[:, lead] = x[:, lead].max() - x[:, lead]
    wholes = Counter(_whole(d) for d in described)
    x[:, FEATURES.index("agreeing_whole")] = [min(wholes[_whole(d)] - 1, 5) / 5 for d in described]
    x[:, FEATURES.index("other_places")] = other_places(described)
    return x


def _whole(d: Described) -> str:
    return f"{d.text}.{''.join(str(x.value) for x in d.fraction)}"


def other_places(described: list[Described]) -> list[float]:
    """Per candidate: how many other places of the photo (rows not through the same digits,
    `locate.same_place`) have a candidate reading its integer digits, / 3, at most 1."""
    places: dict[str, list[Row]] = {}
    for d in described:
        seen = places.setdefault(d.text, [])
        row = d.candidate.row
        if not any(same_place(row, other) for other in seen):
            seen.append(row)
    return [min(len(places[d.text]) - 1, 3) / 3 for d in described]


def _features(
    d: Described,
    shape: tuple[int, ...],
    tallest: float,
    best_fit: float,
    agreeing: int,
    lone_red_expected: bool,
) -> list[float]:
    c = d.candidate
    least, mean, logs = c.certainty
    integer = [x.confidence for x in d.integer] or [0.0]
    h, w = shape[:2]
    cx, cy = c.row.centre[0] / w, c.row.centre[1] / h
    significant = d.text.lstrip("0")
    ones = _doubts(d.integer, 1)
    return [
        d.fit,
        d.fit - best_fit,
        c.run.score,
        c.row.height / tallest,
        least,
        mean,
        min(integer),
        logs / 10,
        float(c.run.decimals > 0),
        float(c.point > 0),
        float(c.cells.flipped),
        min(len(c.run.cells), 10) / 10,
        float(c.row.lcd),
        float(c.probs is not None),
        float(d.red_anywhere),
        agreeing / 5,
        abs(cx - 0.5) + abs(cy - 0.5),
        float(d.reason is None),
        len(significant) / 5,  # made relative in `features`
        float(d.text[:1] == "0"),  # made relative in `features`
        float(len(significant) <= 1),
        float(c.run.decimals == 1 and not lone_red_expected),
        float(c.decimals > 0 and len(c.digits) - c.decimals > len(d.integer)),
        max(ones, default=0.0),
        max((x.alternatives[1][1] for x in d.integer if len(x.alternatives) > 1), default=0.0),
        sum(ones),
        max(_doubts(d.integer[len(d.text) - len(significant) :], 1), default=0.0),
        max(_doubts(d.integer, 0), default=0.0),
        sum(q >= DOUBT for q in ones) / 3,
        0.0,  # agreeing_whole: set in `features`
        0.0,  # other_places: set in `features`
    ]


def _doubts(digits: list[DigitRead], value: int) -> list[float]:
    """The probability the digit model gives to `value` on each digit not read as it."""
    return [dict(x.alternatives).get(value, 0.0) for x in digits if x.value != value]


def probabilities(x: np.ndarray, model: Model) -> np.ndarray:
    """Each candidate's probability of being the right read (the rest: none is)."""
    scores = x @ model.weights + model.bias
    top = max(float(scores.max(initial=0.0)), 0.0)
    e = np.exp(scores - top)
    return np.asarray(e / (e.sum() + np.exp(-top)))


def reading_probability(texts: list[str], probs: np.ndarray, chosen: int) -> float:
    """The chosen reading's probability: all candidates reading the same integer digits."""
    return float(sum(p for t, p in zip(texts, probs, strict=True) if t == texts[chosen]))
