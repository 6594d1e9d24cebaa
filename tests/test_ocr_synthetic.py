"""Reading synthetic meter photos with known values: drums, LCD, rotation, rolling drums, junk."""

from __future__ import annotations

import threading

import cv2
import numpy as np
import pytest

from core.settings import Settings
from core.types import Display
from ocr import display_confidence, ranking, read_meter, reader, search, tuning
from ocr.counter import fit_grids
from ocr.digits import BATCH, NO_DIGIT, DigitModel
from ocr.reader import OcrEngine
from ocr.synth import (
    encode_jpeg,
    render_digit_cell,
    render_drum_meter,
    render_lcd_meter,
    render_unreadable,
)
from ocr.tesseract import Tesseract


@pytest.mark.parametrize(
    ("reading", "fraction", "kwargs"),
    [
        ("00472", "315", {"seed": 1}),
        ("03195", "07", {"seed": 4, "angle": 90, "noise": 4}),
        ("00093", "004", {"seed": 13, "angle": 186}),
    ],
)
def test_drum_meters_are_read_and_accepted(reading: str, fraction: str, kwargs: dict) -> None:
    photo = encode_jpeg(render_drum_meter(reading, fraction, meter_number="7WAS0012345", **kwargs))
    result = read_meter(photo, integer_digits=5)
    assert (result.reading, result.fraction) == (reading, fraction)
    assert result.accepted and result.reason is None and result.confidence >= 0.9
    assert result.display == "drum"
    assert len(result.digits) == len(reading + fraction)


@pytest.mark.parametrize(
    ("reading", "fraction", "kwargs"),
    [
        ("12345", "678", {"seed": 21, "angle": 38, "blur": 1.2, "noise": 6}),
        # a high reading beside printed numbers with leading zeros: read, maybe left to a clerk
        ("31950", "07", {"seed": 4, "angle": 90, "noise": 4, "meter_number": "7WAS0012345"}),
        ("00093", "004", {"seed": 13, "angle": 172, "glare": True}),
        ("04187", "236", {"seed": 7, "angle": -14, "perspective": 0.15}),
    ],
)
def test_hard_photos_are_still_read(reading: str, fraction: str, kwargs: dict) -> None:
    result = read_meter(
        encode_jpeg(render_drum_meter(reading, fraction, **kwargs)), integer_digits=5
    )
    assert (result.reading, result.fraction) == (reading, fraction)
    # left to a clerk with a reason: a weak digit, or the drums also read as a display
    reason = result.reason or ""
    assert result.accepted or reason.startswith(("low_confidence_digit_", "display_disagrees"))


@pytest.mark.parametrize(("bias", "all_rows"), [(-20.0, False), (20.0, True)])
def test_rows_unlikely_to_be_the_counter_are_not_refined(bias: float, all_rows: bool) -> None:
    """The promise model decides how far the search goes (a digit count known): with every row
    unlikely to be the counter only the likeliest one is refined, with every row likely all."""
    promise = ranking.Model(np.zeros(len(ranking.FEATURES)), bias, None)
    engine = OcrEngine(Settings(), promise=promise)
    photo = encode_jpeg(render_drum_meter("00472", "315", seed=1, meter_number="7WAS0012345"))
    image = reader.load_work_image(photo, max_pixels=Settings().max_image_pixels)
    rows = len(engine.search.counter_features(image, 5)[1])
    assert rows >= 2
    refined = [stage.refined for stage in engine.search.stages(image, 5)]
    assert refined == ([1, min(rows, tuning.REFINE_LIKELY_ROWS)] if all_rows else [1])


def test_the_counter_is_the_likeliest_row() -> None:
    engine = OcrEngine(Settings())
    photo = encode_jpeg(render_drum_meter("00472", "315", seed=1, meter_number="7WAS0012345"))
    image = reader.load_work_image(photo, max_pixels=Settings().max_image_pixels)
    x, rows = engine.search.counter_features(image, 5)
    likely = ranking.probabilities(x, ranking.load_promise())
    assert len(rows) >= 2
    assert len(rows[int(np.argmax(likely))].blobs) >= 5  # the drums, not the printed number
    assert search.refined_count(likely) < len(rows)


@pytest.mark.parametrize(
    ("reading", "kwargs"),
    [
        ("00321", {"seed": 3, "angle": -20}),
        # Tesseract reads these plates as `NR7WASOO12345`: "Nr" glued on, round zeros as O
        ("00472", {"seed": 1}),
        ("03195", {"seed": 4, "angle": 90, "noise": 4}),
    ],
)
def test_meter_number_is_read_from_the_plate(reading: str, kwargs: dict) -> None:
    photo = render_drum_meter(reading, "815", meter_number="7WAS0012345", **kwargs)
    result = read_meter(photo, integer_digits=5)
    assert result.meter_number == "7WAS0012345"
    assert "7WAS0012345" in result.meter_number_candidates


