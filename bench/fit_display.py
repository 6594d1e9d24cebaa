"""Fit the display acceptance (ocr/display_confidence.py) on the dev LCD photos and write its
constants into that module.

    .venv/bin/python bench/fit_display.py [--corpus C] [--jobs J] [--l2 3.0] [--dry-run]
        [--save-features F | --features F]   # reuse the reads' features (seconds, not minutes)
        [--synthetic N [--synthetic-held-out M] [--synthetic-features F] [--no-real]]

Every LCD photo of ../shared/corpus/meter-photos is read as bench/ocr.py reads it (no digit count,
no kind) up to the chosen read; the read's features (`display_confidence.features`) and whether
it is right (`bench.ocr.matches`) are kept. A read that the pipeline would not accept whatever its
confidence (no 7-segment read supports it, not shown as a display, a reason code, a display read
disagreeing, the digit counts not agreeing) gets probability 0. A logistic model (L2 on the
standardised features) is fitted by Newton steps, its probabilities cross-validated over 5 folds
on ASSIGNMENTS assignments of the photos (photos of one label share a fold: the dev set shows
the same display in several photos), and the knot set as bench/fit_ranker.py sets it: the
lowest probability from which the cross-validated reads are right >= 99.5 % by the lower Wilson
bound with at least 20 of them. Held out, the whole procedure (weights and knot, the knot's own
cross-validation inside) runs without each of HELD_OUT_FOLDS folds and reads that fold, on
ASSIGNMENTS assignments of the photos to the folds.

`--synthetic N` fits weights and knot on N synthetic displays of each kind instead
(`ocr.synth_display`, worn as real panels are, `worn=True`, and some leaving their leading zeros
unlit, `blanks=True`; tuning seeds from
0, each render its own fold member), and only reads the held-out seeds (from bench/synthetic.py's
HELD_OUT_START) and the dev LCD photos: their coverage and precision at the knot are reported,
and the knot is written only where the photos hold it.
Re-run after any change to the display reader (ocr/panel.py, ocr/sevenseg.py) or the features.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from multiprocessing import Pool
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from tqdm import tqdm

if TYPE_CHECKING:
    from ocr.choice import Found
    from ocr.counts import Counted
    from ocr.display_confidence import Evidence
    from ocr.ranking import Model
    from ocr.reader import OcrEngine
    from ocr.reads import Described

    Chosen = tuple[Found | None, Model, bool, Counted | None]  # as OcrEngine.choose gives it

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from bench import ocr as bench_ocr  # noqa: E402 (the repository on the path first)
from bench.fit_ranker import knot, wilson_lower  # noqa: E402
from bench.synthetic import HELD_OUT_START  # noqa: E402

MODULE = REPO / "ocr" / "display_confidence.py"
FOLDS = 5
ASSIGNMENTS = 3
# The knot needs about 200 cross-validated reads above it without a wrong one (a lower Wilson
# bound of 99.5 % at z=1). Without a fifth of the LCD photos too few are left to ever reach
# that, so the held-out figure holds out a twentieth at a time.
HELD_OUT_FOLDS = 20
NEWTON_STEPS = 50
# A knot fitted on synthetic renders ships only where the real photos hold it.
TARGET_PRECISION = 0.995
MOST_WRONG = 1


@dataclass(frozen=True)
class Photo:
    file: str
    evidence: dict[str, Any] | None  # the chosen read's evidence, as JSON (None: never accepted)
    right: bool
    reading: str | None
    label: str = ""  # photos of the same value (often the same display) share a fold

    @cached_property
    def x(self) -> np.ndarray | None:
        from ocr import display_confidence

        return None if self.evidence is None else display_confidence.features(_evidence(self))


def _evidence(photo: Photo) -> Evidence:
    from ocr.display_confidence import Evidence
    from ocr.sevenseg import Segments

    e = photo.evidence
    assert e is not None
    boxes = [(int(a), int(b)) for a, b in e["boxes"]]
    segments = Segments(
        np.array(e["coverage"]).reshape(-1, 9),
        boxes,
        e["height"],
        e["light"],
        e.get("point_confirmed", False),
        e.get("beside", 0),
    )
    return Evidence(segments, e["agreeing"], e.get("point", 0))


def _as_json(e: Evidence) -> dict[str, Any]:
    s = e.segments
    return {
        "coverage": s.coverage.tolist(),
        "boxes": [list(map(int, b)) for b in s.boxes],
        "height": float(s.height),
        "light": bool(s.light),
        "agreeing": int(e.agreeing),
        "point_confirmed": bool(s.point_confirmed),
        "beside": int(s.beside),
        "point": int(e.point),
    }


_ENGINE: OcrEngine | None = None


def _engine() -> OcrEngine:
    """One engine per worker process (the models load once)."""
    global _ENGINE
    if _ENGINE is None:
        import cv2

        from core.settings import Settings
        from ocr.reader import OcrEngine

        cv2.setNumThreads(1)
        _ENGINE = OcrEngine(Settings())
    return _ENGINE


def read_photo(task: bench_ocr.Task) -> Photo:
    """The chosen read of one photo, its features and whether it is right."""
    from ocr import digits_logic
    from ocr.reader import load_work_image
    from ocr.search import Memo

    path, file, group, label, _ = task
    engine = _engine()
    hint = bench_ocr.meter_hint(group, label)
    work = load_work_image(Path(path), max_pixels=engine.settings.max_image_pixels)
    chosen = engine.choose(work, hint.integer_digits, hint.display, Memo(work))

    def right(best: Described) -> bool:
        fraction = digits_logic.as_text(best.fraction) or None
        return bench_ocr.matches(group, label, best.text, fraction)

    return _photo(file, label, chosen, right)


SYNTHETIC_KINDS = ("electricity", "heat", "water")


def read_render(task: tuple[str, int]) -> Photo:
    """The chosen read of one synthetic display (`ocr.synth_display`), read as a dev LCD photo
    is (no digit count, no kind), its features and whether its integer value is the shown one."""
    from ocr.reader import load_work_image
    from ocr.search import Memo
    from ocr.synth_display import random_display, render_display

    kind, seed = task
    spec = random_display(kind, seed, blanks=True, worn=True)
    engine = _engine()
    work = load_work_image(render_display(spec), max_pixels=engine.settings.max_image_pixels)
    file, label = f"{kind}:{seed}", spec.reading
    chosen = engine.choose(work, None, None, Memo(work))
    return _photo(
        file, label, chosen, lambda best: best.text.isdigit() and int(best.text) == int(label)
    )


def _photo(file: str, label: str, chosen: Chosen, right: Callable[[Described], bool]) -> Photo:
    """A chosen read (`OcrEngine.choose`) as the fit takes it: its display evidence, unless the
    read is not a display read the acceptance would judge, and whether it is right."""
    from ocr import display_confidence
    from ocr.reader import shown_as

    found, _, disagrees, by_count = chosen
    if found is None or not found[0].integer:
        return Photo(file, None, False, None, label)
    best, _, stage = found
    vetoed = (
        best.reason is not None
        or disagrees
        or (by_count is not None and not by_count.agreed)
        or shown_as(best, stage) != "lcd"
    )
    e = None if vetoed else display_confidence.evidence(best, stage.described)
    return Photo(file, None if e is None else _as_json(e), right(best), best.text, label)


def synthetic_tasks(n: int, first_seed: int) -> list[tuple[str, int]]:
    """`n` renders of each kind of display from `first_seed` on, interleaved by seed."""
    return [(k, s) for s in range(first_seed, first_seed + n) for k in SYNTHETIC_KINDS]


def fit(
    x: np.ndarray, y: np.ndarray, l2: float, directions: Sequence[int] | None = None
) -> tuple[np.ndarray, float]:
    """Logistic regression by Newton steps, L2 on the standardised weights; weights and bias
    on the raw features. A feature whose weight comes out against its direction (+1 / -1 per
    feature, as `display_confidence.DIRECTIONS`) is left out and the rest fitted again."""
    sign = np.zeros(x.shape[1]) if directions is None else np.array(directions)
    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale = np.where(scale > 1e-9, scale, 1.0)
    z = np.hstack([(x - mean) / scale, np.ones((len(x), 1))])
    used = np.ones(x.shape[1], bool)
    while True:
        w = _newton(z[:, [*np.flatnonzero(used), x.shape[1]]], y, l2)
        full = np.zeros(x.shape[1])
        full[used] = w[:-1]
        against = used & (full * sign < 0) & (sign != 0)
        if not against.any():
            break
        used &= ~against
    weights = full / scale
    return weights, float(w[-1] - weights @ mean)


def _newton(z: np.ndarray, y: np.ndarray, l2: float) -> np.ndarray:
    w = np.zeros(z.shape[1])
    penalty = np.full(z.shape[1], l2)
    penalty[-1] = 0.0  # the bias
    for _ in range(NEWTON_STEPS):
        p = 1.0 / (1.0 + np.exp(-(z @ w)))
        grad = z.T @ (p - y) + penalty * w
        hess = (z * (p * (1 - p))[:, None]).T @ z + np.diag(penalty) + 1e-9 * np.eye(len(w))
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    return w


def _probability(photo: Photo, weights: np.ndarray, bias: float) -> float:
    if photo.x is None:
        return 0.0
    return float(1.0 / (1.0 + np.exp(-(photo.x @ weights + bias))))


def _fit_on(photos: list[Photo], l2: float) -> tuple[np.ndarray, float]:
    usable = [p for p in photos if p.x is not None]
    x = np.array([p.x for p in usable])
    y = np.array([float(p.right) for p in usable])
    from ocr.display_confidence import DIRECTIONS

    return fit(x, y, l2, DIRECTIONS)


def folds(photos: list[Photo], count: int, seed: int, *, by_label: bool = True) -> list[set[int]]:
    """`count` folds of photo indices, with `by_label` photos with the same label in the same
    fold: the dev set holds the same display in several photos (other quality, other framing, a
    moment later), and a fold must not be read by a model that saw its display."""
    key = [(p.label or p.file) if by_label else p.file for p in photos]
    groups = sorted(set(key))
    order = np.random.default_rng(seed).permutation(len(groups))
    fold_of = {groups[g]: k % count for k, g in enumerate(order.tolist())}
    out: list[set[int]] = [set() for _ in range(count)]
    for i, k in enumerate(key):
        out[fold_of[k]].add(i)
    return out


def cross_validated(
    photos: list[Photo], l2: float, seed: int, *, by_label: bool = True
) -> list[tuple[bool, float]]:
    """Each photo's (right?, probability) from the model fitted without its fold."""
    out: dict[int, tuple[bool, float]] = {}
    for test in folds(photos, FOLDS, seed, by_label=by_label):
        weights, bias = _fit_on([p for i, p in enumerate(photos) if i not in test], l2)
        for i in test:
            out[i] = (photos[i].right, _probability(photos[i], weights, bias))
    return [out[i] for i in range(len(photos))]


