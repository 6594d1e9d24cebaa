"""A digit net's first block (3x3 convolution of the one gray channel, ReLU, 2x2 max pool) as
matrix products, and the rest of the net as its own ONNX file for OpenCV's DNN.

OpenCV's DNN spends about 45 % of the digit net's time on that first convolution (a single input
channel fills its channel blocks poorly); as one (channels x 9) by (9 x pixels) product per
pooling offset the block costs about a quarter of that. `scripts/split_digits.py` writes the
block's weights (`NAME.first.npz`) and the rest of the net (`NAME.tail.onnx`) beside each net;
`DigitModel` uses them only where they give the whole net's outputs to the bit on a probe batch.
"""

from __future__ import annotations

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


class Split(NamedTuple):
    block: FirstBlock
    tail: bytes  # the ONNX model of the rest of the net, fed the block's output
    tail_input: str


def load_split(path: Path) -> Split | None:
    """The first block and the rest of the net at `path` as `scripts/split_digits.py` wrote them
    beside it, or None where they are missing."""
    first, rest = path.with_suffix(".first.npz"), path.with_suffix(".tail.onnx")
    if not (first.is_file() and rest.is_file()):
        return None
    with np.load(first) as saved:
        block = FirstBlock(saved["weights"].astype(np.float32), saved["bias"].astype(np.float32))
        name = str(saved["input"])
    return Split(block, rest.read_bytes(), name)