def test_without_digit_count_the_red_drums_give_the_fraction() -> None:
    result = read_meter(render_drum_meter("00472", "315", seed=1))
    assert result.fraction == "315" and result.reading and result.reading.endswith("00472")
    # the count cannot be checked: only a flawless read may be accepted (here the window frame
    # may pass for a leading "1", which must then not be accepted)
    assert not result.accepted or result.reading == "00472"


def test_rolling_drum_gives_both_neighbours_and_the_lower_digit() -> None:
    photo = render_drum_meter("01234", "56", seed=2, rolling_digit=4)
    result = read_meter(photo, integer_digits=5)
    assert result.reading == "01234"
    rolling = result.digits[4]
    assert {d for d, _ in rolling.alternatives[:2]} == {4, 5}


def test_lcd_meter_is_read_up_to_the_decimal_point() -> None:
    result = read_meter(render_lcd_meter("18342", "7", seed=11, angle=-6))
    assert (result.reading, result.fraction, result.display) == ("18342", "7", "lcd")


def test_a_display_with_a_digit_count_is_read_as_a_display_unless_it_is_said_to_be_drums() -> None:
    """The counted ranker knows drum counters only: given a display's digit count, it takes the
    decimal for a sixth integer digit. Where master data says "lcd", the display is read as one
    (accepted or not on its segments' evidence, `ocr/display_confidence.py`); where it does not
    know the kind and a display read contradicts the drum read, the display is read as one and
    not accepted."""
    photo = encode_jpeg(render_lcd_meter("18342", "7", seed=11, angle=-6))
    as_drums = read_meter(photo, integer_digits=6, display="drum", meter_number=False)
    assert as_drums.reading and as_drums.reading.endswith("3427")  # the decimal as a drum
    said = read_meter(photo, integer_digits=6, display="lcd", meter_number=False)
    assert (said.reading, said.fraction, said.display) == ("18342", "7", "lcd")
    assert said.reason is None or said.reason.startswith("low_confidence_digit_")
    assert said.accepted == (said.reason is None)
    if display_confidence.KNOT is None:  # no knot: a display is never accepted
        assert not said.accepted
    unknown = read_meter(photo, integer_digits=6, display=None, meter_number=False)
    assert (unknown.reading, unknown.fraction, unknown.display) == ("18342", "7", "lcd")
    assert not unknown.accepted and unknown.reason == "display_disagrees"


def test_a_meter_said_to_have_drums_is_not_searched_for_displays() -> None:
    engine = OcrEngine(Settings())
    photo = encode_jpeg(render_lcd_meter("18342", "7", seed=11, angle=-6))
    image = reader.load_work_image(photo, max_pixels=Settings().max_image_pixels)

    def pointed(display: Display | None) -> int:
        *_, last = engine.search.stages(image, 6, display)
        return sum(bool(d.candidate.point) for d in last.described)

    assert pointed(None) > 0
    assert pointed("drum") == 0


def test_a_drum_meter_of_unknown_kind_is_still_accepted() -> None:
    photo = encode_jpeg(render_drum_meter("00472", "315", seed=1))
    result = read_meter(photo, integer_digits=5, display=None, meter_number=False)
    assert (result.reading, result.accepted, result.display) == ("00472", True, "drum")


@pytest.mark.parametrize("kind", ["wall", "blur"])
def test_unreadable_photos_are_never_accepted(kind: str) -> None:
    result = read_meter(encode_jpeg(render_unreadable(seed=5, kind=kind)), integer_digits=5)
    assert not result.accepted
    assert result.reason is not None


def test_tesseract_timeout_only_costs_the_meter_number() -> None:
    release = threading.Event()

    class HungApi:
        """A Tesseract API whose recognition hangs until the test ends."""

        def SetVariable(self, name: str, val: str) -> bool:
            return True

        def GetVariableAsString(self, name: str) -> str | None: ...
        def SetPageSegMode(self, psm: int) -> None: ...
        def SetImage(self, image: object) -> None: ...
        def SetSourceResolution(self, ppi: int) -> None: ...
        def GetTSVText(self, page_number: int) -> str:
            return ""

        def End(self) -> None: ...

        def Recognize(self, timeout: int = 0) -> bool:
            return release.wait()

    engine = OcrEngine(
        Settings(),
        tesseract=Tesseract(timeout=0.05, grace=0.05, api_factory=lambda folder, lang: HungApi()),
    )
    photo = render_drum_meter("00472", "315", seed=1, meter_number="12345678")
    result = read_meter(photo, integer_digits=5, engine=engine)
    release.set()
    assert (result.reading, result.meter_number) == ("00472", None)


