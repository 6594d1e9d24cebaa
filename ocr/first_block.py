"""Faster forms of a digit net's first block (3x3 convolution of the one gray channel, ReLU, 2x2
max pool) for OpenCV's DNN, which spends much of the net's time on that convolution (a single
input channel fills its channel blocks of eight poorly).

- The split: the block as matrix products, one (channels x 9) by (9 x pixels) product per pooling
  offset (about a quarter of the DNN's time for it), the rest of the net as its own ONNX file
  (`NAME.first.npz`, `NAME.tail.onnx`). Its floats are those of OpenCV 5.0's classic engine.
- The taps: the net with its first convolution turned into a 1x1 convolution over the nine pixels
  under the 3x3 kernel, handed to it as nine channels (`pixel_taps`, `NAME.taps.onnx`): the
  same products summed in the same order by the same DNN, on two channel blocks instead of nine
  kernel positions of one (about 0.12 ms a cell against 0.17 ms on OpenCV 5.1).

`scripts/split_digits.py` writes both beside each net; `DigitModel` runs a form only where it
gives the whole net's outputs to the bit on a probe batch.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
from numpy.lib.stride_tricks import as_strided

# cells per matrix product: OpenBLAS spreads larger products over threads, which on one busy
# core costs several times the CPU time (at 24 cells 3-5 times)
CELLS_PER_PRODUCT = 8


@dataclass(frozen=True)
class FirstBlock:
    """relu(maxpool2x2(conv3x3(x, weights, pad 1) + bias)) for cells x (n, 1, h, w), h and w
    even: per pooling offset one product of the (c, 9) weights with the (9, n*h*w/4) pixels
    under the kernel (OpenCV's order of operations for this convolution), the bias added to
    the pooled maximum."""

    weights: np.ndarray  # (c, 9) float32
    bias: np.ndarray  # (c, 1) float32

    def __call__(self, x: np.ndarray) -> np.ndarray:
        n, _, h, w = x.shape
        if n > CELLS_PER_PRODUCT:
            parts = range(0, n, CELLS_PER_PRODUCT)
            return np.concatenate([self(x[i : i + CELLS_PER_PRODUCT]) for i in parts])
        padded = np.zeros((n, h + 2, w + 2), np.float32)
        padded[:, 1:-1, 1:-1] = x[:, 0]
        # under[oy, ox, ky, kx, cell, i, j] = padded[cell, 2i + oy + ky, 2j + ox + kx]
        _, down, right = padded.strides
        under = as_strided(
            padded,
            (2, 2, 3, 3, n, h // 2, w // 2),
            (down, right, down, right, padded.strides[0], 2 * down, 2 * right),
            writeable=False,
        )
        products = np.matmul(self.weights, np.ascontiguousarray(under).reshape(4, 9, -1))
        # adding the bias after the pooling gives the same floats (rounding is monotonic)
        pooled = products.max(axis=0)
        pooled += self.bias
        np.maximum(pooled, 0, out=pooled)
        c = len(self.weights)
        return np.ascontiguousarray(pooled.reshape(c, n, h // 2, w // 2).transpose(1, 0, 2, 3))


def pixel_taps(x: np.ndarray) -> np.ndarray:
    """Cells x (n, 1, h, w) -> (n, 9, h, w): per pixel the nine pixels under a 3x3 kernel
    (padded with zeros), row by row, as channels: the input of a net's taps form."""
    n, _, h, w = x.shape
    padded = np.zeros((n, h + 2, w + 2), np.float32)
    padded[:, 1:-1, 1:-1] = x[:, 0]
    cell, down, right = padded.strides
    under = as_strided(padded, (n, 3, 3, h, w), (cell, down, right, down, right), writeable=False)
    return np.ascontiguousarray(under).reshape(n, 9, h, w)


class Form(NamedTuple):
    """A digit net run another way: `prepare` turns the net's input (n, 1, h, w) into the input
    of `net` (an ONNX model), which gives the whole net's outputs under their names."""

    prepare: Callable[[np.ndarray], np.ndarray]
    net: bytes
    prepared: str | None  # the whole net's tensor `prepare` gives (the split's pooled block)


def load_split(path: Path) -> Form | None:
    """The first block and the rest of the net at `path` as `scripts/split_digits.py` wrote them
    beside it, or None where they are missing."""
    first, rest = path.with_suffix(".first.npz"), path.with_suffix(".tail.onnx")
    if not (first.is_file() and rest.is_file()):
        return None
    with np.load(first) as saved:
        block = FirstBlock(saved["weights"].astype(np.float32), saved["bias"].astype(np.float32))
        name = str(saved["input"])
    return Form(block, rest.read_bytes(), name)


def load_taps(path: Path) -> Form | None:
    """The net at `path` with its first convolution over `pixel_taps`, as
    `scripts/split_digits.py` wrote it beside it, or None where it is missing."""
    taps = path.with_suffix(".taps.onnx")
    return Form(pixel_taps, taps.read_bytes(), None) if taps.is_file() else None
