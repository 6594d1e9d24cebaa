"""Time this checkout's OCR against another checkout's on the same photos, photo by photo.

    .venv/bin/python bench/speed_ab.py --baseline DIR [--group water] [--limit 60] [--corpus DIR]
                                       [--hypotheses]

`DIR` holds the other version (e.g. `git worktree add /tmp/base e6b9253`, or
`git archive e6b9253 | tar -x -C DIR`). One worker process per version (one core each, OpenCV
threads off, as bench/ocr.py) reads the photos as bench/ocr.py does, plate included; the photos
are handed to the two in turn, alternating which goes first, so both see the same load. Each
photo's time is the CPU time of its `read_meter` call (`time.process_time`: all threads of the
worker, Tesseract's included), which a machine loaded by other work inflates far less than the
wall time. Prints both medians and their ratio (this checkout / the baseline), and every photo
whose reading, acceptance, confidence (to 1e-6) or meter numbers differ. With `--hypotheses`
each photo is read under the four hypotheses of bench/hypotheses.py at once
(`read_meter_hypotheses`, from its bytes, as the intake reads a photo for a sender with
several meters), and every hypothesis's read is compared.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Timed:
    cpu: float
    wall: float
    read: tuple[object, ...]  # reading, fraction, accepted, meter numbers
    confidence: float


def serve(root: str) -> None:
    """Worker: read the photos named on stdin (JSON lines) with the OCR of `root`."""
    sys.path.insert(0, root)
    from bench import ocr as bench_ocr
    from ocr import default_engine

    bench_ocr.init_worker()
    engine = default_engine()
    for line in sys.stdin:
        task = json.loads(line)
        group, label = task["group"], task["label"]
        hint = bench_ocr.meter_hint(group, label)
        decimals = bench_ocr.EMIC_DECIMALS if group == "emic" else None
        hypotheses = [tuple(h) for h in task.get("hypotheses") or ()]
        data = Path(task["path"]).read_bytes() if hypotheses else None
        cpu, wall = time.process_time(), time.perf_counter()
        if data is not None:
            reads = engine.read_hypotheses(data, hypotheses, decimal_digits=decimals)
        else:
            reads = [
                engine.read(
                    Path(task["path"]),
                    integer_digits=hint.integer_digits,
                    display=hint.display,
                    decimal_digits=decimals,
                )
            ]
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        r = reads[0]
        read: list[object] = [r.reading, r.fraction, r.accepted, list(r.meter_number_candidates)]
        for other in reads[1:]:
            read.append(
                [
                    other.reading,
                    other.fraction,
                    other.accepted,
                    list(other.meter_number_candidates),
                    round(other.confidence, 6),
                ]
            )
        print(json.dumps([cpu, wall, read, r.confidence]), flush=True)


class Worker:
    def __init__(self, root: Path) -> None:
        env = dict(os.environ, PYTHONPATH=str(root))
        self.process = subprocess.Popen(
            [sys.executable, __file__, "--serve", str(root)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
            cwd=root,
        )

    def read(self, path: str, group: str, label: str, hypotheses: list[object] | None) -> Timed:
        assert self.process.stdin and self.process.stdout
        task = {"path": path, "group": group, "label": label, "hypotheses": hypotheses}
        self.process.stdin.write(json.dumps(task) + "\n")
        self.process.stdin.flush()
        cpu, wall, read, confidence = json.loads(self.process.stdout.readline())
        return Timed(cpu, wall, tuple(map(str, read)), confidence)

    def close(self) -> None:
        assert self.process.stdin
        self.process.stdin.close()
        self.process.wait()


def same(a: Timed, b: Timed, tolerance: float = 1e-6) -> bool:
    return a.read == b.read and abs(a.confidence - b.confidence) <= tolerance


def summary(baseline: list[Timed], candidate: list[Timed]) -> str:
    """Both CPU medians, their ratio, and the median of the per-photo ratios."""
    base = statistics.median(t.cpu for t in baseline)
    new = statistics.median(t.cpu for t in candidate)
    per_photo = statistics.median(
        n.cpu / b.cpu for b, n in zip(baseline, candidate, strict=True) if b.cpu > 0
    )
    return (
        f"CPU s a photo, median: baseline {base:.3f}, this checkout {new:.3f}, ratio "
        f"{new / base:.3f} (per photo: {per_photo:.3f}); wall median {_wall(baseline):.3f} / "
        f"{_wall(candidate):.3f}"
    )


def _wall(timed: list[Timed]) -> float:
    return statistics.median(t.wall for t in timed)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", type=Path, help="the other version's checkout")
    parser.add_argument("--group", default="water", help="water, lcd or emic")
    parser.add_argument("--limit", type=int, default=60, help="the first N photos of the group")
    parser.add_argument("--corpus", help="corpus folder (default ../shared/corpus)")
    parser.add_argument(
        "--hypotheses", action="store_true", help="read under bench/hypotheses.py's four at once"
    )
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        serve(args.serve)
        return 0
    if args.baseline is None:
        parser.error("--baseline is required")
    sys.path.insert(0, str(REPO))
    from bench import ocr as bench_ocr
    from bench.hypotheses import HYPOTHESES

    hypotheses: list[object] | None = list(HYPOTHESES) if args.hypotheses else None
    photos = bench_ocr.corpus_dir(args.corpus) / "meter-photos"
    tasks = bench_ocr.photo_tasks(photos, args.group, args.limit, True, every=True)
    workers = {"baseline": Worker(args.baseline.resolve()), "candidate": Worker(REPO)}
    timed: dict[str, list[Timed]] = {"baseline": [], "candidate": []}
    try:
        for name in workers:  # each loads its models on a first photo, not timed
            workers[name].read(*_task(tasks[0]), hypotheses)
        for i, task in enumerate(tasks):
            for name in ("baseline", "candidate") if i % 2 == 0 else ("candidate", "baseline"):
                timed[name].append(workers[name].read(*_task(task), hypotheses))
            b, n = timed["baseline"][-1], timed["candidate"][-1]
            if not same(b, n):
                print(f"{task[1]}: {b.read} {b.confidence:.9f} -> {n.read} {n.confidence:.9f}")
    finally:
        for worker in workers.values():
            worker.close()
    differ = sum(not same(b, n) for b, n in zip(timed["baseline"], timed["candidate"], strict=True))
    print(f"{args.group}: {len(tasks)} photos, {differ} read differently")
    print(summary(timed["baseline"], timed["candidate"]))
    return 0


def _task(task: tuple[str, str, str, str, bool]) -> tuple[str, str, str]:
    path, _, group, label, _ = task
    return path, group, label


if __name__ == "__main__":
    sys.exit(main())