def held_out(photos: list[Photo], l2: float, seed: int, *, by_label: bool) -> tuple[int, int]:
    """Accepted and wrong photos when each of HELD_OUT_FOLDS folds is read with the weights
    and the knot set on the other folds only (the knot from their own cross-validation)."""
    accepted = wrong = 0
    for test in folds(photos, HELD_OUT_FOLDS, 1000 + seed, by_label=by_label):
        train = [p for i, p in enumerate(photos) if i not in test]
        at, _ = knot([cross_validated(train, l2, s, by_label=by_label) for s in range(ASSIGNMENTS)])
        if at is None:
            continue
        weights, bias = _fit_on(train, l2)
        for i in test:
            p = _probability(photos[i], weights, bias)
            accepted += p >= at
            wrong += p >= at and not photos[i].right
    return accepted, wrong


def _in_sample(photos: list[Photo], weights: np.ndarray, bias: float, at: float | None) -> str:
    if at is None:
        return "no knot"
    chosen = [(p.right, _probability(p, weights, bias)) for p in photos]
    accepted = [ok for ok, p in chosen if p >= at]
    wrong = len(accepted) - sum(accepted)
    return f"fitted: accepted {len(accepted) / len(photos):.1%}, {wrong} wrong"


def _fit_with_knot(
    photos: list[Photo], l2: float, *, by_label: bool
) -> tuple[np.ndarray, float, float | None, float]:
    """Weights and bias fitted on all `photos`, the knot their cross-validation over
    `ASSIGNMENTS` fold assignments sets, and how many reads it accepts (mean over them)."""
    assignments = [
        cross_validated(photos, l2, seed, by_label=by_label) for seed in range(ASSIGNMENTS)
    ]
    at, accepted = knot(assignments)
    weights, bias = _fit_on(photos, l2)
    return weights, bias, at, accepted


