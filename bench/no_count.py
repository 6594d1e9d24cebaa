"""Time reading water photos without a digit count against with it, in one process, alternating.

    .venv/bin/python bench/no_count.py [--limit N] [--every K] [--source toloka]

Every K-th water photo (of those whose file name starts with `--source`) is read twice in a row,
alternating which goes first: as master data gives it (`integer_digits=5`, `display="drum"`) and
with neither digit count nor kind, each on a fresh load of the photo, with the plate read, on one
core. Printed: the median seconds of each way, their ratio, and how many photos each read exactly.
Both ways share the machine's load of the moment, so their ratio holds where the seconds do not.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench import ocr as bench_ocr  # noqa: E402 (the repository on the path first)
from ocr.reader import Hypothesis  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", help="corpus folder (default ../shared/corpus)")
    parser.add_argument("--limit", type=int, default=40, help="photos read")
    parser.add_argument("--every", type=int, default=10, help="every K-th water photo")
    parser.add_argument("--source", default="toloka", help="file name prefix")
    args = parser.parse_args(argv)
    bench_ocr.init_worker()
    from ocr import read_meter

    photos = bench_ocr.corpus_dir(args.corpus) / "meter-photos"
    tasks = bench_ocr.photo_tasks(photos, "water", None, True, source=args.source)[:: args.every]
    ways: dict[str, Hypothesis] = {
        "counted": (bench_ocr.WATER_DIGITS, "drum"),
        "unknown": (None, None),
    }
    seconds: dict[str, list[float]] = {way: [] for way in ways}
    exact = dict.fromkeys(ways, 0)
    tasks = tasks[: args.limit]
    for i, (path, _, _, label, _) in enumerate(tasks):
        order = list(ways) if i % 2 == 0 else list(ways)[::-1]
        for way in order:
            digits, display = ways[way]
            result = read_meter(Path(path), integer_digits=digits, display=display)
            seconds[way].append(result.seconds)
            exact[way] += bool(result.reading and int(result.reading) == int(label))
    counted, unknown = (statistics.median(seconds[way]) for way in ways)
    print(f"{len(tasks)} photos, each read both ways (alternating which first), with the plate")
    for way in ways:
        median = statistics.median(seconds[way])
        print(f"{way:<8} median {median:.3f} s  exact {exact[way]}/{len(tasks)}")
    print(f"without a count / with it: {unknown / counted:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
