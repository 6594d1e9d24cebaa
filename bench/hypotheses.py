"""Measure reading a photo under several hypotheses at once against one `read_meter` per hypothesis.

    .venv/bin/python bench/hypotheses.py [--limit N]

For the first N photos of each group, each photo is read under HYPOTHESES (the meters a sender
may have: water meters of 5 and 6 drums, an electricity meter of unknown kind, a display) once
by `read_meter_hypotheses` and once by one `read_meter` call per hypothesis, alternating which
goes first, in one process on one core. Printed: the median seconds per photo both ways, their
ratio, and how many photos gave the same results (reading, fraction, confidence, accepted,
reason, meter number candidates) both ways.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench import ocr as bench_ocr  # noqa: E402 (the repository on the path first)
from core.types import MeterRead  # noqa: E402
from ocr.reader import Hypothesis  # noqa: E402

HYPOTHESES: list[Hypothesis] = [(5, "drum"), (6, "drum"), (6, None), (None, "lcd")]


def _same(a: MeterRead, b: MeterRead) -> bool:
    keys = ("reading", "fraction", "confidence", "accepted", "reason", "meter_number_candidates")
    return all(getattr(a, k) == getattr(b, k) for k in keys)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", help="corpus folder (default ../shared/corpus)")
    parser.add_argument("--limit", type=int, default=20, help="photos per group")
    args = parser.parse_args(argv)
    bench_ocr.init_worker()
    from ocr import default_engine, read_meter, read_meter_hypotheses

    engine = default_engine()
    photos = bench_ocr.corpus_dir(args.corpus) / "meter-photos"
    paths = [
        Path(task[0])
        for group in ("water", "lcd")
        for task in bench_ocr.photo_tasks(photos, group, args.limit, True)
    ]
    together: list[float] = []
    apart: list[float] = []
    same = 0
    for i, path in enumerate(paths):
        data = path.read_bytes()
        for way in (0, 1) if i % 2 == 0 else (1, 0):
            start = time.perf_counter()
            if way == 0:
                at_once = read_meter_hypotheses(data, HYPOTHESES, engine=engine)
                together.append(time.perf_counter() - start)
            else:
                one_by_one = [  # by path: the engine keeps the location of photos given as bytes
                    read_meter(path, integer_digits=d, display=k, engine=engine)
                    for d, k in HYPOTHESES
                ]
                apart.append(time.perf_counter() - start)
        same += all(_same(a, b) for a, b in zip(at_once, one_by_one, strict=True))
    t, a = statistics.median(together), statistics.median(apart)
    print(f"{len(paths)} photos, {len(HYPOTHESES)} hypotheses each: {HYPOTHESES}")
    print(f"read_meter_hypotheses   median {t:.3f} s a photo")
    print(f"read_meter per hypothesis median {a:.3f} s a photo  ({t / a:.2f} of it)")
    print(f"same results both ways: {same}/{len(paths)} photos")
    return 0


if __name__ == "__main__":
    sys.exit(main())
