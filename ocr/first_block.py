"""A digit net's first block (3x3 convolution of the one gray channel, ReLU, 2x2 max pool) as
matrix products, and the rest of the net cut out of its ONNX file for OpenCV's DNN.

OpenCV's DNN spends about 45 % of the digit net's time on that first convolution (a single input
channel fills its channel blocks poorly); as one (channels x 9) by (9 x pixels) product per
pooling offset the block costs about a quarter of that. `DigitModel` uses the split only where
it gives the whole net's outputs to the bit on a probe batch.

The ONNX file is read and rewritten at the protobuf wire level (the onnx package is no
dependency of the product): the graph loses its first three nodes and their weights, and its
input becomes the pooled block's output.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from numpy.lib.stride_tricks import as_strided

_VARINT, _FIXED64, _BYTES, _FIXED32 = 0, 1, 2, 5
# field numbers of onnx.proto
_MODEL_GRAPH = 7
_GRAPH_NODE, _GRAPH_INITIALIZER, _GRAPH_INPUT = 1, 5, 11
_NODE_INPUT, _NODE_OUTPUT, _NODE_OP_TYPE, _NODE_ATTRIBUTE = 1, 2, 4, 5
_ATTR_NAME, _ATTR_I, _ATTR_INTS = 1, 3, 8
_TENSOR_DIMS, _TENSOR_DATA_TYPE, _TENSOR_FLOAT_DATA, _TENSOR_NAME, _TENSOR_RAW_DATA = 1, 2, 4, 8, 9
_VALUE_NAME, _VALUE_TYPE = 1, 2
_TYPE_TENSOR, _TENSOR_ELEM_TYPE, _TENSOR_SHAPE, _SHAPE_DIM = 1, 1, 2, 1
_DIM_VALUE, _DIM_PARAM = 1, 2
_FLOAT = 1  # TensorProto.FLOAT
# cells per matrix product: OpenBLAS spreads larger products over threads, which on one busy
# core costs several times the CPU time (at 24 cells 3-5 times)
CELLS_PER_PRODUCT = 8

# the first block's attributes as the digit nets have them (absent ones take these defaults)
_CONV = {"kernel_shape": [3, 3], "pads": [1, 1, 1, 1], "strides": [1, 1], "dilations": [1, 1]}
_CONV_DEFAULTS = {"group": 1, "strides": [1, 1], "dilations": [1, 1], "pads": [0, 0, 0, 0]}
_POOL = {"kernel_shape": [2, 2], "strides": [2, 2], "pads": [0, 0, 0, 0], "ceil_mode": 0}
_POOL_DEFAULTS = {"strides": [1, 1], "pads": [0, 0, 0, 0], "ceil_mode": 0, "dilations": [1, 1]}


class Field(NamedTuple):
    number: int
    wire: int
    value: int | bytes  # a varint's value, else the field's bytes
    raw: bytes  # the whole field as written (key included)


def fields(buf: bytes) -> list[Field]:
    """The fields of one protobuf message, in order; raises ValueError on a malformed one."""
    out, i = [], 0
    while i < len(buf):
        start = i
        key, i = _read_varint(buf, i)
        number, wire = key >> 3, key & 7
        value: int | bytes
        if wire == _VARINT:
            value, i = _read_varint(buf, i)
        elif wire == _BYTES:
            size, i = _read_varint(buf, i)
            value, i = buf[i : i + size], i + size
        elif wire in (_FIXED64, _FIXED32):
            size = 8 if wire == _FIXED64 else 4
            value, i = buf[i : i + size], i + size
        else:
            raise ValueError(f"protobuf wire type {wire} not supported")
        if i > len(buf):
            raise ValueError("protobuf message cut short")
        out.append(Field(number, wire, value, buf[start:i]))
    return out


def _read_varint(buf: bytes, i: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if i >= len(buf) or shift > 63:
            raise ValueError("protobuf varint cut short")
        byte = buf[i]
        value |= (byte & 0x7F) << shift
        i, shift = i + 1, shift + 7
        if byte < 0x80:
            return value, i


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _bytes_field(number: int, payload: bytes) -> bytes:
    return _varint(number << 3 | _BYTES) + _varint(len(payload)) + payload


def _varint_field(number: int, value: int) -> bytes:
    return _varint(number << 3 | _VARINT) + _varint(value)


def _strings(message: bytes, number: int) -> list[str]:
    return [bytes(f.value).decode() for f in fields(message) if f.number == number]


def _ints(message: bytes, number: int) -> list[int]:
    """A repeated int64 field, packed or not (negative values do not occur here)."""
    out: list[int] = []
    for f in fields(message):
        if f.number != number:
            continue
        if isinstance(f.value, int):
            out.append(f.value)
            continue
        i = 0
        while i < len(f.value):
            value, i = _read_varint(f.value, i)
            out.append(value)
    return out


def _attributes(node: bytes) -> dict[str, int | list[int]]:
    out: dict[str, int | list[int]] = {}
    for f in fields(node):
        if f.number == _NODE_ATTRIBUTE and isinstance(f.value, bytes):
            (name,) = _strings(f.value, _ATTR_NAME)
            single = _ints(f.value, _ATTR_I)
            out[name] = single[0] if single else _ints(f.value, _ATTR_INTS)
    return out


def _matches(node: bytes, wanted: Mapping[str, object], defaults: Mapping[str, object]) -> bool:
    attributes = {**defaults, **_attributes(node)}
    return all(attributes.get(name) == value for name, value in wanted.items())


def _tensor(message: bytes) -> tuple[str, np.ndarray]:
    """An initializer's name and values (float32 only)."""
    (name,) = _strings(message, _TENSOR_NAME)
    dims = _ints(message, _TENSOR_DIMS)
    kinds = [f.value for f in fields(message) if f.number == _TENSOR_DATA_TYPE]
    if kinds != [_FLOAT]:
        raise ValueError(f"{name}: not a float tensor")
    raw = [bytes(f.value) for f in fields(message) if f.number == _TENSOR_RAW_DATA]
    floats = [bytes(f.value) for f in fields(message) if f.number == _TENSOR_FLOAT_DATA]
    data = raw[0] if raw else b"".join(floats)
    values = np.frombuffer(data, "<f4").astype(np.float32)
    return name, values.reshape(dims)


