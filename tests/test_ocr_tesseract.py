"""The Tesseract wrapper: failures sorted into degrade / abort, through its injectable runner."""

from __future__ import annotations

import shutil
from collections.abc import Sequence

import cv2
import numpy as np
import pytest

from core.errors import ToolMissingError
from core.settings import Settings
from ocr import read_meter
from ocr.reader import OcrEngine
from ocr.synth import render_drum_meter
from ocr.tesseract import RunResult, Tesseract, TesseractFailed, parse_tsv, subprocess_runner

LANGS = RunResult(0, b"List of available languages (3):\ndeu\neng\nosd\n", b"")
TSV_HEADER = (
    "level\tpage_num\tblock_num\tpar_num\tline_num\tword_num\tleft\ttop\twidth\theight\tconf\ttext"
)


class FakeRunner:
    """Answers `--list-langs` like a healthy install, then does what the test wants."""

    def __init__(self, behaviour: RunResult | BaseException, langs: RunResult = LANGS) -> None:
        self.behaviour = behaviour
        self.langs = langs
        self.calls: list[list[str]] = []

    def __call__(self, argv: Sequence[str], stdin: bytes, timeout: float) -> RunResult:
        self.calls.append(list(argv))
        if "--list-langs" in argv:
            return self.langs
        if isinstance(self.behaviour, BaseException):
            raise self.behaviour
        return self.behaviour


def _text_image(text: str) -> np.ndarray:
    img = np.full((60, 40 + 26 * len(text)), 255, np.uint8)
    cv2.putText(img, text, (10, 45), cv2.FONT_HERSHEY_SIMPLEX, 1.2, 0, 2)
    return img


def test_timeout_degrades_with_a_reason() -> None:
    tess = Tesseract(runner=FakeRunner(TimeoutError("too slow")))
    with pytest.raises(TesseractFailed) as info:
        tess.words(_text_image("123"))
    assert info.value.reason == "tesseract_timeout"


def test_crash_degrades_and_keeps_stderr_in_the_message() -> None:
    tess = Tesseract(runner=FakeRunner(RunResult(139, b"", b"Segmentation fault")))
    with pytest.raises(TesseractFailed) as info:
        tess.words(_text_image("123"))
    assert info.value.reason == "tesseract_crashed"
    assert "Segmentation fault" in str(info.value)


def test_garbage_output_degrades() -> None:
    tess = Tesseract(runner=FakeRunner(RunResult(0, b"\x00\x01 not tsv", b"")))
    with pytest.raises(TesseractFailed) as info:
        tess.words(_text_image("123"))
    assert info.value.reason == "tesseract_garbage"


def test_missing_program_aborts() -> None:
    tess = Tesseract("no-such-tesseract", runner=FakeRunner(RunResult(0, b"", b"")))
    tess.runner = lambda argv, stdin, timeout: (_ for _ in ()).throw(FileNotFoundError(argv[0]))
    with pytest.raises(ToolMissingError, match="no-such-tesseract"):
        tess.probe()


def test_missing_language_data_aborts() -> None:
    runner = FakeRunner(RunResult(0, b"", b""), langs=RunResult(0, b"List:\nosd\n", b""))
    with pytest.raises(ToolMissingError, match="eng"):
        Tesseract(runner=runner).probe()


def test_probe_runs_once_and_words_are_parsed() -> None:
    rows = [
        TSV_HEADER,
        "5\t1\t1\t1\t1\t1\t10\t12\t80\t30\t91.5\tNr",
        "5\t1\t1\t1\t1\t2\t100\t12\t90\t30\t88\t4711",
    ]
    runner = FakeRunner(RunResult(0, "\n".join(rows).encode(), b"Estimating resolution"))
    tess = Tesseract(runner=runner)
    for _ in range(3):
        words = tess.words(_text_image("Nr 4711"), psm=7, whitelist="0123456789Nr")
    assert [w.text for w in words] == ["Nr", "4711"]
    assert words[0].confidence == pytest.approx(0.915)
    assert sum("--list-langs" in c for c in runner.calls) == 1
    assert "tessedit_char_whitelist=0123456789Nr" in runner.calls[-1]


def test_parse_tsv_skips_empty_words() -> None:
    text = TSV_HEADER + "\n1\t1\t0\t0\t0\t0\t0\t0\t100\t50\t-1\t\n"
    assert parse_tsv(text) == []


def test_real_subprocess_runner_times_out() -> None:
    sleep = shutil.which("sleep")
    if sleep is None:
        pytest.skip("no sleep binary")
    with pytest.raises(TimeoutError):
        subprocess_runner([sleep, "5"], b"", 0.2)


def test_real_subprocess_runner_limits_tesseract_to_one_thread() -> None:
    env = shutil.which("env")
    if env is None:
        pytest.skip("no env binary")
    result = subprocess_runner([env], b"", 5.0)
    assert b"OMP_THREAD_LIMIT=1" in result.stdout.splitlines()


def test_read_meter_aborts_when_tesseract_is_missing() -> None:
    def missing(argv: Sequence[str], stdin: bytes, timeout: float) -> RunResult:
        raise FileNotFoundError(argv[0])

    engine = OcrEngine(Settings(), tesseract=Tesseract(runner=missing))
    with pytest.raises(ToolMissingError):
        read_meter(render_drum_meter("00472", "315", seed=1), engine=engine)


@pytest.mark.skipif(shutil.which("tesseract") is None, reason="tesseract not installed")
def test_real_tesseract_reads_a_printed_number() -> None:
    words = Tesseract().words(_text_image("Nr 20471138"), psm=7)
    assert "20471138" in [w.text for w in words]


def test_reading_without_the_meter_number_never_starts_tesseract() -> None:
    runner = FakeRunner(RuntimeError("tesseract must not run"))
    engine = OcrEngine(Settings(), tesseract=Tesseract(runner=runner))
    photo = render_drum_meter("00472", "315", seed=1, meter_number="12345678")
    result = read_meter(photo, integer_digits=5, engine=engine, meter_number=False)
    assert (result.reading, result.meter_number) == ("00472", None)
    assert runner.calls == []
