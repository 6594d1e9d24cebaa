"""The resident Tesseract helper: same answers as the program, and every way it can fail."""

from __future__ import annotations

import logging
import shutil
import sys
from collections.abc import Iterator, Sequence

import cv2
import numpy as np
import pytest

from ocr.tesseract import ResidentRunner, RunResult, Tesseract, TesseractFailed, subprocess_runner
from ocr.tesseract_server import BadRequest, parse_argv

needs_tesseract = pytest.mark.skipif(
    shutil.which("tesseract") is None, reason="tesseract not installed"
)
READY_THEN = "import sys, time; sys.stdout.buffer.write(b'READY'); sys.stdout.flush(); "


def _text_image(text: str) -> np.ndarray:
    img = np.full((60, 40 + 26 * len(text)), 255, np.uint8)
    cv2.putText(img, text, (10, 45), cv2.FONT_HERSHEY_SIMPLEX, 1.2, 0, 2)
    return img


def _png(image: np.ndarray) -> bytes:
    return bytes(cv2.imencode(".png", image)[1])


class RecordingFallback:
    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def __call__(self, argv: Sequence[str], stdin: bytes, timeout: float) -> RunResult:
        self.calls.append(list(argv))
        return RunResult(0, b"from the program", b"")


@pytest.fixture
def resident() -> Iterator[ResidentRunner]:
    runner = ResidentRunner()
    yield runner
    runner.close()


@needs_tesseract
def test_helper_answers_as_the_program_does(resident: ResidentRunner) -> None:
    image = _text_image("Nr 20471138")
    by_helper = Tesseract(runner=resident).words(image, psm=7)
    by_program = Tesseract(runner=subprocess_runner).words(image, psm=7)
    assert [w.text for w in by_helper] == [w.text for w in by_program] == ["Nr", "20471138"]
    assert [w.box for w in by_helper] == [w.box for w in by_program]


@needs_tesseract
def test_helper_stays_loaded_and_resets_the_whitelist(resident: ResidentRunner) -> None:
    tess = Tesseract(runner=resident)
    digits_only = tess.words(_text_image("AB 4711"), psm=7, whitelist="0123456789")
    helper = resident._helper
    plain = tess.words(_text_image("AB 4711"), psm=7)
    assert resident._helper is helper is not None
    assert all(w.text.isdigit() for w in digits_only)
    assert "AB" in [w.text for w in plain]


@needs_tesseract
def test_a_corrupt_image_is_a_failed_call_and_the_helper_lives_on(
    resident: ResidentRunner,
) -> None:
    tess = Tesseract(runner=resident)
    tess.probe()
    argv = ["tesseract", "stdin", "stdout", "--psm", "7", "tsv"]
    broken = resident(argv, b"\x89PNG\r\n\x1a\n broken", 10.0)
    assert broken.returncode == 1
    assert b"Error" in broken.stderr or b"cannot" in broken.stderr.lower()
    assert "4711" in [w.text for w in tess.words(_text_image("4711"), psm=7)]


def test_a_helper_past_its_timeout_is_killed_and_replaced() -> None:
    command = [sys.executable, "-c", READY_THEN + "time.sleep(60)"]
    runner = ResidentRunner(command=command, fallback=RecordingFallback())
    argv = ["tesseract", "stdin", "stdout", "tsv"]
    with pytest.raises(TimeoutError, match=r"within 0\.5 s"):
        runner(argv, b"png", 0.5)
    assert runner._helper is None
    with pytest.raises(TimeoutError):
        runner(argv, b"png", 0.5)
    runner.close()


def test_a_helper_that_dies_answers_like_a_crashed_program() -> None:
    command = [sys.executable, "-c", READY_THEN + "sys.stdin.buffer.read(8); sys.exit(3)"]
    tess = Tesseract(runner=ResidentRunner(command=command, fallback=RecordingFallback()))
    tess._probed = True
    with pytest.raises(TesseractFailed) as info:
        tess.words(_text_image("123"))
    assert info.value.reason == "tesseract_crashed"
    assert "died (exit 3)" in str(info.value)


def test_a_helper_that_cannot_start_leaves_the_work_to_the_program(
    caplog: pytest.LogCaptureFixture,
) -> None:
    fallback = RecordingFallback()
    command = [sys.executable, "-c", "raise SystemExit(2)"]
    runner = ResidentRunner(command=command, fallback=fallback)
    argv = ["tesseract", "stdin", "stdout", "tsv"]
    with caplog.at_level(logging.WARNING):
        first = runner(argv, b"png", 5.0)
        second = runner(argv, b"png", 5.0)
    assert first.stdout == second.stdout == b"from the program"
    assert len(fallback.calls) == 2
    assert not runner.available
    assert sum("did not start" in r.message for r in caplog.records) == 1


def test_calls_other_than_recognition_go_to_the_program() -> None:
    fallback = RecordingFallback()
    command = [sys.executable, "-c", "raise SystemExit(9)"]
    runner = ResidentRunner(command=command, fallback=fallback)
    runner(["tesseract", "--list-langs"], b"", 5.0)
    assert fallback.calls == [["tesseract", "--list-langs"]]
    assert runner.available


def test_helper_refuses_options_it_does_not_know() -> None:
    request = parse_argv(
        ["stdin", "stdout", "-l", "deu", "--psm", "6", "--dpi", "300", "-c", "a=b=c", "tsv"]
    )
    assert (request.lang, request.psm, request.dpi, request.variables) == (
        "deu",
        6,
        300,
        {"a": "b=c"},
    )
    for bad in (
        ["stdin", "stdout", "--oem", "0", "tsv"],
        ["stdin", "stdout", "--psm", "tsv"],
        ["in.png", "stdout", "tsv"],
        ["stdin", "stdout", "txt"],
    ):
        with pytest.raises(BadRequest):
            parse_argv(bad)