class CountingModel(DigitModel):
    """The digit model, counting the cells it classifies."""

    cells = 0

    def predict(self, cells: list[np.ndarray]) -> np.ndarray:
        self.cells += len(cells)
        return super().predict(cells)


def _read_counting(photo: bytes, integer_digits: int | None) -> tuple[tuple, int]:
    model = CountingModel()
    result = read_meter(
        photo, integer_digits=integer_digits, engine=OcrEngine(Settings(), model=model)
    )
    return (result.reading, result.fraction, result.accepted), model.cells


@pytest.mark.parametrize(
    ("photo", "integer_digits"),
    [
        # sure on the rows' blob grids: the search stops before it refines one
        (encode_jpeg(render_drum_meter("00472", "315", seed=14)), 5),
        (encode_jpeg(render_lcd_meter("18342", "7", seed=11, angle=-6)), None),
    ],
)
def test_a_sure_read_ends_the_search_early_with_the_whole_searchs_reading(
    photo: bytes, integer_digits: int | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    early, early_cells = _read_counting(photo, integer_digits)
    for mode in ("counted", "uncounted"):  # never sure early: the whole search
        monkeypatch.setitem(tuning.EARLY_EXIT, mode, 2.0)
    whole, whole_cells = _read_counting(photo, integer_digits)
    assert early == whole and early[0] is not None
    assert early_cells < 0.8 * whole_cells


def test_digit_cells_render_every_digit() -> None:
    cells = [render_digit_cell(d, kind=k, seed=d) for d in range(10) for k in ("drum", "lcd")]
    assert all(c.ndim == 3 and c.shape[0] >= 40 and c.std() > 10 for c in cells)
    with pytest.raises(ValueError):
        render_drum_meter("12a45")
    assert isinstance(render_lcd_meter("1", seed=1), np.ndarray)


def test_the_digit_model_reads_cells_alike_in_any_batch() -> None:
    model = DigitModel()
    cells = [
        cv2.cvtColor(render_digit_cell(d % 10, kind="drum", seed=d), cv2.COLOR_BGR2GRAY)
        for d in range(2 * BATCH + 3)  # full batches and a partial one
    ]
    together = model.predict(cells)
    alone = np.concatenate([model.predict([c]) for c in cells])
    assert together.shape == (len(cells), NO_DIGIT + 1)
    np.testing.assert_allclose(together, alone, atol=1e-5)
    np.testing.assert_allclose(together.sum(axis=1), 1.0, rtol=1e-5)
    assert (together.argmax(axis=1) == np.arange(len(cells)) % 10).mean() > 0.9


def test_a_broken_model_file_fails_when_loaded_not_when_reading(tmp_path) -> None:
    broken = tmp_path / "digits.onnx"
    broken.write_bytes(b"not a model")
    with pytest.raises(cv2.error, match=r"(?i)parse"):
        DigitModel(broken)


def test_drum_grid_follows_the_digits_not_the_frames_between_them() -> None:
    """Slid along a strip, the model is sure at each drum and half sure at the frames half a
    drum off: the grid takes the drums' pitch and phase, not half the pitch."""
    xs = np.arange(15.0, 400.0, 9.0)
    pitch, first = 40.0, 37.0
    offset = (xs - first) % pitch
    distance = np.minimum(offset, pitch - offset)
    strength = np.where(distance < 6, 0.9, np.where(abs(distance - pitch / 2) < 5, 0.3, 0.1))
    found, phase, _ = fit_grids(xs.tolist(), strength, digit_h=36.0, count=1)[0]
    assert abs(found - pitch) < 1.0
    off = (phase - first) % pitch
    assert min(off, pitch - off) < 4


def test_runner_up_grids_cut_the_strip_differently() -> None:
    """Frames half a drum off that look like digits to the model make half the pitch win; the
    drums' own grid is then among the runners-up, which are other cuts (another pitch, or cells
    half a drum off), never the best grid moved a pixel."""
    xs = np.arange(15.0, 400.0, 9.0)
    pitch, first = 40.0, 37.0
    offset = (xs - first) % pitch
    distance = np.minimum(offset, pitch - offset)
    strength = np.where(distance < 6, 0.9, np.where(abs(distance - pitch / 2) < 5, 0.7, 0.1))
    grids = fit_grids(xs.tolist(), strength, digit_h=36.0, count=3)
    assert len(grids) == 3
    assert abs(grids[0].pitch - pitch / 2) < 1.0
    assert any(
        abs(p - pitch) < 1.0 and min((x - first) % pitch, (first - x) % pitch) < 4
        for p, x, _ in grids
    )
    for i, (p, x, _) in enumerate(grids):
        for q, y, _ in grids[:i]:
            other_pitch = abs(p - q) > 0.15 * min(p, q)
            half_off = 1 / 3 <= (x - y) % q / q <= 2 / 3
            assert other_pitch or half_off
