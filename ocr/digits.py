"""The digit model: a small CNN (trained by scripts/train_digits.py) run through OpenCV's DNN.

Input: gray digit cells; output per cell: probabilities for 0-9 and class 10 "no digit". A rolling
drum comes out as two neighbouring digits sharing the probability.
"""

from __future__ import annotations

import threading
from pathlib import Path

import cv2
import numpy as np

INPUT_H, INPUT_W = 40, 24
NO_DIGIT = 10
MODEL_PATH = Path(__file__).parent / "models" / "digits.onnx"
# models that read the likeliest reads again: cells cut looser and a hand-drawn flagged "1"
# (scripts/train_digits.py --jitter --flagged-ones 0.3 --seed 41 --name digits_second.onnx); its
# mistakes differ, so combining it with the first corrects some of them. Each path added here
# adds an opinion with an equal say (third and fourth models measured: docs/ocr.md)
SECOND_OPINION_PATHS = (MODEL_PATH.with_name("digits_second.onnx"),)
# OpenCV 5.0's new DNN engine runs this small net at half the speed of its classic one; 5.1
# dropped the classic engine, and its new one runs the net ~15 % faster than 5.0's classic
DNN_ENGINE = getattr(cv2.dnn, "ENGINE_CLASSIC", cv2.dnn.ENGINE_AUTO)
# cells per forward pass: on one core 4-8 cells run at 0.205 ms each, 32 at 0.225 ms, 1,000 at
# 0.36 ms (the activations of a big batch no longer fit the caches); the outputs are the same
BATCH = 8


def normalise(cell: np.ndarray) -> np.ndarray:
    """Gray uint8 cell of INPUT_H x INPUT_W -> zero-mean, unit-contrast float32 (as in training)."""
    x = cell.astype(np.float32)
    return (x - x.mean()) / (x.std() + 8.0)


def normalise_batch(cells: np.ndarray) -> np.ndarray:
    """`normalise` for a stack of cells (n, INPUT_H, INPUT_W) at once."""
    x = cells.astype(np.float32)
    mean = x.mean(axis=(1, 2), keepdims=True)
    return np.asarray((x - mean) / (x.std(axis=(1, 2), keepdims=True) + 8.0))


def _softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return np.asarray(e / e.sum(axis=1, keepdims=True))


class DigitModel:
    """Loads the ONNX file once; `predict` is thread-safe (one net per thread)."""

    def __init__(self, path: Path = MODEL_PATH) -> None:
        self.path = path
        self._local = threading.local()
        self._net()  # fail early if the file is missing or broken

    def _net(self) -> cv2.dnn.Net:
        net = getattr(self._local, "net", None)
        if net is None:
            net = cv2.dnn.readNetFromONNX(str(self.path), engine=DNN_ENGINE)
            self._local.net = net
        return net

    def predict(self, cells: list[np.ndarray]) -> np.ndarray:
        """Probabilities (n, 11) for gray cells of any size."""
        if not cells:
            return np.zeros((0, NO_DIGIT + 1), np.float32)
        sized = np.stack(
            [cv2.resize(c, (INPUT_W, INPUT_H), interpolation=cv2.INTER_AREA) for c in cells]
        )
        batch = normalise_batch(sized)[:, None]
        net = self._net()
        out = []
        for start in range(0, len(batch), BATCH):
            net.setInput(batch[start : start + BATCH])
            out.append(np.asarray(net.forward(), np.float32))
        return _softmax(np.concatenate(out))
