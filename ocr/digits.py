"""The digit model: a small CNN (trained by scripts/train_digits.py) run through OpenCV's DNN,
its first block in a faster form where that gives the same floats (`ocr/first_block.py`).

Input: gray digit cells; output per cell: probabilities for 0-9 and class 10 "no digit". A rolling
drum comes out as two neighbouring digits sharing the probability.
"""

from __future__ import annotations

import logging
import re
import threading
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ocr.first_block import Form, load_split, load_taps

log = logging.getLogger(__name__)

INPUT_H, INPUT_W = 40, 24
NO_DIGIT = 10
MODEL_PATH = Path(__file__).parent / "models" / "digits.onnx"
# models that read the likeliest reads again: cells cut looser and a hand-drawn flagged "1"
# (scripts/train_digits.py --jitter --flagged-ones 0.3 --seed 41 --name digits_second.onnx); its
# mistakes differ, so combining it with the first corrects some of them. Each path added here
# adds an opinion with an equal say
SECOND_OPINION_PATHS = (MODEL_PATH.with_name("digits_second.onnx"),)
# OpenCV 5.0's new DNN engine runs this small net at half the speed of its classic one; 5.1
# dropped the classic engine, and its new one runs the net ~15 % faster than 5.0's classic
DNN_ENGINE = getattr(cv2.dnn, "ENGINE_CLASSIC", cv2.dnn.ENGINE_AUTO)
# cells per forward pass: on one core (OpenCV 5.1) the taps form (`ocr/first_block.py`) runs
# 4-32 cells at about 0.12 ms each, 1 at 0.13 ms, 96 at 0.14 ms; the whole net 8-32 cells at
# 0.17 ms (on OpenCV 5.0 the split ran 6-16 cells at 0.15 ms, the whole net 1,000 at 0.36 ms:
# the activations of a big batch no longer fit the caches); the outputs are the same
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


@dataclass(frozen=True)
class Head:
    """The net's last layer (penultimate features -> 11 logits): `weights` (11, k), `bias` (11,).
    A site model replaces the shipped one (`ocr/site_model.py`)."""

    weights: np.ndarray
    bias: np.ndarray

    def logits(self, features: np.ndarray) -> np.ndarray:
        return np.asarray(features @ self.weights.T + self.bias, np.float32)


class DigitModel:
    """Loads the ONNX file once; `predict` is thread-safe (one net per thread). With a `head`
    the net runs up to its penultimate layer and the head gives the logits."""

    def __init__(self, path: Path = MODEL_PATH, *, head: Head | None = None) -> None:
        self.path = path
        self.head = head
        self._local = threading.local()
        net = self._net()
        self._penultimate, self.shipped_head = _last_layer(net)
        self._form = _exact_form(path, net, self._penultimate)
        if head is not None and head.weights.shape != self.shipped_head.weights.shape:
            raise ValueError(f"head {head.weights.shape} does not fit {path.name}")

    def _net(self) -> cv2.dnn.Net:
        net = getattr(self._local, "net", None)
        if net is None:
            net = cv2.dnn.readNetFromONNX(str(self.path), engine=DNN_ENGINE)
            self._local.net = net
        return net

    def _form_net(self, form: Form) -> cv2.dnn.Net:
        net = getattr(self._local, "form", None)
        if net is None:
            net = _read_net(form.net)
            self._local.form = net
        return net

    def predict(self, cells: list[np.ndarray]) -> np.ndarray:
        """Probabilities (n, 11) for gray cells of any size."""
        if not cells:
            return np.zeros((0, NO_DIGIT + 1), np.float32)
        if self.head is not None:
            return _softmax(self.head.logits(self.features(cells)))
        return _softmax(self._forward(cells, None))

    def features(self, cells: list[np.ndarray]) -> np.ndarray:
        """The penultimate layer's output (n, k) for gray cells: what the head turns into
        logits, and what a site head is fitted on."""
        return self._forward(cells, self._penultimate)

    def _forward(self, cells: list[np.ndarray], output: str | None) -> np.ndarray:
        sized = np.stack(
            [cv2.resize(c, (INPUT_W, INPUT_H), interpolation=cv2.INTER_AREA) for c in cells]
        )
        batch = normalise_batch(sized)[:, None]
        form = self._form
        net = self._net() if form is None else self._form_net(form)
        out = []
        for start in range(0, len(batch), BATCH):
            chunk = batch[start : start + BATCH]
            net.setInput(chunk if form is None else form.prepare(chunk))
            out.append(np.asarray(net.forward(output) if output else net.forward(), np.float32))
        return np.concatenate(out).reshape(len(batch), -1)


def _read_net(model: bytes) -> cv2.dnn.Net:
    return cv2.dnn.readNetFromONNX(np.frombuffer(model, np.uint8), engine=DNN_ENGINE)


def _exact_form(path: Path, net: cv2.dnn.Net, penultimate: str) -> Form | None:
    """The first of the net's faster forms (`ocr/first_block.py`: the split, then the taps) that
    is `exact`; else None (the whole net is run)."""
    for load in (load_split, load_taps):
        try:
            found = load(path)
            if found is not None and exact(found, net, penultimate):
                return found
        except (OSError, ValueError, KeyError, cv2.error):
            pass
    log.info("%s runs whole: no faster form of it gives its outputs exactly here", path.name)
    return None


def exact(found: Form, net: cv2.dnn.Net, penultimate: str) -> bool:
    """Does the form give the whole net's tensor its input is prepared as (the split's pooled
    first block), penultimate layer and logits to the bit, on a probe of a full batch and a
    partial one?"""
    other = _read_net(found.net)
    probe = np.random.default_rng(1).normal(size=(BATCH + 3, 1, INPUT_H, INPUT_W))
    for chunk in np.split(probe.astype(np.float32), [BATCH]):
        prepared = found.prepare(chunk)
        for name in [*filter(None, (found.prepared, penultimate)), None]:
            net.setInput(chunk)
            whole = net.forward(name) if name else net.forward()
            if name is not None and name == found.prepared:
                rest = prepared
            else:
                other.setInput(prepared)
                rest = other.forward(name) if name else other.forward()
            if not np.array_equal(whole, rest):
                return False
    return True


def _last_layer(net: cv2.dnn.Net) -> tuple[str, Head]:
    """The name of the tensor the net's last (fully connected) layer reads, and that layer's
    weights; checked on a probe batch: the head applied to that tensor gives the net's logits."""
    last = net.getLayerNames()[-1]
    weights, bias = (np.asarray(b, np.float64) for b in net.getLayer(net.getLayerId(last)).blobs)
    head = Head(weights.reshape(NO_DIGIT + 1, -1), bias.reshape(-1))
    probe = np.random.default_rng(0).normal(size=(2, 1, INPUT_H, INPUT_W)).astype(np.float32)
    for name in (*_inputs_of(net.dump(), last), last):
        try:
            net.setInput(probe)
            features = np.asarray(net.forward(name), np.float32).reshape(len(probe), -1)
            net.setInput(probe)
            logits = np.asarray(net.forward(), np.float32)
        except cv2.error:
            continue
        if features.shape[1] == head.weights.shape[1] and np.allclose(
            head.logits(features), logits, atol=1e-3
        ):
            return name, head
    raise ValueError("the digit model's last layer is not a fully connected head")


def _inputs_of(dump: str, layer: str) -> list[str]:
    """The input tensors of `layer` in OpenCV's text dump of a net."""
    at = dump.find(f'name: "{layer}"')
    found = re.search(r"inputs: \[\s*\"([^\"]+)\"", dump[at:]) if at >= 0 else None
    return [found.group(1)] if found else []
