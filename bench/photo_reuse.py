"""How far apart the perceptual hashes (dHash, `intake.photos`) of copies and of other photos are.

    .venv/bin/python bench/photo_reuse.py [--corpus DIR] [--limit N]

For every dev photo it builds the copies a reused photo arrives as (re-compressed by a messenger,
scaled down, cropped a little at the edges, brightened) and measures their distance to the
original; and for every pair of *different* photos it measures the distance, per source (photos
from one source show similar meters in similar framing: the hardest case for a false alarm).
It prints, per threshold, the share of copies caught and the share of different-photo pairs
that would be flagged; `photo_similar_max_bits` (core/settings.py) is chosen from it.
"""

from __future__ import annotations

import argparse
import csv
import io
import sys
from collections import Counter, defaultdict
from collections.abc import Callable
from itertools import combinations
from pathlib import Path

from PIL import Image, ImageEnhance, ImageOps

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from intake.photos import photo_facts  # noqa: E402 (the repository on the path first)
from matching.reuse import phash_distance  # noqa: E402

MAX_PIXELS = 60_000_000
THRESHOLDS = (2, 4, 6, 8, 10, 12)


def _jpeg(img: Image.Image, quality: int) -> bytes:
    out = io.BytesIO()
    img.convert("RGB").save(out, "JPEG", quality=quality)
    return out.getvalue()


def _messenger(img: Image.Image) -> bytes:
    small = img.copy()
    small.thumbnail((1280, 1280))
    return _jpeg(small, 60)


def _thumbnail(img: Image.Image) -> bytes:
    small = img.copy()
    small.thumbnail((480, 480))
    return _jpeg(small, 75)


def _cropped(img: Image.Image) -> bytes:
    dx, dy = img.width // 40, img.height // 40
    return _jpeg(img.crop((dx, dy, img.width - dx, img.height - dy)), 85)


def _brighter(img: Image.Image) -> bytes:
    return _jpeg(ImageEnhance.Brightness(img).enhance(1.15), 85)


COPIES: dict[str, Callable[[Image.Image], bytes]] = {
    "messenger": _messenger,
    "thumbnail": _thumbnail,
    "cropped_5pct": _cropped,
    "brighter": _brighter,
}


def _hash(data: bytes) -> str:
    phash = photo_facts(data, max_pixels=MAX_PIXELS).phash
    assert phash is not None
    return phash


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", type=Path, default=REPO.parent / "shared" / "corpus")
    parser.add_argument("--limit", type=int, default=0)
    args = parser.parse_args()
    folder = args.corpus / "meter-photos"
    with (folder / "labels.csv").open(encoding="utf-8") as handle:
        files = [row["file"] for row in csv.DictReader(handle)]
    files = files[: args.limit] if args.limit else files
    hashes: dict[str, str] = {}
    copies: dict[str, list[int]] = defaultdict(list)
    for name in files:
        data = (folder / name).read_bytes()
        hashes[name] = original = _hash(data)
        with Image.open(io.BytesIO(data)) as raw:
            img = ImageOps.exif_transpose(raw)
            for kind, make in COPIES.items():
                copies[kind].append(phash_distance(original, _hash(make(img))))
    pairs: dict[str, list[int]] = defaultdict(list)
    for first, second in combinations(files, 2):
        source = first.split("__")[0] if first.split("__")[0] == second.split("__")[0] else "mixed"
        pairs[source].append(phash_distance(hashes[first], hashes[second]))
    _report(len(files), copies, pairs)


def _report(count: int, copies: dict[str, list[int]], pairs: dict[str, list[int]]) -> None:
    print(f"{count} photos")
    header = "".join(f"  <={t:<3}" for t in THRESHOLDS)
    print(f"{'copies caught':<28}{header}")
    for kind, distances in copies.items():
        row = "".join(f"  {_share(distances, t):6.1%}" for t in THRESHOLDS)
        print(f"  {kind:<26}{row}   max {max(distances)}")
    print(f"{'different pairs flagged':<28}{header}")
    for source, distances in sorted(pairs.items()):
        row = "".join(f"  {_share(distances, t):6.2%}" for t in THRESHOLDS)
        low = sorted(Counter(distances).items())[:3]
        print(f"  {source:<26}{row}   n={len(distances)}, lowest {low}")


def _share(distances: list[int], threshold: int) -> float:
    return sum(d <= threshold for d in distances) / len(distances)


if __name__ == "__main__":
    main()
