"""Train the digit model shipped as `ocr/models/digits.onnx`.

Data (openly licensed only, never ../shared/corpus/meter-photos):
- ../shared/corpus/meter-digits (Apache-2.0 / MIT): drum and LCD digit crops. `label_raw` like
  3.4 becomes a soft target 0.6 x "3" + 0.4 x "4", so the model reports rolling drums as two
  neighbours; `NaN` crops are "no digit" (class 10).
- cells cut from rendered counter strips (`digit_strips.py`: TrueType or meter-digits drums in a
  frame on a dial, photographed) exactly as the reader cuts them; cells half a drum off and
  beyond the strip's ends are "no digit" (so the reader can tell a misplaced window);
- synthetic cells from `ocr.synth.render_digit_cell` (drums, rolling drums, 7-segment digits);
- "no digit" negatives: crops of synthetic meter photos away from the counter, printed letters,
  upside-down digits.

Needs the `train` extra (`pip install -e '.[train]'`, PyTorch CPU). Usage:
    .venv/bin/python scripts/train_digits.py [--corpus ../shared/corpus] [--epochs 8]
        [--width 24] [--teacher ocr/models/digits.onnx --teacher ocr/models/digits_second.onnx]
        [--jitter] [--flagged-ones 0.3] [--drum-windows 0.3] [--strokes 0.3]
        [--rolling 0.2] [--thinnest-one 0.09] [--faint 0.2]  # recipe options: docs/ocr.md
Deterministic for a given --seed (up to PyTorch's CPU kernels).
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import logging
import multiprocessing
import tarfile
import tempfile
from pathlib import Path

import cv2
import digit_strips
import numpy as np
import torch
from torch import nn

from ocr.digits import INPUT_H, INPUT_W, DigitModel, normalise
from ocr.synth import render_digit_cell, render_drum_meter, render_lcd_meter

log = logging.getLogger("train_digits")
CLASSES = 11


def soft_target(label_raw: str) -> np.ndarray:
    """meter-digits `label_raw` ("3.4": rolling from 3 to 4, "NaN": unreadable) as soft target."""
    unreadable = label_raw in ("", "NaN", "nan")
    return digit_strips.soft_target(None if unreadable else float(label_raw))


def extract_corpus(corpus: Path, workdir: Path) -> Path:
    digits = corpus / "meter-digits"
    with tarfile.open(digits / "digits.tar.gz") as tar:
        tar.extractall(workdir, filter="data")
    (workdir / "labels.csv").write_bytes((digits / "labels.csv").read_bytes())
    return workdir


def load_corpus_crops(digits_dir: Path) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """meter-digits crops (BGR) with soft targets; unreadable crops are "no digit"."""
    images, targets = [], []
    with (digits_dir / "labels.csv").open(newline="") as fh:
        for row in csv.DictReader(fh):
            img = cv2.imread(str(digits_dir / "digits" / row["file"]), cv2.IMREAD_COLOR)
            if img is not None:
                images.append(img)
                targets.append(soft_target(row["label_raw"]))
    return images, targets


def synthetic_cells(
    count: int, rng: np.random.Generator
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    images, targets = [], []
    for i in range(count):
        digit = int(rng.integers(0, 10))
        kind = "lcd" if rng.random() < 0.35 else "drum"
        roll = float(rng.random()) if kind == "drum" and rng.random() < 0.3 else 0.0
        cell = render_digit_cell(digit, kind=kind, roll=roll, seed=int(rng.integers(1 << 30)))
        images.append(cv2.cvtColor(cell, cv2.COLOR_BGR2GRAY))
        targets.append(soft_target(str(digit + roll)))
        if i % 8 == 0:  # a window half a cell off: two half digits, not a digit
            nxt = render_digit_cell((digit + 1) % 10, kind=kind, seed=i)
            pair = np.hstack([cell, cv2.resize(nxt, (cell.shape[1], cell.shape[0]))])
            w = cell.shape[1]
            off = int(w * rng.uniform(0.35, 0.65))
            images.append(cv2.cvtColor(pair[:, off : off + w], cv2.COLOR_BGR2GRAY))
            targets.append(soft_target("NaN"))
    return images, targets


LETTERS = "AEFHKLMNPRTVWXYhmrtkx/%"  # nothing that looks like a digit (O, D, U, C, I, S, B, Z, G)
FONTS = (cv2.FONT_HERSHEY_SIMPLEX, cv2.FONT_HERSHEY_DUPLEX, cv2.FONT_HERSHEY_COMPLEX)


def letter_cells(count: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Printed letters and symbols as on a meter's dial: "no digit"."""
    cells = []
    for _ in range(count):
        h = int(rng.integers(36, 60))
        w = int(h * rng.uniform(0.5, 0.75))
        paper, ink = (230, 30) if rng.random() < 0.6 else (30, 230)
        cell = np.full((h, w), paper + int(rng.integers(-20, 20)), np.uint8)
        text = "".join(rng.choice(list(LETTERS), size=int(rng.integers(1, 3))))
        scale = h / 40 * rng.uniform(0.7, 1.1)
        font = int(rng.choice(FONTS))
        (tw, th), _ = cv2.getTextSize(text, font, scale, 2)
        org = (int((w - tw) / 2 + rng.normal(0, 2)), int((h + th) / 2 + rng.normal(0, 2)))
        cv2.putText(cell, text, org, font, scale, ink, int(rng.integers(1, 4)))
        cells.append(cell)
    return cells


