"""The one wrapper around the `tesseract` program: arguments, timeout, stderr to the log.

Failures are sorted the way the pipeline needs them:
- *abort*: the program or its language data is missing -> `ToolMissingError` (nothing works until
  an administrator installs it; raised by `probe()` and by any call that finds the program gone);
- *degrade*: a crash, a timeout or unparsable output on one image -> `TesseractFailed` (an
  `OcrToolError` with a machine `reason`); the photo goes to review, the worker carries on.

The process runner is injectable so tests can simulate timeouts, crashes and a missing program.
"""

from __future__ import annotations

import logging
import os
import subprocess
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from core.errors import OcrToolError, ToolMissingError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunResult:
    returncode: int
    stdout: bytes
    stderr: bytes


# (argv, stdin bytes, timeout seconds) -> RunResult; raises TimeoutError or OSError (e.g. not found)
Runner = Callable[[Sequence[str], bytes, float], RunResult]


# Tesseract's OpenMP threads cost more than they give on one small image, and much more when
# several OCR workers share the cores: one thread roughly halves the time of a plate read.
SINGLE_THREAD = {"OMP_THREAD_LIMIT": "1"}


def subprocess_runner(argv: Sequence[str], stdin: bytes, timeout: float) -> RunResult:
    """Run a program for real. The only `subprocess` call in meter-intake."""
    env = {**os.environ, **SINGLE_THREAD}
    try:
        done = subprocess.run(  # noqa: S603 - argv is built here from fixed options
            list(argv), input=stdin, capture_output=True, timeout=timeout, check=False, env=env
        )
    except subprocess.TimeoutExpired as exc:
        raise TimeoutError(f"{argv[0]} did not finish within {timeout:g} s") from exc
    return RunResult(done.returncode, done.stdout, done.stderr)


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


class Tesseract:
    """Tesseract with fixed options; `probe()` once before use (cached, thread-safe)."""

    def __init__(
        self,
        cmd: str = "tesseract",
        *,
        timeout: float = 10.0,
        runner: Runner = subprocess_runner,
        required_languages: tuple[str, ...] = ("eng",),
    ) -> None:
        self.cmd = cmd
        self.timeout = timeout
        self.runner = runner
        self.required_languages = required_languages
        self._probed = False
        self._lock = threading.Lock()

    def _run(self, args: Sequence[str], stdin: bytes = b"") -> RunResult:
        argv = [self.cmd, *args]
        try:
            result = self.runner(argv, stdin, self.timeout)
        except TimeoutError as exc:
            raise TesseractFailed("tesseract_timeout", str(exc)) from exc
        except (FileNotFoundError, PermissionError) as exc:
            raise ToolMissingError(
                f"Tesseract nicht gefunden ({self.cmd!r}): bitte tesseract-ocr installieren "
                "oder METER_INTAKE_TESSERACT_CMD setzen"
            ) from exc
        except OSError as exc:
            raise TesseractFailed("tesseract_crashed", f"cannot run {self.cmd}: {exc}") from exc
        if result.stderr.strip():
            log.debug("tesseract stderr: %s", result.stderr.decode("utf-8", "replace").strip())
        return result

    def probe(self) -> None:
        """Check once that the program runs and its language data is installed."""
        with self._lock:
            if self._probed:
                return
            try:
                result = self._run(["--list-langs"])
            except TesseractFailed as exc:
                raise ToolMissingError(f"Tesseract antwortet nicht: {exc}") from exc
            listed = (result.stdout + result.stderr).decode("utf-8", "replace").split()
            missing = [lang for lang in self.required_languages if lang not in listed]
            if result.returncode != 0 or missing:
                raise ToolMissingError(
                    f"Tesseract-Sprachdaten fehlen: {', '.join(missing) or 'unbekannt'} "
                    "(apt install tesseract-ocr-eng tesseract-ocr-deu)"
                )
            self._probed = True

    def words(
        self, image: np.ndarray, *, psm: int = 7, whitelist: str | None = None, lang: str = "eng"
    ) -> list[Word]:
        """Recognise `image` (gray or BGR); return the words with confidences (TSV output)."""
        self.probe()
        ok, png = cv2.imencode(".png", image)
        if not ok:
            raise TesseractFailed("tesseract_bad_input", "cannot encode image for tesseract")
        args = ["stdin", "stdout", "-l", lang, "--psm", str(psm), "--dpi", "300"]
        if whitelist:
            args += ["-c", f"tessedit_char_whitelist={whitelist}"]
        result = self._run([*args, "tsv"], png.tobytes())
        if result.returncode != 0:
            message = result.stderr.decode("utf-8", "replace").strip()[-300:]
            raise TesseractFailed("tesseract_crashed", f"exit {result.returncode}: {message}")
        return parse_tsv(result.stdout.decode("utf-8", "replace"))


def parse_tsv(text: str) -> list[Word]:
    """Parse Tesseract's TSV output; raise `TesseractFailed` when it is not TSV at all."""
    lines = text.splitlines()
    if not lines or not lines[0].startswith("level\t"):
        raise TesseractFailed("tesseract_garbage", "tesseract output is not TSV")
    words = []
    for line in lines[1:]:
        cols = line.split("\t")
        if len(cols) < 12 or not cols[11].strip():
            continue
        try:
            conf = float(cols[10])
            box = (int(cols[6]), int(cols[7]), int(cols[8]), int(cols[9]))
        except ValueError as exc:
            raise TesseractFailed("tesseract_garbage", f"bad TSV row: {line[:80]!r}") from exc
        words.append(Word(cols[11].strip(), max(0.0, min(1.0, conf / 100.0)), box))
    return words
