"""The one module that runs Tesseract: in process, through tesserocr (Tesseract's C++ API).

Failures are sorted the way the pipeline needs them:
- *abort*: tesserocr, or the language data, is missing -> `ToolMissingError` (nothing works until
  an administrator installs it). `probe()` checks once, at start-up or on the first call;
- *degrade*: a crash, a timeout or unparsable output on one image -> `TesseractFailed` (an
  `OcrToolError` with a machine `reason`); the photo goes to review, the worker carries on.

Each calling thread gets its own recognition thread holding one initialised `PyTessBaseAPI`
(loading the language data costs ~0.1 s, recognising a plate a few milliseconds). tesserocr has
only a cooperative timeout (`Recognize(timeout=...)`, checked between words, not during layout
analysis), so the time is bounded three ways: images above `MAX_PIXELS` are refused, the API is
given the timeout, and the caller waits at most the timeout plus `GRACE`. A recognition thread
that overruns it is abandoned with its API (it ends by itself once Tesseract returns) and the
next call starts a fresh one. tesserocr releases the GIL while it recognises, so the caller's
wait is not blocked by it.

The API is made by an injectable factory (`ApiFactory`), so tests can simulate crashes, hangs
and garbage output through the same code path.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
from PIL import Image

from core.errors import OcrToolError, ToolMissingError

log = logging.getLogger(__name__)

MAX_PIXELS = 4_000_000  # larger inputs are refused: layout analysis grows with the image
GRACE = 2.0  # seconds the caller waits beyond the timeout before abandoning a recognition
DPI = 300  # the plate lines are cut at a fixed height; tell Tesseract so it does not guess
# where distributions put the language data (Debian/Ubuntu Tesseract 5 and 4, others)
DATA_FOLDERS = (
    "/usr/share/tesseract-ocr/5/tessdata",
    "/usr/share/tesseract-ocr/4.00/tessdata",
    "/usr/share/tessdata",
    "/usr/local/share/tessdata",
)


class TesseractFailed(OcrToolError):
    """Tesseract failed on one image; `reason` is a machine code for the review task."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class Word:
    text: str
    confidence: float  # 0..1
    box: tuple[int, int, int, int]  # x, y, w, h


class Api(Protocol):
    """The part of `tesserocr.PyTessBaseAPI` used here."""

    def SetVariable(self, name: str, val: str) -> bool: ...
    def GetVariableAsString(self, name: str) -> str | None: ...
    def SetPageSegMode(self, psm: int) -> None: ...
    def SetImage(self, image: Image.Image) -> None: ...
    def SetSourceResolution(self, ppi: int) -> None: ...
    def Recognize(self, timeout: int = 0) -> bool: ...
    def GetTSVText(self, page_number: int) -> str: ...
    def End(self) -> None: ...


# (language data folder, language) -> an initialised API; raises RuntimeError when it cannot
ApiFactory = Callable[[str, str], Api]


def tesserocr_api(folder: str, lang: str) -> Api:
    import tesserocr

    api: Api = tesserocr.PyTessBaseAPI(path=folder, lang=lang)
    return api


def data_folder(configured: str, languages: Sequence[str]) -> str:
    """The first language data folder holding every language: the configured one, else
    `TESSDATA_PREFIX`, else where distributions install it. Raises `ToolMissingError`."""
    folders = [configured] if configured else [os.environ.get("TESSDATA_PREFIX", ""), *DATA_FOLDERS]
    for folder in filter(None, folders):
        if all((Path(folder) / f"{lang}.traineddata").is_file() for lang in languages):
            return folder
    raise ToolMissingError(
        f"Tesseract-Sprachdaten fehlen: {', '.join(languages)} nicht gefunden in "
        f"{', '.join(filter(None, folders))} (apt install tesseract-ocr-eng tesseract-ocr-deu "
        "oder METER_INTAKE_TESSERACT_DATA_DIR setzen)"
    )


Job = Callable[[Api], str]


class _Recogniser:
    """One thread owning one API; jobs are handed to it and awaited by the caller."""

    def __init__(self, make_api: Callable[[], Api]) -> None:
        self._jobs: queue.SimpleQueue[tuple[Job, Future[str]] | None] = queue.SimpleQueue()
        self._thread = threading.Thread(
            target=self._serve, args=(make_api,), name="tesseract", daemon=True
        )
        self._thread.start()

    def run(self, job: Job, wait: float) -> str:
        """The job's answer; raises TimeoutError after `wait` seconds, or what the job raised."""
        done: Future[str] = Future()
        self._jobs.put((job, done))
        return done.result(wait)

    def close(self) -> None:
        """End the thread after its current job (an abandoned one ends when Tesseract returns)."""
        self._jobs.put(None)

    def _serve(self, make_api: Callable[[], Api]) -> None:
        api: Api | None = None
        try:
            while (item := self._jobs.get()) is not None:
                job, done = item
                try:
                    api = api or make_api()
                    done.set_result(job(api))
                except BaseException as exc:  # handed to the caller, whatever it is
                    done.set_exception(exc)
        finally:
            if api is not None:
                api.End()