def upside_down(images: list[np.ndarray], targets: list[np.ndarray]) -> list[np.ndarray]:
    """Digits that change when turned by 180 degrees, turned: "no digit" (tells flipped rows)."""
    out = []
    for img, t in zip(images, targets, strict=True):
        if t.max() > 0.95 and int(t.argmax()) in (2, 3, 4, 5, 7):
            out.append(cv2.rotate(img, cv2.ROTATE_180))
    return out


def background_crops(count: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Digit-sized crops of synthetic photos; the counter is rarely hit at these sizes/places."""
    crops: list[np.ndarray] = []
    while len(crops) < count:
        seed = int(rng.integers(1 << 30))
        render = render_lcd_meter if rng.random() < 0.3 else render_drum_meter
        photo = cv2.cvtColor(render("0", seed=seed, meter_number="AB12"), cv2.COLOR_BGR2GRAY)
        for _ in range(20):
            h = int(rng.integers(20, 120))
            w = int(h * rng.uniform(0.4, 0.8))
            y, x = int(rng.integers(0, 900 - h)), int(rng.integers(0, 900 - w))
            crops.append(photo[y : y + h, x : x + w])
    return crops[:count]


def augment(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A loose crop made into a cell as the reader cuts it: tilt, shear, blur, low resolution,
    glare; uint8 INPUT_H x INPUT_W."""
    h, w = img.shape
    scale = rng.uniform(0.75, 1.2)
    m = cv2.getRotationMatrix2D((w / 2, h / 2), rng.normal(0, 3), scale)
    m[0, 1] += rng.normal(0, 0.06)  # shear: perspective and italic 7-segment digits
    m[:, 2] += (rng.normal(0, 0.06 * w), rng.normal(0, 0.06 * h))
    out = cv2.warpAffine(img, m, (w, h), borderMode=cv2.BORDER_REPLICATE)
    if rng.random() < 0.3:
        out = cv2.GaussianBlur(out, (0, 0), rng.uniform(0.5, 1.8))
    if rng.random() < 0.3:  # a small, blurry counter far from the phone
        f = rng.uniform(0.3, 0.6)
        small = cv2.resize(
            out, (max(4, int(w * f)), max(6, int(h * f))), interpolation=cv2.INTER_AREA
        )
        out = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    cell = cv2.resize(out, (INPUT_W, INPUT_H), interpolation=cv2.INTER_AREA).astype(np.float32)
    if rng.random() < 0.2:  # a glare stripe or a scratch on the glass
        x = int(rng.integers(0, INPUT_W))
        cell[:, max(0, x - 1) : x + 1] += rng.uniform(40, 120)
    return np.clip(cell, 0, 255).astype(np.uint8)


class DigitNet(nn.Sequential):
    """Three conv blocks and a 128-unit layer. Without `norm`, the blocks have no batch
    normalisation: the shape of an exported model, whose normalisation is folded into its
    convolutions (`--init`)."""

    def __init__(self, width: int = 24, *, norm: bool = True) -> None:
        def block(cin: int, cout: int) -> list[nn.Module]:
            return [
                nn.Conv2d(cin, cout, 3, padding=1),
                *([nn.BatchNorm2d(cout)] if norm else []),
                nn.ReLU(),
                nn.MaxPool2d(2),
            ]

        super().__init__(
            *block(1, width),
            *block(width, 2 * width),
            *block(2 * width, 4 * width),
            nn.Flatten(),
            nn.Linear(4 * width * (INPUT_H // 8) * (INPUT_W // 8), 128),
            nn.ReLU(),
            nn.Dropout(0.3),
            nn.Linear(128, CLASSES),
        )


def from_onnx(path: Path) -> DigitNet:
    """A trained model back from its ONNX file, to train further (fine-tuning)."""
    import onnx
    from onnx import numpy_helper

    graph = onnx.load(str(path)).graph
    weights = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    params = [
        [weights[name] for name in node.input[1:]]
        for node in graph.node
        if node.op_type in ("Conv", "Gemm")
    ]
    net = DigitNet(int(params[0][0].shape[0]), norm=False)
    layers = [m for m in net if isinstance(m, nn.Conv2d | nn.Linear)]
    if len(layers) != len(params):
        raise SystemExit(f"{path}: not a digit model of this script's shape")
    with torch.no_grad():
        for layer, (weight, bias) in zip(layers, params, strict=True):
            layer.weight.copy_(torch.tensor(weight))
            assert layer.bias is not None  # every layer of DigitNet has one
            layer.bias.copy_(torch.tensor(bias))
    return net


def photo_variation(x: torch.Tensor, faint: float = 0.0) -> torch.Tensor:
    """Per batch on the fly: contrast, brightness, light gradient, noise, either polarity; a share
    `faint` of the cells first loses most of its contrast (worn print, a drum seen through
    fogged or reflecting glass), so that the noise weighs as it does on such drums."""
    n = x.shape[0]
    if faint:
        centre = x.mean(dim=(2, 3), keepdim=True)
        fade = torch.where(
            torch.rand(n, 1, 1, 1) < faint, torch.empty(n, 1, 1, 1).uniform_(0.12, 0.5), 1.0
        )
        x = centre + (x - centre) * fade
    gain = torch.empty(n, 1, 1, 1).uniform_(0.6, 1.3)
    gradient = torch.linspace(0, 1, INPUT_H).view(1, 1, -1, 1) * torch.empty(n, 1, 1, 1).uniform_(
        -0.4, 0.0
    )
    x = x * gain * (1 + gradient) + torch.empty(n, 1, 1, 1).uniform_(-30, 30)
    x = x + torch.randn_like(x) * torch.empty(n, 1, 1, 1).uniform_(0, 6)
    invert = torch.rand(n, 1, 1, 1) < 0.5
    x = torch.where(invert, 255 - x, x).clamp(0, 255)
    mean = x.mean(dim=(2, 3), keepdim=True)
    std = x.std(dim=(2, 3), keepdim=True)
    return (x - mean) / (std + 8.0)  # as ocr.digits.normalise


def train(cells: np.ndarray, targets: np.ndarray, args: argparse.Namespace) -> DigitNet:
    """A new net (`--width`), or the `--init` model trained further."""
    seed, epochs, lr = args.seed, args.epochs, args.lr
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    net = from_onnx(args.init) if args.init else DigitNet(args.width)
    batch = 256
    opt = torch.optim.AdamW(net.parameters(), lr=lr / 2, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, lr, total_steps=epochs * (len(cells) // batch + 1)
    )
    x_all = torch.from_numpy(cells)
    y_all = torch.from_numpy(targets)
    for epoch in range(epochs):
        order = torch.from_numpy(rng.permutation(len(cells)))
        net.train()
        total = 0.0
        for start in range(0, len(order), batch):
            idx = order[start : start + batch]
            x = photo_variation(x_all[idx].float()[:, None], args.faint)
            loss = -(y_all[idx] * torch.log_softmax(net(x), dim=1)).sum(dim=1).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item() * len(idx)
        log.info("epoch %d loss %.4f", epoch + 1, total / len(order))
    return net.eval()


def distilled(
    cells: np.ndarray, targets: np.ndarray, teachers: list[Path], weight: float
) -> np.ndarray:
    """Targets mixed with what trained models say of the same cells: a smaller model learns
    the larger ones' doubts (which neighbour, how much "no digit"), not only the labels."""
    if not teachers:
        return targets
    said = np.mean([DigitModel(path).predict(list(cells)) for path in teachers], axis=0)
    log.info("teachers agree with the labels on %.4f", (said.argmax(1) == targets.argmax(1)).mean())
    return np.asarray((1 - weight) * targets + weight * said, np.float32)


def evaluate(net: DigitNet, cells: np.ndarray, targets: np.ndarray) -> float:
    x = torch.from_numpy(np.stack([normalise(c) for c in cells])[:, None])
    with torch.no_grad():
        pred = net(x).argmax(dim=1).numpy()
    return float((pred == targets.argmax(axis=1)).mean())


_drums: tuple[digit_strips.DrumRenderer, digit_strips.RealDrums] | None = None


def _load_drums(digits_dir: Path, flagged_ones: float, thinnest_one: float) -> None:
    """Once per worker process: the fonts and the meter-digits crops."""
    global _drums
    crops, targets = load_corpus_crops(digits_dir)
    _drums = (
        digit_strips.DrumRenderer(
            digit_strips.find_fonts(), flagged_ones=flagged_ones, thinnest_one=thinnest_one
        ),
        digit_strips.RealDrums(crops, targets),
    )


def _strip_worker(
    job: tuple[int, int, float, digit_strips.Cutting, float, float, float],
) -> tuple[np.ndarray, np.ndarray]:
    count, seed, real_share, cutting, windows, strokes, rolling = job
    assert _drums is not None, "worker started without _load_drums"
    renderer, real = _drums
    return digit_strips.counter_cells(
        count,
        np.random.default_rng(seed),
        renderer,
        real,
        real_share,
        cutting,
        windows,
        strokes=strokes,
        rolling=rolling,
    )


def strip_cells(args: argparse.Namespace, digits_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    """Cells cut from rendered counter strips, in 4 x `jobs` seeded chunks on `jobs` processes."""
    count, seed, jobs = args.strip_cells, args.seed, args.jobs
    per = count // (4 * jobs) + 1
    cutting = digit_strips.JITTERED if args.jitter else digit_strips.Cutting()
    options = (args.real_share, cutting, args.drum_windows, args.strokes, args.rolling)
    work = [(per, seed * 1000 + i, *options) for i in range(4 * jobs)]
    with multiprocessing.Pool(
        jobs, initializer=_load_drums, initargs=(digits_dir, args.flagged_ones, args.thinnest_one)
    ) as pool:
        parts = pool.map(_strip_worker, work)
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def dataset(args: argparse.Namespace, digits_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    """All training cells (uint8, INPUT_H x INPUT_W) and soft targets."""
    rng = np.random.default_rng(args.seed)
    crops, crop_targets = load_corpus_crops(digits_dir)
    log.info("meter-digits: %d crops", len(crops))
    fonts = digit_strips.find_fonts()  # the drum faces; another set gives other training data
    log.info("fonts: %d (%s)", len(fonts), ", ".join(f.name for f in fonts))
    strips, strip_targets = strip_cells(args, digits_dir)
    log.info("counter strips: %d cells", len(strips))
    gray = [cv2.cvtColor(c, cv2.COLOR_BGR2GRAY) for c in crops]
    loose = gray + gray
    loose_targets = crop_targets + crop_targets
    syn, syn_targets = synthetic_cells(args.synthetic, rng)
    loose += syn
    loose_targets += syn_targets
    negatives = background_crops(args.synthetic // 4, rng)
    negatives += letter_cells(args.synthetic // 3, rng)
    negatives += upside_down(gray, crop_targets)[: args.synthetic // 2]
    loose += negatives
    loose_targets += [soft_target("NaN")] * len(negatives)
    cells = np.concatenate([strips, np.stack([augment(c, rng) for c in loose])])
    targets = np.concatenate([strip_targets, np.stack(loose_targets)])
    return cells, targets


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument(
        "--corpus", type=Path, default=Path(__file__).resolve().parents[2] / "shared/corpus"
    )
    parser.add_argument(
        "--out", type=Path, default=Path(__file__).resolve().parents[1] / "ocr/models"
    )
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--synthetic", type=int, default=12000)
    parser.add_argument("--strip-cells", type=int, default=100000)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--width", type=int, default=24, help="channels of the first conv block (then x2, x4)"
    )
    parser.add_argument("--name", default="digits.onnx", help="file name in --out")
    parser.add_argument(
        "--teacher",
        type=Path,
        action="append",
        default=[],
        help="ONNX model(s) whose averaged output is mixed into the targets (distillation)",
    )
    parser.add_argument("--teacher-weight", type=float, default=0.5)
    parser.add_argument(
        "--init",
        type=Path,
        help="ONNX model to train further instead of starting afresh (fine-tuning; "
        "--width is then the model's own)",
    )
    parser.add_argument("--lr", type=float, default=4e-3, help="peak learning rate")
    parser.add_argument(
        "--real-share",
        type=float,
        default=0.4,
        help="share of counter strips made of real meter-digits crops (the rest rendered)",
    )
    parser.add_argument(
        "--jitter",
        action="store_true",
        help="cut the strips' cells looser: centres off by 0.12 of the pitch (not 0.06), "
        "0.5-0.75 digit heights wide (not 0.62); see digit_strips.JITTERED",
    )
    parser.add_argument(
        "--flagged-ones",
        type=float,
        default=0.0,
        help="share of rendered drums whose 1 is drawn with a long flag and mostly no foot, "
        "as on many water meters (digit_strips.FlaggedOne); 0 in the shipped recipe",
    )
    parser.add_argument(
        "--drum-windows",
        type=float,
        default=0.0,
        help="share of counter strips whose drums each show through a window of their own, "
        "outlined by a dark rim (digit_strips._drum_windows); 0 in the shipped recipe",
    )
    parser.add_argument(
        "--thinnest-one",
        type=float,
        default=0.09,
        help="thinnest stroke of a flagged 1 as a share of its height (thickest 0.17); "
        "0.09 in the shipped recipe",
    )
    parser.add_argument(
        "--faint",
        type=float,
        default=0.0,
        help="share of training cells faded to 0.12-0.5 of their contrast before the noise; "
        "0 in the shipped recipe",
    )
    parser.add_argument(
        "--strokes",
        type=float,
        default=0.0,
        help="share of counter strips with a marker pen's lines or handwriting across the "
        "drums, the digits labelled as printed (digit_strips._pen_strokes); 0 in the shipped "
        "recipe",
    )
    parser.add_argument(
        "--rolling",
        type=float,
        default=0.2,
        help="share of rendered drums caught between two digits; 0.2 in the shipped recipe",
    )
    args = parser.parse_args()
    if importlib.util.find_spec("onnx") is None:  # the export at the end needs it
        parser.error("onnx is not installed: pip install -e '.[train]'")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    torch.set_num_threads(args.jobs)
    with tempfile.TemporaryDirectory(prefix="meter-digits-") as tmp:
        digits_dir = extract_corpus(args.corpus, Path(tmp))
        cells, targets = dataset(args, digits_dir)
    held = np.random.default_rng(args.seed).random(len(cells)) < 0.03
    taught = distilled(cells, targets, args.teacher, args.teacher_weight)
    if args.init:
        before = evaluate(from_onnx(args.init).eval(), cells[held], targets[held])
        log.info("held-out cell accuracy of %s: %.4f", args.init.name, before)
    net = train(cells[~held], taught[~held], args)
    log.info("held-out cell accuracy %.4f", evaluate(net, cells[held], targets[held]))
    args.out.mkdir(parents=True, exist_ok=True)
    torch.onnx.export(
        net,
        (torch.zeros(1, 1, INPUT_H, INPUT_W),),
        str(args.out / args.name),
        input_names=["x"],
        output_names=["logits"],
        dynamic_axes={"x": {0: "n"}, "logits": {0: "n"}},
        opset_version=13,
        dynamo=False,
    )
    log.info("wrote %s", args.out / args.name)
    from split_digits import split  # beside this script: the reader's faster path

    split(args.out / args.name)


if __name__ == "__main__":
    main()
