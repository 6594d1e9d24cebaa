"""The OCR pipeline, top to bottom: load, search the counter, choose its read, meter number.

`OcrEngine` holds what is expensive to set up (the digit models, the ranker, Tesseract);
`read_meter` in `ocr/__init__.py` uses a default engine built from the settings. Bad input never
raises: it comes back as `MeterRead(reading=None, reason=...)`. Only a missing Tesseract
(`ToolMissingError`) aborts. The search is in `ocr/search.py`, the candidates it reads in
`ocr/candidates.py`, the choice among them in `ocr/choice.py`, their constants in
`ocr/tuning.py`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from functools import partial

import cv2
import numpy as np

from core.errors import ImageError, ToolMissingError
from core.settings import Settings
from core.types import Display, MeterRead
from ocr import choice, counts, display_confidence, plate, ranking, trust
from ocr.digits import MODEL_PATH, SECOND_OPINION_PATHS, DigitModel
from ocr.display_labels import read_labels
from ocr.geometry import read_boxes
from ocr.kind_marks import kind_marks
from ocr.loading import ImageInput, load_image, upright_size
from ocr.locate import WORK_SIDE, Row, same_place
from ocr.reads import Described
from ocr.search import Memo, Search, Stage
from ocr.site_model import SiteModel
from ocr.tesseract import Tesseract, TesseractFailed

log = logging.getLogger(__name__)

# what master data may say about the photo's meter: its digit count and its kind of counter
Hypothesis = tuple[int | None, Display | None]


def load_work_image(image: ImageInput, *, max_pixels: int) -> np.ndarray:
    """A photo loaded as the pipeline reads it (see `work_image`); raises `ImageError`."""
    return work_image(load_image(image, max_pixels=max_pixels, at_least=WORK_SIDE))


def work_image(image: np.ndarray) -> np.ndarray:
    """The photo scaled down (never up) to WORK_SIDE on its long side: the size the pipeline
    measures in, and what `Search.stages` takes."""
    scale = WORK_SIDE / max(image.shape[:2])
    if scale >= 1:
        return image
    return cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)


class OcrEngine:
    def __init__(
        self,
        settings: Settings,
        *,
        tesseract: Tesseract | None = None,
        model: DigitModel | None = None,
        second_opinions: tuple[DigitModel, ...] | None = None,
        ranker: dict[str, ranking.Model] | None = None,
        promise: ranking.Model | None = None,
        site: SiteModel | None = None,
    ) -> None:
        self.settings = settings
        self.site = site  # a site model's digit-model heads (None: the shipped models)
        self.tesseract = tesseract or Tesseract(
            settings.tesseract_data_dir, timeout=settings.tesseract_timeout_seconds
        )
        heads = site.heads if site is not None else {}
        self.search = Search(
            model or DigitModel(MODEL_PATH, head=heads.get(MODEL_PATH.name)),
            second_opinions
            or tuple(DigitModel(p, head=heads.get(p.name)) for p in SECOND_OPINION_PATHS),
            promise if promise is not None else ranking.load_promise(),
        )
        self.ranker = ranker if ranker is not None else ranking.load()
        # a site model's reads are accepted only as the shipped models accept them
        # (`_confirmed`): its heads are surer of the site's digits than they are right
        self.shipped = (
            None
            if site is None
            else OcrEngine(settings, tesseract=self.tesseract, ranker=ranker, promise=promise)
        )
        self._last = threading.local()  # per thread: the last photo read and its location

    def read(
        self,
        image: ImageInput,
        *,
        integer_digits: int | None = None,
        display: Display | None = None,
        meter_number: bool = True,
        decimal_digits: int | None = None,
    ) -> MeterRead:
        """One photo; `meter_number=False` skips the plate and the unit printed beside a drum
        counter (Tesseract, a few hundredths of a second). `display` is the meter's kind of
        counter where master data knows it (see `choice.choose_reading`), `decimal_digits` its
        decimal drums (one: a single red drum is the expected tenth drum, not a red mark)."""
        (result,) = self.read_hypotheses(
            image,
            [(integer_digits, display)],
            meter_number=meter_number,
            decimal_digits=decimal_digits,
        )
        return result

    def read_hypotheses(
        self,
        image: ImageInput,
        hypotheses: Sequence[Hypothesis],
        *,
        meter_number: bool = True,
        decimal_digits: int | None = None,
    ) -> list[MeterRead]:
        """One photo read under each (digit count, kind) hypothesis, e.g. one per meter the
        sender may mean: each result as `read` gives it for that hypothesis, but the photo is
        loaded and its counter located once (rows, display reads, refined rows, the models'
        outputs, plate reads are shared). A result's `seconds` is the time spent on it: the
        first one's includes loading and what the others reuse. `decimal_digits` as in `read`,
        for every hypothesis."""
        start = time.perf_counter()
        try:
            work, memo, scale = self._located(image)
        except Exception as exc:  # sorted by `_failed`
            return [_failed(exc, start)] * len(hypotheses)
        results = []
        for integer_digits, display in hypotheses:
            read = partial(
                self._read,
                work,
                integer_digits,
                display,
                meter_number,
                memo,
                scale,
                decimal_digits=decimal_digits,
            )
            results.append(_guarded(read, start))
            start = time.perf_counter()
        return results

    def _located(self, image: ImageInput) -> tuple[np.ndarray, Memo, tuple[float, float]]:
        """The photo loaded, with the search that locates its counter and the scale from work
        pixels to photo pixels. The last photo given as bytes is kept per thread, so reading it
        again under further hypotheses (a meter its own meter number brought into question)
        reuses its location instead of searching again."""
        last = getattr(self._last, "photo", None)
        if last is not None and isinstance(image, bytes) and (last[0] is image or last[0] == image):
            return last[1]
        work = load_work_image(image, max_pixels=self.settings.max_image_pixels)
        width, height = upright_size(image)
        located = (work, Memo(work), (width / work.shape[1], height / work.shape[0]))
        self._last.photo = (image, located) if isinstance(image, bytes) else None
        return located

    def read_located(
        self, work: np.ndarray, integer_digits: int | None, display: Display | None, memo: Memo
    ) -> MeterRead:
        """A work image (`load_work_image`) read under one hypothesis without the plate, with
        `memo` keeping its search for the caller (`ocr/site_training.py` labels its cells); the
        boxes are in work-image pixels."""
        start = time.perf_counter()
        read = partial(self._read, work, integer_digits, display, False, memo, (1.0, 1.0))
        return _guarded(read, start)

    def _read(
        self,
        image: np.ndarray,
        integer_digits: int | None,
        display: Display | None,
        meter_number: bool,
        memo: Memo,
        scale: tuple[float, float],
        decimal_digits: int | None = None,
    ) -> MeterRead:
        found, model, disagrees, by_count = self.choose(
            image, integer_digits, display, memo, decimal_digits
        )
        if found is None or not found[0].integer:
            return MeterRead(reading=None, reason="no_counter_found")
        best, likely, stage = found
        c = best.candidate
        shown = shown_as(best, stage)
        numbers = self._plate(image, stage.rows, best, memo) if meter_number else ()
        confidence = trust.calibrated(likely, model.knot)
        if shown == "lcd":
            confidence = display_confidence.confidence(best, stage.described, confidence)
        min_confidence = self.settings.auto_accept_min_confidence
        drum = image if shown == "drum" else None  # a display's segments are weighed apart
        result = choice.meter_read(best, confidence, numbers, shown, min_confidence, drum)
        counter_box, digit_boxes = read_boxes(best, scale, shown)
        result = replace(result, counter_box=counter_box, digit_boxes=digit_boxes)
        if shown == "drum":
            unit, dials = kind_marks(self.tesseract if meter_number else None, image, best, memo)
            result = replace(result, printed_unit=unit, dials=dials)
        if c.row.lcd:
            labels = read_labels(self.tesseract, memo.gray, c.row)
            result = replace(result, obis=labels.obis, unit=labels.unit)
        if by_count is not None:
            alternatives = counts.hypotheses(by_count, model.knot, min_confidence, image)
            result = replace(result, digit_count_hypotheses=alternatives)
            if result.accepted and not by_count.agreed:
                result = replace(result, accepted=False, reason="digit_count_unclear")
        if disagrees:
            result = replace(result, accepted=False, reason="display_disagrees")
        if self.shipped is not None:
            hypothesis = (integer_digits, display, decimal_digits)
            result = self._confirmed(result, image, hypothesis, memo.beside(), scale)
        return result

    def _confirmed(
        self,
        site: MeterRead,
        image: np.ndarray,
        hypothesis: tuple[int | None, Display | None, int | None],
        memo: Memo,
        scale: tuple[float, float],
    ) -> MeterRead:
        """A site model's read, accepted (with the shipped read's confidence) where the shipped
        models, reading the photo under the same hypothesis, accept the same integer reading,
        and not accepted otherwise: the site heads choose the value, the shipped ranker and
        knot, whose acceptance is measured held out, decide whether it is booked unseen. An
        unconfirmed read's confidence is capped by the shipped read's (the decision core lets a
        meter's history settle only the doubt the confidence admits). A read refused for another
        reason than its confidence stays refused."""
        assert self.shipped is not None
        unsure = (site.reason or "").startswith(choice.LOW_CONFIDENCE)
        if site.reading is None or not (site.accepted or unsure):
            return site
        integer_digits, display, decimal_digits = hypothesis
        shipped = self.shipped._read(
            image, integer_digits, display, False, memo, scale, decimal_digits
        )
        if shipped.accepted and shipped.reading == site.reading:
            return replace(site, accepted=True, confidence=shipped.confidence, reason=None)
        # unconfirmed, the site read is no surer than the shipped models leave it: as sure as
        # their read of the same value, or as their read of another value is likely wrong
        vouched = shipped.confidence if shipped.reading == site.reading else 1 - shipped.confidence
        capped = replace(site, confidence=min(site.confidence, vouched))
        if not site.accepted:
            return capped
        unsure_reason = choice.unsure_reason(site.digits[: len(site.reading)])
        return replace(capped, accepted=False, reason=unsure_reason)

    def choose(
        self,
        image: np.ndarray,
        integer_digits: int | None,
        display: Display | None,
        memo: Memo,
        decimal_digits: int | None = None,
    ) -> tuple[choice.Found | None, ranking.Model, bool, counts.Counted | None]:
        """The chosen read, the ranker that chose it, whether a display read disagreed with
        it, and the reads by digit count where the count was searched."""
        if integer_digits is None and display != "lcd":
            return counts.choose_by_counts(self.search, self.ranker, image, display, memo)
        found, model, disagrees = choice.choose_reading(
            self.search, self.ranker, image, integer_digits, display, memo, decimal_digits
        )
        return found, model, disagrees, None

    def _plate(
        self, image: np.ndarray, rows: list[Row], best: Described, memo: Memo
    ) -> tuple[str, ...]:
        """The meter number candidates for the chosen read's counter: the photo's codes once per
        photo, Tesseract's read of the serial rows once per counter (and way up), whatever the
        reading (hypotheses of other digit counts read the same counter as another text)."""
        c = best.candidate
        if memo.codes is None:
            memo.codes = plate.codes(memo.gray)
        key = (id(c.row), c.cells.flipped, tuple(map(id, rows)))
        if key not in memo.serials:
            memo.serials[key] = plate.serial_text(
                self.tesseract, image, rows, c.row, flipped=c.cells.flipped
            )
        return plate.meter_numbers(memo.codes, memo.serials[key], reading=best.text)


def shown_as(best: Described, stage: Stage) -> Display:
    """The kind of counter the chosen read shows: a display where it has a 7-segment decimal
    point, or lies on a display panel without red drums."""
    c = best.candidate
    on_panel = any(r.lcd and same_place(r, c.row) for r in stage.rows)
    return "lcd" if c.point or (on_panel and not c.run.decimals) else "drum"


def _guarded(read: Callable[[], MeterRead], start: float) -> MeterRead:
    """`read()`, or what `_failed` makes of its failure; with the seconds since `start`."""
    try:
        result = read()
    except Exception as exc:
        return _failed(exc, start)
    return replace(result, seconds=time.perf_counter() - start)


def _failed(exc: Exception, start: float) -> MeterRead:
    """A failure as a reason code, except a missing installation (raised again): one photo
    must never stop the worker."""
    if isinstance(exc, ToolMissingError):
        raise exc
    if isinstance(exc, ImageError):
        log.info("image refused: %s (%s)", exc.reason, exc)
        result = MeterRead(reading=None, reason=exc.reason)
    elif isinstance(exc, TesseractFailed):
        log.warning("tesseract failed: %s", exc)
        result = MeterRead(reading=None, reason=exc.reason)
    else:
        log.error("OCR failed unexpectedly", exc_info=exc)
        result = MeterRead(reading=None, reason="ocr_internal_error")
    return replace(result, seconds=time.perf_counter() - start)