def _input(name: str, dims: list[int | str]) -> bytes:
    """A graph input (ValueInfoProto) of float32 values of shape `dims` (str: a named dim)."""
    shape = b"".join(
        _bytes_field(
            _SHAPE_DIM,
            _bytes_field(_DIM_PARAM, d.encode())
            if isinstance(d, str)
            else _varint_field(_DIM_VALUE, d),
        )
        for d in dims
    )
    tensor = _varint_field(_TENSOR_ELEM_TYPE, _FLOAT) + _bytes_field(_TENSOR_SHAPE, shape)
    return _bytes_field(_VALUE_NAME, name.encode()) + _bytes_field(
        _VALUE_TYPE, _bytes_field(_TYPE_TENSOR, tensor)
    )


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


def split(model: bytes, input_h: int, input_w: int) -> Split | None:
    """The net's first block and the ONNX model of the rest, or None where the net does not
    start with a 3x3 convolution (padding 1, one input channel), a ReLU and a 2x2 max pool.
    Raises ValueError on a file that is no readable ONNX model."""
    top = fields(model)
    graphs = [f for f in top if f.number == _MODEL_GRAPH]
    if len(graphs) != 1 or input_h % 2 or input_w % 2:
        return None
    graph = fields(bytes(graphs[0].value))
    nodes = [bytes(f.value) for f in graph if f.number == _GRAPH_NODE]
    inputs = [f for f in graph if f.number == _GRAPH_INPUT]
    if len(nodes) < 4 or len(inputs) < 1:
        return None
    conv, relu, pool = nodes[:3]
    kinds = [_strings(n, _NODE_OP_TYPE) for n in (conv, relu, pool)]
    conv_in, relu_in, pool_in = (_strings(n, _NODE_INPUT) for n in (conv, relu, pool))
    outs = [_strings(n, _NODE_OUTPUT) for n in (conv, relu, pool)]
    image = _strings(bytes(inputs[0].value), _VALUE_NAME)
    chained = (
        kinds == [["Conv"], ["Relu"], ["MaxPool"]]
        and len(conv_in) == 3
        and [conv_in[0]] == image
        and relu_in == outs[0]
        and pool_in == outs[1]
        and len(outs[2]) == 1
        and _matches(conv, _CONV, _CONV_DEFAULTS)
        and _matches(pool, _POOL, _POOL_DEFAULTS)
    )
    if not chained:
        return None
    blocked = set(conv_in[1:])
    initializers = {
        _strings(bytes(f.value), _TENSOR_NAME)[0]: bytes(f.value)
        for f in graph
        if f.number == _GRAPH_INITIALIZER
    }
    if not blocked <= initializers.keys():
        return None
    (_, w), (_, b) = (_tensor(initializers[name]) for name in conv_in[1:])
    later = {name for n in nodes[3:] for name in _strings(n, _NODE_INPUT)}
    if w.shape[1:] != (1, 3, 3) or b.shape != w.shape[:1]:
        return None
    if later & (blocked | {image[0], *outs[0], *outs[1]}):
        return None  # the rest of the net reads more than the pooled block
    (pooled,) = outs[2]
    channels = int(w.shape[0])
    new_input = _input(pooled, ["n", channels, input_h // 2, input_w // 2])
    kept = []
    for f in graph:
        if f.number == _GRAPH_NODE and bytes(f.value) in (conv, relu, pool):
            continue
        if f.number == _GRAPH_INITIALIZER and _strings(bytes(f.value), _TENSOR_NAME)[0] in blocked:
            continue
        kept.append(_bytes_field(_GRAPH_INPUT, new_input) if f is inputs[0] else f.raw)
    rest = b"".join(
        _bytes_field(_MODEL_GRAPH, b"".join(kept)) if f is graphs[0] else f.raw for f in top
    )
    block = FirstBlock(w.reshape(channels, 9).copy(), b.reshape(channels, 1).copy())
    return Split(block, rest, pooled)
