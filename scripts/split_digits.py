"""Write each digit net's faster forms of its first block, for the reader (`ocr/first_block.py`).

Writes beside `ocr/models/NAME.onnx`:
- `NAME.first.npz`: the first convolution's weights (channels x 9) and bias, and the name of the
  pooled block's output;
- `NAME.tail.onnx`: the rest of the net, fed that output;
- `NAME.taps.onnx`: the whole net with its first convolution as a 1x1 convolution over the nine
  pixels under the 3x3 kernel (`first_block.pixel_taps`), fed as nine channels.
`ocr/digits.py` runs a form only where it gives the whole net's outputs to the bit (checked at
load), so a form left over from an earlier net costs speed, never a read. Run after training a
net (needs the `train` extra: onnx):
    .venv/bin/python scripts/split_digits.py [ocr/models/digits.onnx ...]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import onnx
import onnx.utils
from onnx import helper, numpy_helper

MODELS = Path(__file__).resolve().parent.parent / "ocr" / "models"
SHIPPED = (MODELS / "digits.onnx", MODELS / "digits_second.onnx")
# the first block the faster path computes: conv 3x3 (pad 1, stride 1) of one channel, ReLU,
# max pool 2x2 (stride 2)
CONV = {"kernel_shape": [3, 3], "pads": [1, 1, 1, 1], "strides": [1, 1], "group": 1}
POOL = {"kernel_shape": [2, 2], "strides": [2, 2], "pads": [0, 0, 0, 0], "ceil_mode": 0}


def split(path: Path) -> None:
    model = onnx.load(str(path))
    graph = model.graph
    conv, relu, pool = graph.node[:3]
    if [n.op_type for n in (conv, relu, pool)] != ["Conv", "Relu", "MaxPool"]:
        raise SystemExit(f"{path.name}: does not start with Conv, Relu, MaxPool")
    for node, wanted in ((conv, CONV), (pool, POOL)):
        attributes = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        wrong = {k: v for k, v in wanted.items() if k in attributes and attributes[k] != v}
        if wrong:
            raise SystemExit(f"{path.name}: {node.op_type} has {wrong}, not {wanted}")
    initializers = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    weights, bias = (initializers[name] for name in conv.input[1:3])
    if weights.shape[1:] != (1, 3, 3):
        raise SystemExit(f"{path.name}: first convolution is {weights.shape}, not (c, 1, 3, 3)")
    pooled = pool.output[0]
    np.savez(
        path.with_suffix(".first.npz"),
        weights=weights.reshape(len(weights), 9).astype(np.float32),
        bias=bias.reshape(len(bias), 1).astype(np.float32),
        input=np.array(pooled),
    )
    inferred = path.with_suffix(".inferred.onnx")
    onnx.save(onnx.shape_inference.infer_shapes(model), str(inferred))
    try:
        outputs = [o.name for o in graph.output]
        onnx.utils.extract_model(
            str(inferred), str(path.with_suffix(".tail.onnx")), [pooled], outputs
        )
    finally:
        inferred.unlink()
    write_taps(model, conv, path.with_suffix(".taps.onnx"))
    print(f"{path.name}: first block {weights.shape} -> {pooled}, tail and taps written")


def write_taps(model: onnx.ModelProto, conv: onnx.NodeProto, path: Path) -> None:
    """`model` with its first convolution (c, 1, 3, 3) as (c, 9, 1, 1) over the pixel taps."""
    taps = onnx.ModelProto()
    taps.CopyFrom(model)
    graph = taps.graph
    first = graph.node[0]
    assert first.output == conv.output
    (weights,) = (t for t in graph.initializer if t.name == first.input[1])
    array = numpy_helper.to_array(weights)
    weights.CopyFrom(
        numpy_helper.from_array(array.reshape(len(array), 9, 1, 1).astype(np.float32), weights.name)
    )
    kept = [a for a in first.attribute if a.name not in ("kernel_shape", "pads")]
    del first.attribute[:]
    first.attribute.extend(
        [
            *kept,
            helper.make_attribute("kernel_shape", [1, 1]),
            helper.make_attribute("pads", [0, 0, 0, 0]),
        ]
    )
    (given,) = (i for i in graph.input if i.name == first.input[0])
    given.type.tensor_type.shape.dim[1].dim_value = 9
    onnx.checker.check_model(taps)
    onnx.save(taps, str(path))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="*", type=Path, default=list(SHIPPED))
    for path in parser.parse_args(argv).models:
        split(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
