"""The digit nets split after their first block give the whole nets' outputs to the bit."""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from ocr import digits, first_block
from ocr.digits import (
    INPUT_H,
    INPUT_W,
    MODEL_PATH,
    SECOND_OPINION_PATHS,
    DigitModel,
    normalise_batch,
)
from ocr.synth import render_digit_cell


def _whole_net(path, cells: np.ndarray, output: str | None = None) -> np.ndarray:
    net = cv2.dnn.readNetFromONNX(str(path))
    net.setInput(cells)
    return np.asarray(net.forward(output) if output else net.forward())


def _cells(count: int) -> list[np.ndarray]:
    return [
        cv2.cvtColor(render_digit_cell(d % 10, kind="drum", seed=d), cv2.COLOR_BGR2GRAY)
        for d in range(count)
    ]


@pytest.mark.parametrize("path", [MODEL_PATH, *SECOND_OPINION_PATHS])
def test_the_split_net_gives_the_whole_nets_outputs_to_the_bit(path) -> None:
    model = DigitModel(path)
    assert model._split is not None  # the shipped nets are run split
    cells = _cells(19)  # two full batches and a partial one
    sized = np.stack(
        [cv2.resize(c, (INPUT_W, INPUT_H), interpolation=cv2.INTER_AREA) for c in cells]
    )
    batch = normalise_batch(sized)[:, None]
    whole = np.concatenate([_whole_net(path, batch[i : i + 8]) for i in range(0, len(batch), 8)])
    logits = model._forward(cells, None)
    assert np.array_equal(logits, whole)
    features = model.features(cells)
    penultimate = model._penultimate
    expected = np.concatenate(
        [_whole_net(path, batch[i : i + 8], penultimate) for i in range(0, len(batch), 8)]
    )
    assert np.array_equal(features, expected.reshape(len(cells), -1))


def test_the_first_block_is_the_nets_pooled_first_layer_for_any_number_of_cells() -> None:
    found = first_block.load_split(MODEL_PATH)
    assert found is not None
    x = np.random.default_rng(3).normal(size=(21, 1, INPUT_H, INPUT_W)).astype(np.float32)
    pooled = found.block(x)
    assert pooled.shape == (21, len(found.block.weights), INPUT_H // 2, INPUT_W // 2)
    assert np.array_equal(pooled[:5], found.block(x[:5]))
    expected = _whole_net(MODEL_PATH, x[:8], found.tail_input)
    assert np.array_equal(pooled[:8], expected)


def test_a_net_without_its_split_or_with_another_nets_runs_whole(tmp_path: Path) -> None:
    alone = tmp_path / "digits.onnx"
    shutil.copy(MODEL_PATH, alone)
    assert DigitModel(alone)._split is None
    cells = _cells(5)
    assert np.array_equal(DigitModel(alone).predict(cells), DigitModel(MODEL_PATH).predict(cells))
    # a split left over from another net (here the second opinion's) is not used
    (other,) = SECOND_OPINION_PATHS
    for suffix in (".first.npz", ".tail.onnx"):
        shutil.copy(other.with_suffix(suffix), alone.with_suffix(suffix))
    assert DigitModel(alone)._split is None


def test_a_split_that_differs_from_the_whole_net_in_the_last_bit_is_not_used() -> None:
    found = first_block.load_split(MODEL_PATH)
    assert found is not None
    net = cv2.dnn.readNetFromONNX(str(MODEL_PATH))
    penultimate = DigitModel(MODEL_PATH)._penultimate
    assert digits.exact(found, net, penultimate)
    weights = np.nextafter(found.block.weights, np.float32(np.inf))  # one ulp off
    off = found._replace(block=first_block.FirstBlock(weights, found.block.bias))
    assert not digits.exact(off, net, penultimate)
