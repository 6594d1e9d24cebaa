"""Measure the plate read's Tesseract call two ways on the dev photos, in one process, interleaved.

    .venv/bin/python bench/tesseract.py [--limit N] [--rounds R]

First the OCR reads the first N photos of each group (as bench/ocr.py does) and keeps every image
the plate read hands to Tesseract. Then, round by round, each image is recognised by
- `inprocess`: `ocr.tesseract.Tesseract` (tesserocr, one API per thread, the product's path);
- `pytesseract`: pytesseract's `image_to_data` (the `tesseract` program once per call, with its
  timeout), with the same options (only when pytesseract is installed: `pip install pytesseract`).
Both run in the same process in the same minute, alternating per image, so the machine's speed
changes hit both alike. Printed: per way the median and mean milliseconds per call, and how
many images gave the same words (text and confidence), the same text, and the same meter
number candidates, as
the in-process read.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench import ocr as bench_ocr  # noqa: E402 (the repository on the path first)

Recognise = Callable[[np.ndarray], list[tuple[str, float]]]


class Recording:
    """A Tesseract stand-in for the reader that records each image and answers in process."""

    def __init__(self, inner: object) -> None:
        self.inner = inner
        self.images: list[np.ndarray] = []

    def words(self, image: np.ndarray, **options: object) -> object:
        self.images.append(image.copy())
        return self.inner.words(image, **options)  # type: ignore[attr-defined]


def plate_images(photos: Path, limit: int) -> list[np.ndarray]:
    """The images the plate read hands to Tesseract for the first `limit` photos per group."""
    from core.settings import Settings
    from ocr.reader import OcrEngine
    from ocr.tesseract import Tesseract

    recording = Recording(Tesseract())
    engine = OcrEngine(Settings(), tesseract=recording)  # type: ignore[arg-type]
    for group in ("water", "lcd"):
        for path, _, group_, label, _ in bench_ocr.photo_tasks(photos, group, limit, True):
            hint = bench_ocr.meter_hint(group_, label)
            engine.read(Path(path), integer_digits=hint.integer_digits, display=hint.display)
    return recording.images


def inprocess() -> Recognise:
    from ocr.tesseract import Tesseract

    tesseract = Tesseract()
    tesseract.probe()
    return lambda image: [(w.text, w.confidence) for w in tesseract.words(image, psm=6)]


def subprocess_per_call() -> Recognise | None:
    try:
        import pytesseract  # type: ignore[import-untyped,unused-ignore]
    except ImportError:
        return None
    from PIL import Image

    from ocr.tesseract import Tesseract, parse_tsv

    tesseract = Tesseract()
    tesseract.probe()
    config = f"--tessdata-dir {tesseract.folder} --psm 6 --dpi 300"

    def recognise(image: np.ndarray) -> list[tuple[str, float]]:
        tsv = pytesseract.image_to_data(
            Image.fromarray(image), lang="eng", config=config, timeout=10
        )
        return [(w.text, w.confidence) for w in parse_tsv(tsv)]

    return recognise


def _texts(words: list[tuple[str, float]]) -> list[str]:
    return [text for text, _ in words]


def candidates(words: list[tuple[str, float]]) -> list[str]:
    from ocr.plate import serial_candidates

    return serial_candidates("\n".join(text for text, _ in words))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", help="corpus folder (default ../shared/corpus)")
    parser.add_argument("--limit", type=int, default=40, help="photos per group")
    parser.add_argument("--rounds", type=int, default=3, help="times each image is recognised")
    args = parser.parse_args(argv)
    os.environ.setdefault("OMP_THREAD_LIMIT", "1")  # the program's threads: one, as in a worker
    import cv2

    cv2.setNumThreads(1)
    images = plate_images(bench_ocr.corpus_dir(args.corpus) / "meter-photos", args.limit)
    ways = {"inprocess": inprocess(), "pytesseract": subprocess_per_call()}
    ready = {name: way for name, way in ways.items() if way is not None}
    seconds: dict[str, list[float]] = {name: [] for name in ready}
    answers: dict[str, list[list[tuple[str, float]]]] = {name: [] for name in ready}
    for round_ in range(args.rounds):
        for image in images:
            for name, way in ready.items():
                start = time.perf_counter()
                words = way(image)
                seconds[name].append(time.perf_counter() - start)
                if round_ == 0:
                    answers[name].append(words)
    largest = max((image.size for image in images), default=0)
    print(f"{len(images)} plate images (largest {largest} pixels), {args.rounds} rounds")
    print(
        f"{'way':<12} {'median ms':>10} {'mean ms':>8} {'same words':>11} {'same text':>11} "
        f"{'same cands':>11}"
    )
    base = answers["inprocess"]
    for name in ready:
        same = sum(a == b for a, b in zip(answers[name], base, strict=True))
        text = sum(_texts(a) == _texts(b) for a, b in zip(answers[name], base, strict=True))
        cands = sum(
            candidates(a) == candidates(b) for a, b in zip(answers[name], base, strict=True)
        )
        print(
            f"{name:<12} {1000 * statistics.median(seconds[name]):>10.1f} "
            f"{1000 * statistics.mean(seconds[name]):>8.1f} {same:>5}/{len(base):<5} "
            f"{text:>5}/{len(base):<5} "
            f"{cands:>5}/{len(base):<5}"
        )
    if "pytesseract" not in ready:
        print("pytesseract not installed: only the in-process way measured")
    return 0


if __name__ == "__main__":
    sys.exit(main())
