"""Measure the window's weight in reading drum counters without a digit count (ocr/counts.py).

    .venv/bin/python bench/fit_counts.py [--jobs J] [--source toloka]
        [--save-reads F | --reads F]   # keep the scored reads, or measure from them (seconds)

Every water photo is read with the kind "drum" and no digit count up to the scored reads under
each count (`counts.scored`, the window's evidence per count); then, per weight of the window's
evidence (`counts.WINDOW_WEIGHT`), the reading `counts.pooled` chooses and whether it is accepted
(the counted ranker's knot, and the counts' own choices agreeing) are computed from those reads:
exact, accepted and precision per weight, and held out: per fold of five the weight that reads
most photos exactly on the other folds, measured on this one. No plate read.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from bench import ocr as bench_ocr  # noqa: E402 (the repository on the path first)

WEIGHTS = (0.0, 0.25, 0.5, 0.75, 1.0)
FOLDS = 5

Reads = dict[str, Any]  # one photo: label and per count its evidence and scored reads


def _scored(task: bench_ocr.Task) -> Reads:
    from core.settings import Settings
    from ocr import counts, default_engine
    from ocr.reader import load_work_image
    from ocr.search import Memo

    path, file, _, label, _ = task
    engine = default_engine()
    model = engine.ranker["counted"]
    image = load_work_image(Path(path), max_pixels=Settings().max_image_pixels)
    found = counts.read_counts(engine.search, model, image, "drum", Memo(image))
    out: Reads = {"file": file, "label": label, "counts": []}
    if found is not None:
        per_count = counts.scored(found.stage, image.shape, model)
        for (count, described, scores), evidence in zip(
            per_count, counts.evidence(per_count), strict=True
        ):
            reads = [
                (d.text, float(s), d.reason is None) for d, s in zip(described, scores, strict=True)
            ]
            out["counts"].append({"k": count, "e": evidence, "c": reads})
    return out


def decide(photo: Reads, weight: float, knot: float) -> tuple[bool, bool]:
    """Is the chosen reading exact, and is it accepted (as `counts.pooled` and the reader)?"""
    per = photo["counts"]
    if not per:
        return False, False
    prior = np.array([c["e"] for c in per]) * weight
    prior -= np.logaddexp.reduce(prior)
    shifted = [np.array([r[1] for r in c["c"]]) + p for c, p in zip(per, prior, strict=True)]
    top = max(0.0, max(float(s.max()) for s in shifted))
    mass: dict[int | None, float] = {}
    lead: dict[int | None, tuple[float, bool]] = {}
    parts, owns = [], []
    for c, s in zip(per, shifted, strict=True):
        e = np.exp(s - top)
        parts.append(float(e.sum()))
        owns.append(_value(c["c"][int(np.argmax(s))][0]))
        for (text, _, complete), x, v in zip(c["c"], e, s, strict=True):
            key = _value(text)
            mass[key] = mass.get(key, 0.0) + float(x)
            if key not in lead or v > lead[key][0]:
                lead[key] = (float(v), complete)
    total = sum(parts) + float(np.exp(-top))
    value = max(mass, key=lambda v: (v is not None, mass[v]))
    if value is None:
        return False, False
    agreed = sum(p for p, own in zip(parts, owns, strict=True) if own == value) >= 0.5 * sum(parts)
    accepted = lead[value][1] and mass[value] / total >= knot and agreed
    return value == int(photo["label"]), accepted


def _value(text: str) -> int | None:
    return int(text) if text.isdigit() else None


def figures(photos: list[Reads], weight: float, knot: float) -> tuple[int, int, int]:
    """Exact, accepted, accepted and exact photos."""
    decided = [decide(p, weight, knot) for p in photos]
    return (
        sum(e for e, _ in decided),
        sum(a for _, a in decided),
        sum(e and a for e, a in decided),
    )


def _line(name: str, n: int, exact: int, accepted: int, right: int) -> str:
    precision = right / accepted if accepted else float("nan")
    rates = f"exact {exact / n:6.1%}  accepted {accepted / n:6.1%}  precision {precision:.2%}"
    return f"{name:<22} {rates}"


def main(argv: list[str] | None = None) -> int:
    from multiprocessing import Pool

    from ocr import ranking

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", help="corpus folder (default ../shared/corpus)")
    parser.add_argument("--jobs", type=int, default=1, help="worker processes (one core each)")
    parser.add_argument("--source", default="toloka", help="file name prefix")
    parser.add_argument("--save-reads", type=Path, help="keep the scored reads (JSON lines)")
    parser.add_argument("--reads", type=Path, help="measure from scored reads saved before")
    args = parser.parse_args(argv)
    if args.reads:
        photos = [json.loads(line) for line in args.reads.read_text().splitlines()]
    else:
        folder = bench_ocr.corpus_dir(args.corpus) / "meter-photos"
        tasks = bench_ocr.photo_tasks(folder, "water", None, False, source=args.source)
        with Pool(args.jobs, initializer=bench_ocr.init_worker) as pool:
            photos = list(tqdm(pool.imap(_scored, tasks, chunksize=2), total=len(tasks)))
    if args.save_reads:
        args.save_reads.write_text("".join(json.dumps(p) + "\n" for p in photos))
    knot = ranking.load()["counted"].knot or 1.0
    n = len(photos)
    print(f"{n} photos, kind drum, no digit count, knot {knot:.4f}")
    for weight in WEIGHTS:
        print(_line(f"window weight {weight}", n, *figures(photos, weight, knot)))
    order = np.random.default_rng(0).permutation(n)
    held, chosen = np.zeros(3, int), []
    for fold in range(FOLDS):
        test = set(order[fold::FOLDS].tolist())
        train = [p for i, p in enumerate(photos) if i not in test]
        best = max(WEIGHTS, key=lambda w: figures(train, w, knot)[0])
        chosen.append(best)
        held += figures([photos[i] for i in sorted(test)], best, knot)
    print(_line(f"held out {chosen}", n, *held.tolist()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