def report(
    photos: list[Photo], l2: float, *, by_label: bool
) -> tuple[np.ndarray, float, float | None]:
    """Print the figures; the weights fitted on all photos, the bias and the knot."""
    from ocr.display_confidence import FEATURES

    n = len(photos)
    exact = sum(p.right for p in photos)
    usable = sum(p.x is not None for p in photos)
    weights, bias, at, accepted = _fit_with_knot(photos, l2, by_label=by_label)
    print(
        f"{n} photos, {exact} read right, {usable} open to acceptance; cross-validated over "
        f"{ASSIGNMENTS} fold assignments: accepted {accepted / n:.1%} at p >= "
        f"{'-' if at is None else f'{at:.4f}'} (knot); {_in_sample(photos, weights, bias, at)}"
    )
    for seed in range(ASSIGNMENTS):
        held, wrong = held_out(photos, l2, seed, by_label=by_label)
        precision = f"{1 - wrong / held:.1%}" if held else "-"
        print(
            f"  held out (assignment {seed}): accepted {held / n:.1%} ({held}), {wrong} wrong "
            f"({precision} precise)"
        )
    for name, w in zip(FEATURES, weights, strict=True):
        print(f"  {name:22s} {w:+.3f}")
    print(f"  {'bias':22s} {bias:+.3f}")
    return weights, bias, at


