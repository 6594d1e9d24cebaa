"""Reading one photo under several (digit count, kind) hypotheses: the same reads as one
`read_meter` call each, with the counter located once."""

from __future__ import annotations

import numpy as np
import pytest

from core.settings import Settings
from core.types import MeterRead
from ocr import plate, read_meter, read_meter_hypotheses
from ocr.digits import DigitModel
from ocr.reader import Hypothesis, OcrEngine
from ocr.synth import encode_jpeg, render_drum_meter, render_lcd_meter
from ocr.tesseract import Tesseract, Word

HYPOTHESES: list[Hypothesis] = [(5, "drum"), (6, "drum"), (5, None), (None, "lcd"), (None, None)]


class CountingModel(DigitModel):
    """The digit model, counting the cells it classifies."""

    cells = 0

    def predict(self, cells: list[np.ndarray]) -> np.ndarray:
        self.cells += len(cells)
        return super().predict(cells)


class CountingTesseract(Tesseract):
    """Tesseract, counting its calls."""

    calls = 0

    def words(self, image: np.ndarray, **options: object) -> list[Word]:
        self.calls += 1
        return super().words(image, **options)  # type: ignore[arg-type]


def _comparable(read: MeterRead) -> tuple[object, ...]:
    return (
        read.reading,
        read.fraction,
        read.confidence,
        read.accepted,
        read.reason,
        read.display,
        read.meter_number_candidates,
        read.digits,
    )


def test_each_hypothesis_reads_as_a_read_meter_call_of_its_own() -> None:
    photo = encode_jpeg(render_drum_meter("00472", "315", seed=1, meter_number="12345678"))
    separate_model, together_model = CountingModel(), CountingModel()
    together = OcrEngine(Settings(), model=together_model)
    one_by_one = [  # an engine each: an engine keeps the last photo's location
        read_meter(
            photo, integer_digits=d, display=k, engine=OcrEngine(Settings(), model=separate_model)
        )
        for d, k in HYPOTHESES
    ]
    at_once = read_meter_hypotheses(photo, HYPOTHESES, engine=together)
    assert [_comparable(r) for r in at_once] == [_comparable(r) for r in one_by_one]
    assert (at_once[0].reading, at_once[0].accepted) == ("00472", True)
    assert at_once[1].reading != "00472" or at_once[1].reason is not None  # 6 drums: not this
    # located once: the later hypotheses add little of the digit model's work
    assert together_model.cells < 0.6 * separate_model.cells


def test_the_plate_is_read_once_for_hypotheses_reading_the_same_counter_as_other_digits(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    photo = encode_jpeg(render_drum_meter("00472", "315", seed=1, meter_number="12345678"))
    hypotheses: list[Hypothesis] = [(5, "drum"), (6, "drum"), (4, "drum")]
    looked_for_codes: list[np.ndarray] = []
    codes = plate.codes

    def counted_codes(gray: np.ndarray) -> list[str]:
        looked_for_codes.append(gray)
        return codes(gray)

    monkeypatch.setattr(plate, "codes", counted_codes)
    tesseract = CountingTesseract()
    reads = read_meter_hypotheses(
        photo, hypotheses, engine=OcrEngine(Settings(), tesseract=tesseract)
    )
    assert [r.reading for r in reads] == ["00472", "000472", "0472"]  # one counter, three texts
    assert {r.meter_number_candidates for r in reads} == {("12345678", "NR12345678")}
    # the serial rows once, the unit after the counter's last drum once
    assert (tesseract.calls, len(looked_for_codes)) == (2, 1)


def test_a_display_photo_under_drum_and_display_hypotheses() -> None:
    photo = encode_jpeg(render_lcd_meter("18342", "7", seed=11, angle=-6))
    hypotheses: list[Hypothesis] = [(5, "drum"), (None, "lcd"), (5, None)]
    engine = OcrEngine(Settings())
    at_once = read_meter_hypotheses(photo, hypotheses, engine=engine, meter_number=False)
    one_by_one = [
        read_meter(photo, integer_digits=d, display=k, engine=engine, meter_number=False)
        for d, k in hypotheses
    ]
    assert [_comparable(r) for r in at_once] == [_comparable(r) for r in one_by_one]
    assert (at_once[1].reading, at_once[1].fraction, at_once[1].display) == ("18342", "7", "lcd")


def test_an_unreadable_photo_gives_its_reason_for_every_hypothesis() -> None:
    reads = read_meter_hypotheses(b"\xff\xd8 not a jpeg", HYPOTHESES)
    assert len(reads) == len(HYPOTHESES)
    assert {(r.reading, r.reason) for r in reads} == {(None, "image_corrupt")}


def test_no_hypotheses_read_nothing() -> None:
    photo = encode_jpeg(render_drum_meter("00472", "315", seed=1))
    assert read_meter_hypotheses(photo, []) == []


def test_reading_a_photo_again_under_further_hypotheses_reuses_its_location() -> None:
    # the worker reads a photo under its sender's meters first, then under a meter that only the
    # meter number on the photo brought into question
    photo = encode_jpeg(render_drum_meter("00472", "315", seed=1, meter_number="12345678"))
    first: list[Hypothesis] = [(6, "lcd")]
    further: list[Hypothesis] = [(5, "drum")]
    fresh_model, reused_model = CountingModel(), CountingModel()
    fresh = OcrEngine(Settings(), model=fresh_model)
    reused = OcrEngine(Settings(), model=reused_model)
    read_meter_hypotheses(photo, first, engine=reused)
    located = reused_model.cells
    again = read_meter_hypotheses(bytes(bytearray(photo)), further, engine=reused)  # equal bytes
    alone = read_meter_hypotheses(photo, further, engine=fresh)
    assert [_comparable(r) for r in again] == [_comparable(r) for r in alone]
    assert again[0].reading == "00472"
    assert reused_model.cells - located < 0.2 * fresh_model.cells
