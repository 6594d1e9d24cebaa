"""Site adaptation: the digit models' heads fitted on a deployment's own verified photos.

Each verified photo (photo + the reading finally booked) is read as the worker reads it; the
chosen read's cells (or another candidate's that reads the booked value) are labelled with the
booked value's digits where the read aligns with it (as many integer digits, at most a third of
them different). The other cells of the photo's rows keep the shipped model's output as their
target, so the site head learns the site's digits without forgetting what is no digit; the
labelled cells carry half the loss however few they are. Only the net's last layer is fitted
(numpy, on the penultimate layer's output that `cv2.dnn` gives), starting from the shipped
weights and pulled towards them. A site head is surer of the site's digits than it is right, so
its reads are accepted only where the shipped models accept the same reading (`OcrEngine`), and
a site model replaces the shipped one only where its held-out reads pass `Figures.shortfalls`.
No PyTorch at run time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from core.settings import Settings
from core.types import Display, MeterRead
from ocr import choice
from ocr.digits import NO_DIGIT, DigitModel, Head
from ocr.reader import OcrEngine, load_work_image
from ocr.reads import Described
from ocr.search import Memo
from ocr.site_model import SiteModel

T = TypeVar("T")
Progress = Callable[[Iterable[T], str, int], Iterable[T]]  # items, what is done, how many

# the pull towards the shipped head's weights (the loss is a weighted mean over cells): more keeps
# the site head nearer the shipped one, less lets a few photos move it further
PULL = 0.01
# the labelled cells' share of the loss, the rest keeping the shipped output on the other cells:
# a photo has a few counter cells and many more elsewhere, so weighted per cell the labels would
# barely move the head; a larger share fits the site's digits closer and changes more of the
# other cells' reads
LABELLED_SHARE = 0.5
# the other cells kept as targets, drawn seeded: enough to pin the head there, and the fit's time
# does not grow with the photos
UNLABELLED_CELLS = 5000
ITERATIONS = 150
# the share of accepted held-out reads right below which a site model never replaces the shipped
# one (nor below the shipped model's share on the same photos): the acceptance promise
TARGET_PRECISION = 0.995
# share of a read's integer digits that may differ from the booked value for its cells to be
# labelled with it (a clerk's correction of one or two digits); more is another row
MAX_DIFFERING = 1 / 3


@dataclass(frozen=True)
class Verified:
    """A photo and the reading booked for it (a clerk's decision or an unchanged auto-booking)."""

    image: bytes | Path
    integer_digits: int | None
    display: Display | None
    value: int  # the booked reading's integer part


@dataclass(frozen=True)
class Sample:
    """What a verified photo gives: per digit model the penultimate features of its cells, each
    cell's label (-1: keep the shipped output), and how the shipped model read the photo."""

    features: dict[str, np.ndarray]
    labels: np.ndarray
    read: MeterRead

    @property
    def labelled(self) -> int:
        return int((self.labels >= 0).sum())


@dataclass(frozen=True)
class Figures:
    """Reads of held-out photos against their booked readings."""

    photos: int
    exact: int
    accepted: int
    accepted_exact: int

    @property
    def precision(self) -> float:
        return self.accepted_exact / self.accepted if self.accepted else 1.0

    def shortfalls(self, shipped: Figures) -> tuple[str, ...]:
        """What keeps a model with these held-out figures from replacing the shipped one with
        `shipped` on the same photos (empty: nothing): "exact" (fewer exact reads),
        "accepted_exact" (fewer accepted and right), "precision" (accepted reads right less
        often than the shipped model's), "target" (... than TARGET_PRECISION)."""
        found = {
            "exact": self.exact < shipped.exact,
            "accepted_exact": self.accepted_exact < shipped.accepted_exact,
            "precision": self.precision < shipped.precision,
            "target": self.precision < TARGET_PRECISION,
        }
        return tuple(name for name, short in found.items() if short)

    def as_json(self) -> dict[str, Any]:
        return {
            "photos": self.photos,
            "exact": self.exact,
            "accepted": self.accepted,
            "accepted_exact": self.accepted_exact,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Figures:
        return cls(data["photos"], data["exact"], data["accepted"], data["accepted_exact"])

    @classmethod
    def of(cls, reads: Sequence[MeterRead], photos: Sequence[Verified]) -> Figures:
        right = [_exact(r, p.value) for r, p in zip(reads, photos, strict=True)]
        accepted = [r.accepted for r in reads]
        return cls(
            len(reads),
            sum(right),
            sum(accepted),
            sum(a and r for a, r in zip(accepted, right, strict=True)),
        )


def _exact(read: MeterRead, value: int) -> bool:
    return read.reading is not None and read.reading.isdigit() and int(read.reading) == value


def _quiet(items: Iterable[T], what: str, total: int) -> Iterable[T]:
    return items


def sample(engine: OcrEngine, photo: Verified) -> Sample:
    """A verified photo's cells with their labels and features, and the engine's read of it
    (the cells are those of the rows the search read: the counter's integer cells labelled with
    the booked value's digits, the rest -1; no labels where no read aligns with the value)."""
    models = digit_models(engine)
    try:
        work = load_work_image(photo.image, max_pixels=engine.settings.max_image_pixels)
    except Exception:  # an unreadable photo teaches nothing
        return Sample(_no_features(models), np.zeros(0, np.int64), MeterRead(reading=None))
    memo = Memo(work)
    read = engine.read_located(work, photo.integer_digits, photo.display, memo)
    cells, labels = labelled_cells(engine, work, memo, photo)
    features = {
        name: model.features(cells) if cells else _no_features(models)[name]
        for name, model in models.items()
    }
    return Sample(features, np.array(labels, dtype=np.int64), read)


def _no_features(models: dict[str, DigitModel]) -> dict[str, np.ndarray]:
    return {name: np.zeros((0, int(m.shipped_head.weights.shape[1]))) for name, m in models.items()}


def digit_models(engine: OcrEngine) -> dict[str, DigitModel]:
    """The engine's digit models by file name (the keys of a site model's heads)."""
    search = engine.search
    return {m.path.name: m for m in (search.model, *search.second_opinions)}


def labelled_cells(
    engine: OcrEngine, work: np.ndarray, memo: Memo, photo: Verified
) -> tuple[list[np.ndarray], list[int]]:
    """The cells of the rows read in the photo (`memo`: its search so far), labelled."""
    found, _, _ = choice.choose_reading(
        engine.search, engine.ranker, work, photo.integer_digits, photo.display, memo
    )
    if found is None:
        return [], []
    best, _, stage = found
    read = aligned_read(best, stage.described, photo.value)
    if read is None:
        return [], []
    counter = read.candidate.cells.gray
    positions = integer_cells(read)
    labels = [-1] * len(counter)
    for i, digit in zip(positions, str(photo.value).zfill(len(positions)), strict=True):
        labels[i] = int(digit)
    others = [g for c in memo.first or [] if c.cells.gray is not counter for g in c.cells.gray]
    return [*counter, *others], labels + [-1] * len(others)


def aligned_read(best: Described, described: list[Described], value: int) -> Described | None:
    """The read whose cells are labelled: a candidate read by the digit model that reads the
    value, else the chosen read when it has room for the value's digits and differs from it in
    at most MAX_DIFFERING of them."""
    for d in described:
        reads_it = d.text.isdigit() and int(d.text) == value
        if reads_it and d.candidate.probs is not None and integer_cells(d):
            return d
    if best.candidate.probs is None or not integer_cells(best):
        return None
    text, target = best.text, str(value)
    if len(target) > len(text):
        return None
    target = target.zfill(len(text))
    differing = sum(a != b for a, b in zip(text, target, strict=True))
    return best if differing <= MAX_DIFFERING * len(text) else None


def integer_cells(d: Described) -> list[int]:
    """The indices, among the candidate's cells, of its integer digits (as `candidates.split`
    takes them: after the run's start, or drums before it, up to its decimals)."""
    c = d.candidate
    n = len(d.integer)
    if c.decimals:
        end = c.run.start + len(c.run.cells) - c.decimals
        first = end - n
    else:
        first = c.run.start
        end = first + n
    if n == 0 or first < 0 or end > len(c.cells.gray):
        return []
    return list(range(first, end))


def fit_head(
    features: np.ndarray,
    labels: np.ndarray,
    shipped: Head,
    *,
    pull: float = PULL,
    labelled_share: float = LABELLED_SHARE,
) -> Head:
    """The last layer fitted on features: cross-entropy against the label (one-hot) or, for
    unlabelled cells, the shipped head's output (at most UNLABELLED_CELLS of them, drawn
    seeded), the labelled cells carrying `labelled_share` of the loss whatever their number;
    plus `pull` times the squared distance to the shipped weights. Gradient descent with
    backtracking from the shipped weights."""
    x = np.asarray(features, np.float64)
    known = labels >= 0
    if not known.any():
        return shipped
    others = np.flatnonzero(~known)
    if len(others) > UNLABELLED_CELLS:
        others = np.sort(np.random.default_rng(0).choice(others, UNLABELLED_CELLS, replace=False))
    x = np.vstack([x[known], x[others]])
    targets = _softmax(shipped.logits(x).astype(np.float64))
    targets[: int(known.sum())] = np.eye(NO_DIGIT + 1)[labels[known]]
    share = labelled_share if len(others) else 1.0
    weights = np.concatenate(
        [
            np.full(int(known.sum()), share / known.sum()),
            np.full(len(others), (1 - share) / max(len(others), 1)),
        ]
    )
    scale = float(x.std()) or 1.0  # the step works on standardised features
    xs = np.hstack([x / scale, np.ones((len(x), 1))])
    start = np.hstack([shipped.weights * scale, shipped.bias[:, None]])
    w, step = start.copy(), 1.0
    loss, grad = _loss(w, xs, targets, weights, start, pull)
    for _ in range(ITERATIONS):
        while True:
            trial = w - step * grad
            trial_loss, trial_grad = _loss(trial, xs, targets, weights, start, pull)
            if trial_loss <= loss - 0.5 * step * float((grad * grad).sum()):
                break
            step *= 0.5
            if step < 1e-8:  # no step lowers the loss any more: converged
                return Head(w[:, :-1] / scale, w[:, -1].copy())
        w, loss, grad, step = trial, trial_loss, trial_grad, step * 1.5
    return Head(w[:, :-1] / scale, w[:, -1].copy())


def _loss(
    w: np.ndarray,
    x: np.ndarray,
    targets: np.ndarray,
    weights: np.ndarray,
    start: np.ndarray,
    pull: float,
) -> tuple[float, np.ndarray]:
    logits = x @ w.T
    top = logits.max(axis=1, keepdims=True)
    log_z = top + np.log(np.exp(logits - top).sum(axis=1, keepdims=True))
    log_p = logits - log_z
    drift = w - start
    loss = -float((weights[:, None] * targets * log_p).sum()) + 0.5 * pull * float(
        (drift * drift).sum()
    )
    grad = ((np.exp(log_p) - targets) * weights[:, None]).T @ x + pull * drift
    return loss, grad


def _softmax(logits: np.ndarray) -> np.ndarray:
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return np.asarray(e / e.sum(axis=1, keepdims=True))


def fit_heads(samples: Sequence[Sample], models: dict[str, DigitModel]) -> dict[str, Head]:
    """One head per digit model, fitted on the samples' cells."""
    used = [s for s in samples if len(s.labels)]
    if not used:
        return {name: model.shipped_head for name, model in models.items()}
    labels = np.concatenate([s.labels for s in used])
    return {
        name: fit_head(np.vstack([s.features[name] for s in used]), labels, model.shipped_head)
        for name, model in models.items()
    }


def site_engine(settings: Settings, heads: dict[str, Head], version: str = "") -> OcrEngine:
    """An engine reading with these heads, its reads accepted as the shipped models accept
    them."""
    return OcrEngine(settings, site=SiteModel(version, heads, {}))


def read_all(
    engine: OcrEngine, photos: Sequence[Verified], progress: Progress[Verified], what: str
) -> list[MeterRead]:
    return [
        engine.read(p.image, integer_digits=p.integer_digits, display=p.display, meter_number=False)
        for p in progress(photos, what, len(photos))
    ]


def folds(count: int, k: int, seed: int = 0) -> Iterator[tuple[list[int], list[int]]]:
    """(training, held-out) indices of each of k folds over `count` photos, shuffled by seed."""
    order = np.random.default_rng(seed).permutation(count)
    for fold in range(k):
        held = sorted(order[fold::k].tolist())
        chosen = set(held)
        yield [i for i in range(count) if i not in chosen], held


@dataclass(frozen=True)
class Trained:
    heads: dict[str, Head]
    photos: int  # verified photos used
    training_photos: int  # of them, trained on
    aligned_photos: int  # of those, with cells aligned to the booked value
    cells: int  # labelled cells
    shipped: Figures  # on the held-out photos
    site: Figures

    def manifest(self) -> dict[str, Any]:
        return {
            "photos": self.photos,
            "training_photos": self.training_photos,
            "aligned_photos": self.aligned_photos,
            "labelled_cells": self.cells,
            "held_out": {"shipped": self.shipped.as_json(), "site": self.site.as_json()},
        }


def train(
    settings: Settings,
    photos: Sequence[Verified],
    *,
    held_out_every: int = 5,
    progress: Progress[Any] = _quiet,
) -> Trained:
    """A site model (`fit_heads`) fitted on all but every `held_out_every`-th photo
    (shuffled), and both the shipped and the site model's figures on the photos held out."""
    training, held = next(folds(len(photos), held_out_every))
    shipped = OcrEngine(settings)
    samples = [
        sample(shipped, photos[i]) for i in progress(training, "Fotos lernen", len(training))
    ]
    heads = fit_heads(samples, digit_models(shipped))
    held_photos = [photos[i] for i in held]
    before = read_all(shipped, held_photos, progress, "Prüffotos, ausgeliefertes Modell")
    after = read_all(
        site_engine(settings, heads), held_photos, progress, "Prüffotos, Standortmodell"
    )
    return Trained(
        heads,
        len(photos),
        len(training),
        sum(s.labelled > 0 for s in samples),
        sum(s.labelled for s in samples),
        Figures.of(before, held_photos),
        Figures.of(after, held_photos),
    )