def write_constants(
    weights: np.ndarray, bias: float, at: float | None, path: Path = MODULE
) -> None:
    """Replace the fitted block of ocr/display_confidence.py."""
    text = path.read_text()
    block = (
        "# fitted by bench/fit_display.py (begin)\n"
        f"WEIGHTS = ({', '.join(f'{w:.6f}' for w in weights)})\n"
        f"BIAS = {bias:.6f}\n"
        f"KNOT: float | None = {'None' if at is None else f'{at:.6f}'}\n"
        "# fitted by bench/fit_display.py (end)"
    )
    pattern = (
        r"# fitted by bench/fit_display.py \(begin\).*?# fitted by bench/fit_display.py \(end\)"
    )
    new, count = re.subn(pattern, block, text, flags=re.S)
    if count != 1:
        raise ValueError(f"{path}: no fitted block")
    path.write_text(new)


def accepted_share(photos: list[Photo], weights: np.ndarray, bias: float, at: float | None) -> str:
    """Coverage and precision of `photos` at the knot, with the precision's lower Wilson bound."""
    n = len(photos)
    head = f"{n} reads, {sum(p.right for p in photos) / max(n, 1):.1%} right"
    accepted = [p.right for p in photos if at is not None and _probability(p, weights, bias) >= at]
    right, count = sum(accepted), len(accepted)
    if at is None or not count:
        return f"{head}: none accepted{' (no knot)' if at is None else ''}"
    return (
        f"{head}: accepted {count / n:.1%} ({count}), {count - right} wrong "
        f"({right / count:.1%} precise, lower Wilson bound {wilson_lower(right, count):.1%})"
    )


def first_wrong(photos: list[Photo], weights: np.ndarray, bias: float) -> str:
    """How many reads the model ranks above the first wrong one: the reads a knot could take."""
    ranked = sorted(photos, key=lambda p: -_probability(p, weights, bias))
    k = next((k for k, p in enumerate(ranked) if not p.right), len(ranked))
    p = _probability(ranked[k], weights, bias) if k < len(ranked) else 0.0
    return f"ranked by the model, the first wrong read comes after {k} (p = {p:.4f})"


def synthetic_fit(
    tuning: list[Photo], held: list[Photo], real: list[Photo], l2: float
) -> tuple[np.ndarray, float, float | None]:
    """Weights and knot from the tuning renders alone (the knot from their cross-validation,
    each render its own fold member); the held-out renders and the real photos only read."""
    weights, bias, at, accepted = _fit_with_knot(tuning, l2, by_label=False)  # a render each
    print(
        f"synthetic tuning: {len(tuning)} renders, {sum(p.right for p in tuning)} read right; "
        f"cross-validated: accepted {accepted / max(len(tuning), 1):.1%} at p >= "
        f"{'-' if at is None else f'{at:.4f}'} (knot)"
    )
    for name, photos in (("synthetic held out", held), ("real LCD photos", real)):
        if photos:
            print(f"  {name}: {accepted_share(photos, weights, bias, at)}")
            print(f"    {first_wrong(photos, weights, bias)}")
    from ocr.display_confidence import FEATURES

    for name, w in zip(FEATURES, weights, strict=True):
        print(f"  {name:22s} {w:+.3f}")
    print(f"  {'bias':22s} {bias:+.3f}")
    if at is not None and not holds_on(real, weights, bias, at):
        print("  no knot written: the real LCD photos (read, not fitted on) do not hold it")
        at = None
    return weights, bias, at


def holds_on(photos: list[Photo], weights: np.ndarray, bias: float, at: float) -> bool:
    """Do the photos, read and not fitted on, keep the knot's promise: at most MOST_WRONG of
    them accepted wrong, and the accepted right >= TARGET_PRECISION (none to check: no)."""
    accepted = [p.right for p in photos if _probability(p, weights, bias) >= at]
    wrong = len(accepted) - sum(accepted)
    return (
        bool(accepted) and wrong <= MOST_WRONG and sum(accepted) / len(accepted) >= TARGET_PRECISION
    )


def read_renders(tasks: list[tuple[str, int]], jobs: int) -> list[Photo]:
    with Pool(jobs) as pool:
        return list(tqdm(pool.imap(read_render, tasks, chunksize=2), total=len(tasks)))


