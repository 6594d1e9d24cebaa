"""The Tesseract module: failures sorted into degrade / abort, injected through its API factory."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from core.errors import ToolMissingError
from core.settings import Settings
from ocr import read_meter
from ocr.reader import OcrEngine
from ocr.synth import render_drum_meter
from ocr.tesseract import MAX_PIXELS, Tesseract, TesseractFailed, data_folder, parse_tsv

TSV = "\n".join(
    [
        "1\t1\t0\t0\t0\t0\t0\t0\t300\t60\t-1\t",
        "5\t1\t1\t1\t1\t1\t10\t12\t80\t30\t91.5\tNr",
        "5\t1\t1\t1\t1\t2\t100\t12\t90\t30\t88\t4711",
    ]
)


class FakeApi:
    """Stands in for `tesserocr.PyTessBaseAPI`; `recognize` decides what one recognition does."""

    def __init__(self, recognize: Callable[[int], bool], tsv: str = TSV) -> None:
        self.recognize = recognize
        self.tsv = tsv
        self.variables: dict[str, str] = {}
        self.images: list[Image.Image] = []
        self.ended = threading.Event()

    def SetVariable(self, name: str, val: str) -> bool:
        self.variables[name] = val
        return True

    def GetVariableAsString(self, name: str) -> str | None:
        return self.variables.get(name, "")

    def SetPageSegMode(self, psm: int) -> None:
        self.psm = psm

    def SetImage(self, image: Image.Image) -> None:
        self.images.append(image)

    def SetSourceResolution(self, ppi: int) -> None:
        self.ppi = ppi

    def Recognize(self, timeout: int = 0) -> bool:
        return self.recognize(timeout)

    def GetTSVText(self, page_number: int) -> str:
        return self.tsv

    def End(self) -> None:
        self.ended.set()


class Factory:
    """An API factory that records the APIs it made (and the threads it made them on)."""

    def __init__(self, make: Callable[[], FakeApi]) -> None:
        self.make = make
        self.made: list[FakeApi] = []
        self.threads: list[str] = []

    def __call__(self, folder: str, lang: str) -> FakeApi:
        api = self.make()
        self.made.append(api)
        self.threads.append(threading.current_thread().name)
        return api


def healthy() -> FakeApi:
    return FakeApi(lambda timeout: True)


@pytest.fixture
def tessdata(tmp_path: Path) -> str:
    (tmp_path / "eng.traineddata").write_bytes(b"model")
    return str(tmp_path)


def _text_image(text: str) -> np.ndarray:
    img = np.full((60, 40 + 26 * len(text)), 255, np.uint8)
    cv2.putText(img, text, (10, 45), cv2.FONT_HERSHEY_SIMPLEX, 1.2, 0, 2)
    return img


def test_words_are_parsed_and_options_reach_the_api(tessdata: str) -> None:
    factory = Factory(healthy)
    tess = Tesseract(tessdata, api_factory=factory)
    words = tess.words(_text_image("Nr 4711"), psm=6, whitelist="0123456789Nr")
    assert [w.text for w in words] == ["Nr", "4711"]
    assert words[0].confidence == pytest.approx(0.915)
    assert words[1].box == (100, 12, 90, 30)
    api = factory.made[-1]
    assert (api.psm, api.ppi, api.images[0].size) == (6, 300, (222, 60))
    assert api.variables["tessedit_char_whitelist"] == ""  # restored after the call


def test_probe_runs_once_and_each_thread_gets_its_own_api(tessdata: str) -> None:
    factory = Factory(healthy)
    tess = Tesseract(tessdata, api_factory=factory)
    for _ in range(3):
        tess.words(_text_image("1"))
    other = threading.Thread(target=tess.words, args=(_text_image("2"),))
    other.start()
    other.join()
    # one API for the probe, one for this thread, one for the other thread
    assert len(factory.made) == 3
    assert len(factory.made[1].images) == 3 and len(factory.made[2].images) == 1
    assert factory.threads[1:] == ["tesseract", "tesseract"]
    assert factory.made[2].ended.wait(5)  # the other thread ended, and with it its API
    assert not factory.made[1].ended.is_set()


def test_a_crash_degrades_and_the_next_call_gets_a_fresh_api(tessdata: str) -> None:
    def crash(timeout: int) -> bool:
        raise RuntimeError("Tesseract threw")

    apis = iter([healthy(), FakeApi(crash), healthy()])
    factory = Factory(lambda: next(apis))
    tess = Tesseract(tessdata, api_factory=factory)
    with pytest.raises(TesseractFailed) as info:
        tess.words(_text_image("123"))
    assert info.value.reason == "tesseract_crashed"
    assert "Tesseract threw" in str(info.value)
    assert factory.made[1].ended.wait(5)  # the crashed API is ended, not reused
    assert [w.text for w in tess.words(_text_image("123"))] == ["Nr", "4711"]


def test_a_failed_recognition_degrades(tessdata: str) -> None:
    tess = Tesseract(tessdata, api_factory=Factory(lambda: FakeApi(lambda timeout: False)))
    with pytest.raises(TesseractFailed) as info:
        tess.words(_text_image("123"))
    assert info.value.reason == "tesseract_crashed"


def test_tesseract_giving_up_at_its_own_timeout_degrades(tessdata: str) -> None:
    def runs_out(timeout: int) -> bool:
        threading.Event().wait(timeout / 1000)  # Tesseract recognising until its deadline
        return False

    tess = Tesseract(tessdata, timeout=0.05, api_factory=Factory(lambda: FakeApi(runs_out)))
    with pytest.raises(TesseractFailed) as info:
        tess.words(_text_image("123"))
    assert info.value.reason == "tesseract_timeout"


def test_a_hung_api_is_abandoned_and_replaced(tessdata: str) -> None:
    release = threading.Event()

    def hang(timeout: int) -> bool:
        release.wait()  # layout analysis that never checks the timeout
        return True

    apis = iter([healthy(), FakeApi(hang), healthy()])
    factory = Factory(lambda: next(apis))
    tess = Tesseract(tessdata, timeout=0.05, grace=0.05, api_factory=factory)
    with pytest.raises(TesseractFailed) as info:
        tess.words(_text_image("123"))
    assert info.value.reason == "tesseract_timeout"
    assert [w.text for w in tess.words(_text_image("123"))] == ["Nr", "4711"]
    assert len(factory.made) == 3
    hung = factory.made[1]
    assert not hung.ended.is_set()
    release.set()  # Tesseract returns at last: the abandoned thread ends its API
    assert hung.ended.wait(5)


def test_garbage_output_degrades(tessdata: str) -> None:
    garbage = Factory(lambda: FakeApi(lambda timeout: True, tsv="\x00\x01 not tsv"))
    with pytest.raises(TesseractFailed) as info:
        Tesseract(tessdata, api_factory=garbage).words(_text_image("123"))
    assert info.value.reason == "tesseract_garbage"


def test_an_oversized_image_is_refused_before_tesseract_sees_it(tessdata: str) -> None:
    factory = Factory(healthy)
    side = int(MAX_PIXELS**0.5) + 1
    with pytest.raises(TesseractFailed) as info:
        Tesseract(tessdata, api_factory=factory).words(np.zeros((side, side), np.uint8))
    assert info.value.reason == "tesseract_bad_input"
    assert all(not api.images for api in factory.made)


def test_missing_language_data_aborts(tmp_path: Path) -> None:
    with pytest.raises(ToolMissingError, match="eng"):
        Tesseract(str(tmp_path), api_factory=Factory(healthy)).probe()


def test_missing_tesserocr_aborts(tessdata: str) -> None:
    def no_binding(folder: str, lang: str) -> FakeApi:
        raise ImportError("No module named 'tesserocr'")

    with pytest.raises(ToolMissingError, match="tesserocr"):
        Tesseract(tessdata, api_factory=no_binding).probe()


def test_language_data_tesseract_cannot_load_aborts(tessdata: str) -> None:
    def broken(folder: str, lang: str) -> FakeApi:
        raise RuntimeError("Failed to init API, possibly an invalid tessdata path")

    with pytest.raises(ToolMissingError, match="invalid tessdata"):
        Tesseract(tessdata, api_factory=broken).probe()


def test_the_data_folder_is_found_from_the_environment(
    tessdata: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TESSDATA_PREFIX", tessdata)
    assert data_folder("", ("eng",)) == tessdata


def test_parse_tsv_skips_empty_words_and_takes_the_programs_header() -> None:
    header = "level\tpage_num\tblock_num\tpar_num\tline_num\tword_num\tleft\ttop\twidth\theight"
    assert parse_tsv(header + "\tconf\ttext\n1\t1\t0\t0\t0\t0\t0\t0\t100\t50\t-1\t\n") == []


def test_read_meter_aborts_when_the_language_data_is_missing(tmp_path: Path) -> None:
    engine = OcrEngine(Settings(), tesseract=Tesseract(str(tmp_path)))
    with pytest.raises(ToolMissingError):
        read_meter(render_drum_meter("00472", "315", seed=1), engine=engine)


def test_reading_without_the_meter_number_never_starts_tesseract(tessdata: str) -> None:
    def must_not_run(folder: str, lang: str) -> FakeApi:
        raise AssertionError("tesseract must not run")

    engine = OcrEngine(Settings(), tesseract=Tesseract(tessdata, api_factory=must_not_run))
    photo = render_drum_meter("00472", "315", seed=1, meter_number="12345678")
    result = read_meter(photo, integer_digits=5, engine=engine, meter_number=False)
    assert (result.reading, result.meter_number) == ("00472", None)


def _installed() -> bool:
    try:
        Tesseract().probe()
    except ToolMissingError:
        return False
    return True


@pytest.mark.skipif(not _installed(), reason="tesserocr or the eng language data not installed")
def test_real_tesseract_reads_a_printed_number() -> None:
    tess = Tesseract()
    words = tess.words(_text_image("Nr 20471138"), psm=7)
    assert "20471138" in [w.text for w in words]
    assert [w.text for w in tess.words(_text_image("4711"), psm=7, whitelist="0123456789")] == [
        "4711"
    ]
