"""The digit nets' faster forms (`ocr/first_block.py`) give the whole nets' outputs to the bit,
and a form that does not is not used."""

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

FORM_FILES = (".first.npz", ".tail.onnx", ".taps.onnx")


def _whole_net(path, cells: np.ndarray, output: str | None = None) -> np.ndarray:
    net = cv2.dnn.readNetFromONNX(str(path), engine=digits.DNN_ENGINE)
    net.setInput(cells)
    return np.asarray(net.forward(output) if output else net.forward())


def _cells(count: int) -> list[np.ndarray]:
    return [
        cv2.cvtColor(render_digit_cell(d % 10, kind="drum", seed=d), cv2.COLOR_BGR2GRAY)
        for d in range(count)
    ]


@pytest.mark.parametrize("path", [MODEL_PATH, *SECOND_OPINION_PATHS])
def test_the_shipped_nets_run_in_a_form_that_gives_the_whole_nets_outputs_to_the_bit(path) -> None:
    model = DigitModel(path)
    assert model._form is not None  # the shipped nets have a form exact on this OpenCV
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


def test_the_pixel_taps_are_the_pixels_under_the_kernel_row_by_row() -> None:
    x = np.arange(2 * 4 * 6, dtype=np.float32).reshape(2, 1, 4, 6)
    taps = first_block.pixel_taps(x)
    assert taps.shape == (2, 9, 4, 6)
    padded = np.pad(x[:, 0], ((0, 0), (1, 1), (1, 1)))
    for k in range(9):
        dy, dx = divmod(k, 3)
        assert np.array_equal(taps[:, k], padded[:, dy : dy + 4, dx : dx + 6])


def test_a_net_without_its_forms_or_with_another_nets_runs_whole(tmp_path: Path) -> None:
    alone = tmp_path / "digits.onnx"
    shutil.copy(MODEL_PATH, alone)
    assert DigitModel(alone)._form is None
    cells = _cells(5)
    assert np.array_equal(DigitModel(alone).predict(cells), DigitModel(MODEL_PATH).predict(cells))
    # forms left over from another net (here the second opinion's) are not used
    (other,) = SECOND_OPINION_PATHS
    for suffix in FORM_FILES:
        shutil.copy(other.with_suffix(suffix), alone.with_suffix(suffix))
    assert DigitModel(alone)._form is None


def test_a_form_that_differs_from_the_whole_net_in_the_last_bit_is_not_used() -> None:
    net = cv2.dnn.readNetFromONNX(str(MODEL_PATH), engine=digits.DNN_ENGINE)
    penultimate = DigitModel(MODEL_PATH)._penultimate
    taps = first_block.load_taps(MODEL_PATH)
    assert taps is not None
    assert digits.exact(taps, net, penultimate)

    def one_ulp_off(x: np.ndarray) -> np.ndarray:
        prepared = first_block.pixel_taps(x)
        prepared[:, 4] = np.nextafter(prepared[:, 4], np.float32(np.inf))
        return prepared

    assert not digits.exact(taps._replace(prepare=one_ulp_off), net, penultimate)
    split = first_block.load_split(MODEL_PATH)
    assert split is not None
    block = split.prepare
    assert isinstance(block, first_block.FirstBlock)
    weights = np.nextafter(block.weights, np.float32(np.inf))
    off = split._replace(prepare=first_block.FirstBlock(weights, block.bias))
    assert not digits.exact(off, net, penultimate)