def synthetic_reads(
    n: int, held_n: int, jobs: int, cache: Path | None
) -> tuple[list[Photo], list[Photo]]:
    """The tuning renders (seeds from 0) and the held-out ones (from HELD_OUT_START), read or
    taken from `cache` (written when it does not exist yet)."""
    if cache is not None and cache.is_file():
        rows = json.loads(cache.read_text())
        tuning = [p for p in _rows(rows["tuning"]) if _seed(p) < n]
        held = [p for p in _rows(rows["held_out"]) if _seed(p) < HELD_OUT_START + held_n]
        return tuning, held
    tuning = read_renders(synthetic_tasks(n, 0), jobs)
    held = read_renders(synthetic_tasks(held_n, HELD_OUT_START), jobs)
    if cache is not None:
        cache.write_text(json.dumps({"tuning": _as_rows(tuning), "held_out": _as_rows(held)}))
    return tuning, held


def _seed(render: Photo) -> int:
    return int(render.file.split(":")[1])


def _as_rows(photos: list[Photo]) -> list[dict[str, Any]]:
    return [
        {
            "file": p.file,
            "evidence": p.evidence,
            "right": p.right,
            "reading": p.reading,
            "label": p.label,
        }
        for p in photos
    ]


def _rows(rows: list[dict[str, Any]]) -> list[Photo]:
    return [
        Photo(r["file"], r["evidence"], r["right"], r["reading"], r.get("label", "")) for r in rows
    ]


def _save(photos: list[Photo], path: Path) -> None:
    path.write_text(json.dumps(_as_rows(photos)))


def _load(path: Path) -> list[Photo]:
    return _rows(json.loads(path.read_text()))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", help="corpus folder (default ../shared/corpus)")
    parser.add_argument("--jobs", type=int, default=1, help="worker processes (one core each)")
    parser.add_argument("--l2", type=float, default=3.0, help="weight penalty (standardised)")
    parser.add_argument("--save-features", type=Path, help="keep the features in this file")
    parser.add_argument("--features", type=Path, help="fit on features saved before")
    parser.add_argument("--limit", type=int, help="only the first N photos (a quick check)")
    parser.add_argument("--dry-run", action="store_true", help="print, do not write")
    parser.add_argument(
        "--folds-by",
        choices=["label", "photo"],
        default="label",
        help="keep photos of one label in one fold (default), or assign photos alone",
    )
    parser.add_argument(
        "--synthetic",
        type=int,
        metavar="N",
        help="fit weights and knot on N synthetic renders of each display kind (tuning seeds); "
        "the real LCD photos are then only read (held out)",
    )
    parser.add_argument(
        "--synthetic-held-out",
        type=int,
        default=60,
        metavar="M",
        help="renders of each kind from the held-out seeds to report on (with --synthetic)",
    )
    parser.add_argument(
        "--synthetic-features", type=Path, help="keep (or reuse) the renders' features here"
    )
    parser.add_argument(
        "--no-real", action="store_true", help="with --synthetic: do not read the LCD photos"
    )
    args = parser.parse_args(argv)
    if args.synthetic:
        tuning, held = synthetic_reads(
            args.synthetic, args.synthetic_held_out, args.jobs, args.synthetic_features
        )
        real = [] if args.no_real else _real_photos(args)
        if real is None:
            return 2
        weights, bias, at = synthetic_fit(tuning, held, real, args.l2)
    else:
        photos = _real_photos(args)
        if photos is None:
            return 2
        weights, bias, at = report(photos, args.l2, by_label=args.folds_by == "label")
    if not args.dry_run:
        write_constants(weights, bias, at)
        print(f"written: {MODULE}")
    return 0


def _real_photos(args: argparse.Namespace) -> list[Photo] | None:
    """The dev LCD photos' reads: saved before (--features) or read now (None: no corpus)."""
    if args.features:
        photos = _load(args.features)
    else:
        photos_dir = bench_ocr.corpus_dir(args.corpus) / "meter-photos"
        if not (photos_dir / "labels.csv").is_file():
            sys.stderr.write(f"corpus not found: {photos_dir}/labels.csv\n")
            return None
        tasks = bench_ocr.photo_tasks(photos_dir, "lcd", args.limit, False)
        with Pool(args.jobs) as pool:
            photos = list(tqdm(pool.imap(read_photo, tasks, chunksize=4), total=len(tasks)))
    if args.save_features:
        _save(photos, args.save_features)
    return photos


if __name__ == "__main__":
    sys.exit(main())
