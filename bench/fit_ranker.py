"""Fit the ranker (ocr/ranking.py) on the dev photos and write ocr/models/ranker.json.

    .venv/bin/python bench/fit_ranker.py [--jobs J] [--l2 0.1] [--out PATH]
        [--save-features F | --features F]   # reuse the candidates' features (seconds, not minutes)
        [--fold-assignments 8]               # the counts' spread over other assignments to folds

First the promise model: the same conditional logit over the rows each water photo's first
stage reads on their blob grids (digit count known), a row being right when two or more of its
digits lie in the photo's labelled counter box. It decides which rows the search refines. Each
photo is then searched with the promise model fitted without its fold, as an unseen photo is
searched with the shipped one: searched with the model that saw its box, the ranker's
cross-validated figures (and so the knot) came out too good.
Then every photo of ../shared/corpus/meter-photos is read up to the candidates (water meters with
`integer_digits=5`, LCD photos without, as in bench/ocr.py; the `anhkhoi-emic` photos are only
measured, never fitted on); a candidate is right when `bench.ocr.matches` says its read is the
label's. Per mode (digit count known or not) a conditional logit with an outside option is fitted
by gradient descent with backtracking (L2 on the weights, features standardised), its figures
measured by 5-fold cross-validation over photos on ASSIGNMENTS assignments of the photos to the
folds, and the knot set at the lowest probability from which these cross-validated reads are
right >= 99.5 % by the lower Wilson bound, with at least MIN_ACCEPTED photos accepted (no knot:
never accepted). The held-out figure repeats all of it (weights and knot) without each fold
and reads that fold: what the knot gives on photos it was not set on. Re-run after any change to
the candidates or the features.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from multiprocessing import Pool
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from tqdm import tqdm

if TYPE_CHECKING:
    from ocr.locate import Row
    from ocr.reader import OcrEngine

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from bench import ocr as bench_ocr  # noqa: E402 (the repository on the path first)

TARGET_PRECISION = 0.995
MIN_ACCEPTED = 20  # fewer accepted photos say nothing about a 99.5 % precision
# The knot holds the precision by the lower Wilson bound at this z (one-sided ~84 %), not by the
# share seen: the lowest probability whose reads were just right enough is the likeliest to
# fall short on other photos.
WILSON_Z = 1.0
ASSIGNMENTS = 3  # assignments of the photos to folds the knot is set on (averaged)
HELD_OUT_ASSIGNMENTS = 1  # ... inside the held-out figure's folds (each costs FOLDS fits a fold)
FOLDS = 5
ITERATIONS = 500


@dataclass(frozen=True)
class Photo:
    group: str
    x: np.ndarray  # features per candidate
    right: np.ndarray  # 1.0 where the candidate reads the label
    texts: list[str]
    fractions: list[str] = field(default_factory=list)
    file: str = ""
    label: str = ""


Chosen = tuple[bool, float]  # a photo's chosen read: right?, its reading's probability
Searched = tuple[list[float], float]  # a promise model's weights and bias
# the promise model each photo is searched with (by path; others: the one fitted on all photos)
_PROMISE: tuple[Searched, dict[str, Searched]] | None = None
_ENGINE = None


def _init_worker(promise: tuple[Searched, dict[str, Searched]] | None) -> None:
    global _PROMISE
    bench_ocr.init_worker()
    _PROMISE = promise


def _engine(path: str | None = None) -> OcrEngine:
    """The workers' OCR engine: no ranker (it is being fitted), the promise model for the photo
    at `path` (unused while the promise model itself is fitted: the rows' features do not
    depend on it)."""
    from core.settings import Settings
    from ocr.ranking import FEATURES, Model
    from ocr.reader import OcrEngine

    global _ENGINE
    weights, bias = ([0.0] * len(FEATURES), 0.0)
    if _PROMISE is not None:
        everyone, held = _PROMISE
        weights, bias = held.get(path or "", everyone)
    promise = Model(np.array(weights), bias, None)
    if _ENGINE is None:
        _ENGINE = OcrEngine(Settings(), ranker={}, promise=promise)
    _ENGINE.search.promise = promise
    return _ENGINE


def _counter_rows(task: tuple[str, str]) -> Photo:
    """A water photo's rows read on their blob grids (a digit count known): their features and
    which of them lie on the labelled counter box (two digits or more inside it)."""
    from core.settings import Settings
    from ocr.loading import load_image
    from ocr.reader import work_image

    path, box = task
    full = load_image(Path(path), max_pixels=Settings().max_image_pixels)
    image = work_image(full)
    x, rows = _engine().search.counter_features(image, bench_ocr.WATER_DIGITS)
    return Photo("water", x, on_counter(rows, box, image.shape[1] / full.shape[1]), [])


def on_counter(rows: list[Row], box: str, scale: float) -> np.ndarray:
    """1.0 for each row with two digits or more inside the labelled box (`x1 y1 x2 y2`, in the
    photo's pixels; the rows are in the work image's, `scale` times as large)."""
    x1, y1, x2, y2 = (float(v) * scale for v in box.split())
    inside = [sum(x1 <= b.cx <= x2 and y1 <= b.cy <= y2 for b in row.blobs) for row in rows]
    return np.array([n >= 2 for n in inside], dtype=np.float64)


def _describe(task: tuple[str, str, str, str, bool]) -> Photo:
    from core.settings import Settings
    from ocr import digits_logic, ranking
    from ocr.reader import load_work_image

    path, file, group, label, _ = task
    digits = bench_ocr.meter_hint(group, label).integer_digits
    image = load_work_image(Path(path), max_pixels=Settings().max_image_pixels)
    described, _ = _engine(path).search.describe(image, digits)
    if not described:
        x = np.zeros((0, len(ranking.FEATURES)))
        return Photo(group, x, np.zeros(0), [], [], file, label)
    texts = [d.text for d in described]
    fractions = [digits_logic.as_text(d.fraction) for d in described]
    x = ranking.features(described, image.shape)
    return Photo(group, x, _right(group, label, texts, fractions), texts, fractions, file, label)


def _right(group: str, label: str, texts: list[str], fractions: list[str]) -> np.ndarray:
    """1.0 for each candidate that reads the label (`bench.ocr.matches`)."""
    reads = zip(texts, fractions, strict=True)
    return np.array([bench_ocr.matches(group, label, t, f) for t, f in reads], dtype=np.float64)


class Groups:
    """Candidates of all photos stacked; photo k owns rows starts[k] : starts[k] + sizes[k]."""

    def __init__(self, photos: list[Photo]) -> None:
        self.sizes = np.array([len(p.x) for p in photos])
        self.starts = np.r_[0, np.cumsum(self.sizes)[:-1]]

    def sum(self, v: np.ndarray) -> np.ndarray:
        return np.add.reduceat(v, self.starts)

    def spread(self, v: np.ndarray) -> np.ndarray:
        return np.repeat(v, self.sizes)


def _loss(
    w: np.ndarray, x: np.ndarray, right: np.ndarray, groups: Groups, l2: float
) -> tuple[float, np.ndarray]:
    """Negative log-likelihood of "a right candidate, else none" per photo, and its gradient."""
    s = x @ w
    top = np.maximum(np.maximum.reduceat(s, groups.starts), 0.0)
    e = np.exp(s - groups.spread(top))
    z = groups.sum(e) + np.exp(-top)
    p = e / groups.spread(z)
    hit = groups.sum(e * right)
    has = hit > 0
    ll = np.where(has, np.log(np.maximum(hit, 1e-300)), -top) - np.log(z)
    q = np.where(groups.spread(has), e * right / groups.spread(np.maximum(hit, 1e-300)), 0.0)
    n = len(groups.sizes)
    penalty = np.r_[w[:-1], 0.0]
    loss = -ll.sum() / n + 0.5 * l2 * float(penalty @ penalty)
    return float(loss), x.T @ (p - q) / n + l2 * penalty


def fit(photos: list[Photo], l2: float) -> tuple[np.ndarray, float]:
    """Weights (on raw features) and bias of the conditional logit."""
    photos = [p for p in photos if len(p.x)]
    stacked = np.vstack([p.x for p in photos])
    mu, sd = stacked.mean(axis=0), stacked.std(axis=0)
    sd[sd < 1e-6] = 1.0
    x = np.hstack([(stacked - mu) / sd, np.ones((len(stacked), 1))])
    right, groups = np.concatenate([p.right for p in photos]), Groups(photos)
    w, step = np.zeros(x.shape[1]), 1.0
    loss, grad = _loss(w, x, right, groups, l2)
    for _ in range(ITERATIONS):
        while True:  # backtracking (Armijo) line search
            trial = w - step * grad
            trial_loss, trial_grad = _loss(trial, x, right, groups, l2)
            if trial_loss <= loss - 0.5 * step * float(grad @ grad) or step < 1e-9:
                break
            step *= 0.5
        w, loss, grad, step = trial, trial_loss, trial_grad, step * 1.5
    weights = w[:-1] / sd
    return weights, float(w[-1] - weights @ mu)


def _chosen(photo: Photo, weights: np.ndarray, bias: float) -> Chosen:
    """Is the top candidate right, and the probability of its reading."""
    from ocr.ranking import Model, probabilities, reading_probability

    if not len(photo.x):
        return False, 0.0
    probs = probabilities(photo.x, Model(weights, bias, None))
    k = int(np.argmax(probs))
    return bool(photo.right[k]), reading_probability(photo.texts, probs, k)


def _held_out(
    photos: list[Photo], l2: float, seed: int = 0
) -> Iterator[tuple[Photo, np.ndarray, float]]:
    """Each photo with the weights fitted on the other folds (5-fold cross-validation; `seed`
    assigns the photos to the folds)."""
    order = np.random.default_rng(seed).permutation(len(photos))
    for fold in range(FOLDS):
        test = set(order[fold::FOLDS].tolist())
        weights, bias = fit([p for i, p in enumerate(photos) if i not in test], l2)
        for i in sorted(test):
            yield photos[i], weights, bias


def cross_validated(photos: list[Photo], l2: float, seed: int = 0) -> list[Chosen]:
    return [_chosen(photo, weights, bias) for photo, weights, bias in _held_out(photos, l2, seed)]


def spread(photos: list[Photo], l2: float, assignments: int) -> list[tuple[int, int]]:
    """Exact and accepted photos, cross-validated, for each of `assignments` assignments of the
    photos to the folds (the first is the one the knot is set on). One confident mistake moves
    the accepted count by several photos, so a change is judged over several assignments."""
    out = []
    for seed in range(assignments):
        chosen = cross_validated(photos, l2, seed)
        out.append((sum(ok for ok, _ in chosen), round(knot([chosen])[1])))
    return out


def _spread_line(counts: list[tuple[int, int]]) -> str:
    exact, accepted = (np.array(c) for c in zip(*counts, strict=True))
    return (
        f"  over {len(counts)} fold assignments: exact {exact.mean():.1f} "
        f"({exact.min()}-{exact.max()}), accepted {accepted.mean():.1f} "
        f"({accepted.min()}-{accepted.max()})"
    )


def _promise(photos: list[Photo], l2: float) -> tuple[dict[str, object], list[Searched]]:
    """The promise model (which row read on its blob grid is the counter), fitted on all
    photos, and for each photo the one fitted without its fold (to search it with, as an unseen
    photo is searched); cross-validated, how often the counter's row comes first and is
    refined."""
    from ocr.ranking import Model, probabilities
    from ocr.search import refined_count

    first = refined = rows = 0
    held: dict[int, Searched] = {}
    for photo, weights, bias in _held_out([p for p in photos if len(p.x)], l2):
        held[id(photo)] = ([float(v) for v in weights], bias)
        likely = probabilities(photo.x, Model(weights, bias, None))
        ranked = np.argsort(-likely, kind="stable")
        worth = ranked[: refined_count(likely)]
        first += bool(photo.right[ranked[0]])
        refined += bool(photo.right[worth].any())
        rows += len(worth)
    on = sum(bool(p.right.any()) for p in photos)
    print(
        f"  {len(photos)} photos, {on} with a row on the counter; cross-validated: that row "
        f"first {first}, refined {refined}; {rows / len(photos):.2f} rows refined a photo"
    )
    weights, bias = fit(photos, l2)
    model = {"weights": [round(float(v), 6) for v in weights], "bias": round(bias, 6)}
    everyone = ([float(v) for v in weights], bias)
    return model, [held.get(id(p), everyone) for p in photos]


def knot(assignments: list[list[Chosen]]) -> tuple[float | None, float]:
    """The lowest probability from which the cross-validated reads, counted at or above it and
    averaged over the fold assignments, are right >= 99.5 % by the lower Wilson bound (WILSON_Z)
    with at least MIN_ACCEPTED of them (None: no such probability); and how many are."""
    ranked = [sorted(chosen, key=lambda c: -c[1]) for chosen in assignments]
    levels = sorted({p for chosen in assignments for _, p in chosen}, reverse=True)
    found, accepted = None, 0.0
    counts = [0] * len(ranked)
    rights = [0] * len(ranked)
    for p in levels:
        for k, chosen in enumerate(ranked):
            while counts[k] < len(chosen) and chosen[counts[k]][1] >= p:
                rights[k] += chosen[counts[k]][0]
                counts[k] += 1
        n, right = float(np.mean(counts)), float(np.mean(rights))
        if n >= MIN_ACCEPTED and wilson_lower(right, n) >= TARGET_PRECISION:
            found, accepted = p, n
    return found, accepted


def wilson_lower(right: float, n: float, z: float | None = None) -> float:
    """Lower Wilson score bound of the share right (`right` of `n`)."""
    z = WILSON_Z if z is None else z
    share = right / n
    middle = share + z * z / (2 * n)
    spread = z * np.sqrt(share * (1 - share) / n + z * z / (4 * n * n))
    return float((middle - spread) / (1 + z * z / n))


def held_out(photos: list[Photo], l2: float, seed: int = 0) -> tuple[int, int]:
    """Accepted and wrong photos when each fold is read with the weights and the knot set on
    the other folds only (the knot's own cross-validation inside them): what the whole
    procedure gives on photos it never saw, the over-fitting of the knot included."""
    order = np.random.default_rng(1000 + seed).permutation(len(photos))
    accepted = wrong = 0
    for fold in range(FOLDS):
        test = set(order[fold::FOLDS].tolist())
        train = [p for i, p in enumerate(photos) if i not in test]
        at, _ = knot([cross_validated(train, l2, s) for s in range(HELD_OUT_ASSIGNMENTS)])
        if at is None:
            continue
        weights, bias = fit(train, l2)
        for i in sorted(test):
            ok, p = _chosen(photos[i], weights, bias)
            accepted += p >= at
            wrong += p >= at and not ok
    return accepted, wrong


def _model(photos: list[Photo], l2: float) -> dict[str, object]:
    """Cross-validated figures over ASSIGNMENTS assignments of the photos to folds, the knot set
    on them, the weights fitted on all photos, and the held-out figure of the whole procedure
    (weights and knot set without the photos they are measured on)."""
    assignments = [cross_validated(photos, l2, seed) for seed in range(ASSIGNMENTS)]
    at, accepted = knot(assignments)
    weights, bias = fit(photos, l2)
    held, wrong = held_out(photos, l2)
    n, reachable = len(photos), with_right_candidate(photos)
    exact = float(np.mean([sum(ok for ok, _ in chosen) for chosen in assignments])) / n
    precision = f"{1 - wrong / held:.1%}" if held else "-"
    print(
        f"  {n} photos, a right candidate for {reachable}; cross-validated over {ASSIGNMENTS} "
        f"fold assignments: exact {exact:.1%}, accepted {accepted / n:.1%} at p >= "
        f"{_shown(at)} (knot); held out: accepted {held / n:.1%}, {wrong} wrong "
        f"({precision} precise)"
    )
    return {
        "weights": [round(float(v), 6) for v in weights],
        "bias": round(bias, 6),
        "knot": None if at is None else round(at, 6),
        "cross_validated": {
            "photos": n,
            "exact": round(exact, 4),
            "coverage": round(accepted / n, 4),
            "held_out_coverage": round(held / n, 4),
            "held_out_wrong": wrong,
        },
    }


def with_right_candidate(photos: list[Photo]) -> int:
    """Photos with a right reading among their candidates: what a perfect ranker would get
    right (a change that raises it improves the candidates, not the choice)."""
    return sum(bool(p.right.any()) for p in photos)


def _shown(p: float | None) -> str:
    return "-" if p is None else f"{p:.4f}"


def _save(promise: dict[str, object], photos: list[Photo], path: Path) -> None:
    """Features (and the promise model written with them) as JSON (no pickle: the file may be
    shared and loaded again later)."""
    rows = [
        {
            "group": p.group,
            "x": p.x.tolist(),
            "right": p.right.tolist(),
            "texts": p.texts,
            "fractions": p.fractions,
            "file": p.file,
            "label": p.label,
        }
        for p in photos
    ]
    path.write_text(json.dumps({"promise": promise, "photos": rows}))


def _load(path: Path) -> tuple[dict[str, object], list[Photo]]:
    from ocr.ranking import FEATURES

    data = json.loads(path.read_text())
    photos = []
    for r in data["photos"]:
        # which candidates are right follows the labels and the rule of today (`bench.ocr`)
        label = bench_ocr.ERRATA.get(r["file"], r["label"])
        texts, fractions = list(r["texts"]), list(r["fractions"])
        x = np.array(r["x"], dtype=np.float64).reshape(-1, len(FEATURES))
        right = _right(r["group"], label, texts, fractions)
        photos.append(Photo(r["group"], x, right, texts, fractions, r["file"], label))
    return data["promise"], photos


def _boxes(photos_dir: Path) -> dict[str, str]:
    """The labelled counter box of each water photo (`x1 y1 x2 y2`)."""
    with (photos_dir / "labels.csv").open(newline="") as fh:
        return {row["file"]: row["box"] for row in csv.DictReader(fh) if row["box"]}


def _search(photos_dir: Path, jobs: int, l2: float) -> tuple[dict[str, object], list[Photo]]:
    """Fit the promise model, then read every photo up to its candidates with it."""
    tasks = [
        t
        for t in bench_ocr.photo_tasks(photos_dir, None, None, False)
        if t[2] != "emic"  # measured only, never fitted on
    ]
    boxes = _boxes(photos_dir)
    water = [(path, boxes[file]) for path, file, group, _, _ in tasks if file in boxes]
    with Pool(jobs, initializer=_init_worker, initargs=(None,)) as pool:
        counters = list(tqdm(pool.imap(_counter_rows, water, chunksize=4), total=len(water)))
    print("promise (water, rows on their blob grids, digit count known):")
    promise, held = _promise(counters, l2)
    everyone = (promise["weights"], promise["bias"])
    searched_with = (everyone, {path: h for (path, _), h in zip(water, held, strict=True)})
    with Pool(jobs, initializer=_init_worker, initargs=(searched_with,)) as pool:
        photos = list(tqdm(pool.imap(_describe, tasks, chunksize=4), total=len(tasks)))
    return promise, photos


def main(argv: list[str] | None = None) -> int:
    from ocr.ranking import FEATURES, RANKER_PATH

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", help="corpus folder (default ../shared/corpus)")
    parser.add_argument("--jobs", type=int, default=1, help="worker processes (one core each)")
    parser.add_argument("--l2", type=float, default=0.1, help="weight penalty (standardised)")
    parser.add_argument("--out", type=Path, default=RANKER_PATH)
    parser.add_argument("--save-features", type=Path, help="keep the features in this file")
    parser.add_argument("--features", type=Path, help="fit on features saved before")
    parser.add_argument(
        "--fold-assignments",
        type=int,
        default=1,
        help="also print the mean and range of the cross-validated counts over this many "
        "assignments of photos to folds",
    )
    args = parser.parse_args(argv)
    if args.features:
        promise, photos = _load(args.features)
    else:
        photos_dir = bench_ocr.corpus_dir(args.corpus) / "meter-photos"
        if not (photos_dir / "labels.csv").is_file():
            sys.stderr.write(f"corpus not found: {photos_dir}/labels.csv\n")
            return 2
        promise, photos = _search(photos_dir, args.jobs, args.l2)
    if args.save_features:
        _save(promise, photos, args.save_features)
    models = {}
    for mode, group in (("counted", "water"), ("uncounted", "lcd")):
        print(f"{mode} ({group}):")
        in_group = [p for p in photos if p.group == group]
        models[mode] = _model(in_group, args.l2)
        if args.fold_assignments > 1:
            print(_spread_line(spread(in_group, args.l2, args.fold_assignments)))
    result = {"features": list(FEATURES), "l2": args.l2, "promise": promise, "models": models}
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"written: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