class Tesseract:
    """Tesseract with fixed options; `probe()` once before use (cached, thread-safe)."""

    def __init__(
        self,
        data_dir: str = "",
        *,
        timeout: float = 10.0,
        grace: float = GRACE,
        api_factory: ApiFactory = tesserocr_api,
        required_languages: tuple[str, ...] = ("eng",),
    ) -> None:
        self.data_dir = data_dir
        self.timeout = timeout
        self.grace = grace
        self.api_factory = api_factory
        self.required_languages = required_languages
        self.folder: str | None = None
        self._lock = threading.Lock()
        self._local = threading.local()

    def probe(self) -> None:
        """Check once that tesserocr loads and the language data is installed and usable."""
        with self._lock:
            if self.folder is not None:
                return
            folder = data_folder(self.data_dir, self.required_languages)
            for lang in self.required_languages:
                try:
                    self.api_factory(folder, lang).End()
                except ImportError as exc:
                    raise ToolMissingError(f"tesserocr fehlt: {exc}") from exc
                except RuntimeError as exc:
                    raise ToolMissingError(f"Tesseract startet nicht ({lang}): {exc}") from exc
            self.folder = folder

    def words(
        self, image: np.ndarray, *, psm: int = 7, whitelist: str | None = None, lang: str = "eng"
    ) -> list[Word]:
        """Recognise `image` (gray or BGR); return the words with confidences."""
        self.probe()
        if image.size == 0 or image.shape[0] * image.shape[1] > MAX_PIXELS:
            raise TesseractFailed("tesseract_bad_input", f"image of {image.shape} not recognised")
        picture = Image.fromarray(image if image.ndim == 2 else image[:, :, ::-1].copy())
        variables = {"tessedit_char_whitelist": whitelist} if whitelist else {}
        timeout_ms = max(1, int(self.timeout * 1000))

        def job(api: Api) -> str:
            return _recognise(api, picture, psm, variables, timeout_ms)

        return parse_tsv(self._run(job, lang))

    def _run(self, job: Job, lang: str) -> str:
        recognisers = self._local.__dict__.setdefault("recognisers", _ThreadRecognisers())
        if lang not in recognisers:
            folder = self.folder or ""
            recognisers[lang] = _Recogniser(lambda: self.api_factory(folder, lang))
            # the recognition thread ends with the calling thread (or with this object)
            weakref.finalize(recognisers, recognisers[lang].close)
        start = time.monotonic()
        try:
            return recognisers[lang].run(job, self.timeout + self.grace)
        except TimeoutError as exc:
            recognisers.pop(lang).close()
            log.warning("Tesseract overran %g s: its API is abandoned", self.timeout)
            raise TesseractFailed(
                "tesseract_timeout", f"Tesseract did not finish within {self.timeout:g} s"
            ) from exc
        except _Cancelled as exc:
            raise TesseractFailed(
                "tesseract_timeout", f"Tesseract stopped after {time.monotonic() - start:.1f} s"
            ) from exc
        except TesseractFailed:
            raise
        except Exception as exc:  # whatever the binding raised on this image
            recognisers.pop(lang).close()
            raise TesseractFailed("tesseract_crashed", f"{type(exc).__name__}: {exc}") from exc


class _ThreadRecognisers(dict[str, _Recogniser]):
    """One calling thread's recognisers by language (a dict that can be weakly referenced)."""


class _Cancelled(Exception):
    """Tesseract gave up at its own timeout."""


def _recognise(
    api: Api, picture: Image.Image, psm: int, variables: dict[str, str], timeout_ms: int
) -> str:
    """One recognition on the recognition thread, the API's variables restored after it."""
    defaults = {key: api.GetVariableAsString(key) or "" for key in variables}
    try:
        for key, value in variables.items():
            api.SetVariable(key, value)
        api.SetPageSegMode(psm)
        api.SetImage(picture)
        api.SetSourceResolution(DPI)
        start = time.monotonic()
        if not api.Recognize(timeout=timeout_ms):
            if (time.monotonic() - start) * 1000 >= timeout_ms:
                raise _Cancelled
            raise TesseractFailed("tesseract_crashed", "Tesseract could not recognise the image")
        return api.GetTSVText(0)
    finally:
        for key, value in defaults.items():
            api.SetVariable(key, value)


def parse_tsv(text: str) -> list[Word]:
    """Parse Tesseract's TSV rows (with or without the header line the program prints); raise
    `TesseractFailed` when it is not TSV at all."""
    words = []
    for line in text.splitlines():
        if line.startswith("level\t"):
            continue
        cols = line.split("\t")
        if len(cols) < 12:
            raise TesseractFailed("tesseract_garbage", f"not a TSV row: {line[:80]!r}")
        if not cols[11].strip():
            continue
        try:
            conf = float(cols[10])
            box = (int(cols[6]), int(cols[7]), int(cols[8]), int(cols[9]))
        except ValueError as exc:
            raise TesseractFailed("tesseract_garbage", f"bad TSV row: {line[:80]!r}") from exc
        words.append(Word(cols[11].strip(), max(0.0, min(1.0, conf / 100.0)), box))
    return words
