"""The one wrapper around the `tesseract` program: arguments, timeout, stderr to the log.

Failures are sorted the way the pipeline needs them:
- *abort*: the program or its language data is missing -> `ToolMissingError` (nothing works until
  an administrator installs it; raised by `probe()` and by any call that finds the program gone);
- *degrade*: a crash, a timeout or unparsable output on one image -> `TesseractFailed` (an
  `OcrToolError` with a machine `reason`); the photo goes to review, the worker carries on.

The process runner is injectable so tests can simulate timeouts, crashes and a missing program.
By default recognition runs in a resident helper process (`ResidentRunner`, with
`tesseract_server.py`) that keeps the language data loaded; it answers like the program. This
module holds meter-intake's only `subprocess` calls.
"""

from __future__ import annotations

import json
import logging
import os
import re
import select
import subprocess
import sys
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from core.errors import OcrToolError, ToolMissingError
from ocr import tesseract_server

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
    """Run a program once, for real, and wait for it."""
    env = {**os.environ, **SINGLE_THREAD}
    try:
        done = subprocess.run(  # noqa: S603 - argv is built here from fixed options
            list(argv), input=stdin, capture_output=True, timeout=timeout, check=False, env=env
        )
    except subprocess.TimeoutExpired as exc:
        raise TimeoutError(f"{argv[0]} did not finish within {timeout:g} s") from exc
    return RunResult(done.returncode, done.stdout, done.stderr)


class ResidentRunner:
    """A `Runner` that answers recognition calls from one long-lived helper process
    (`ocr.tesseract_server`) which keeps Tesseract's language data loaded: ~10 ms a call instead
    of the ~100 ms the program spends starting. Same argv, same answers as the program. Calls the
    helper does not handle (`--list-langs`) run the program; so does everything when the helper
    cannot start (then once a warning). A helper that overruns the timeout is killed (TimeoutError,
    as from the program); one that dies answers like a crashed program; the next call starts a
    new one. One call at a time; a forked process starts its own helper."""

    def __init__(
        self, *, command: Sequence[str] | None = None, fallback: Runner = subprocess_runner
    ) -> None:
        self.command = list(command or [sys.executable, tesseract_server.__file__])
        self.fallback = fallback
        self.available = True
        self._helper: subprocess.Popen[bytes] | None = None
        self._owner = 0
        self._lock = threading.Lock()

    def __call__(self, argv: Sequence[str], stdin: bytes, timeout: float) -> RunResult:
        if not self.available or list(argv[1:3]) != ["stdin", "stdout"]:
            return self.fallback(argv, stdin, timeout)
        with self._lock:
            helper = self._running(timeout)
            if helper is None:
                return self.fallback(argv, stdin, timeout)
            return self._ask(helper, argv, stdin, timeout)

    def close(self) -> None:
        with self._lock:
            self._stop()

    def _running(self, timeout: float) -> subprocess.Popen[bytes] | None:
        if self._helper is not None and self._owner == os.getpid():
            return self._helper
        env = {**os.environ, **SINGLE_THREAD}
        helper = subprocess.Popen(  # noqa: S603 - fixed command: this interpreter, our module
            self.command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env
        )
        try:
            ready = _read_within(helper, len(tesseract_server.READY), time.monotonic() + timeout)
        except (TimeoutError, EOFError) as exc:
            ready = repr(exc).encode()
        if ready != tesseract_server.READY:
            helper.kill()
            helper.wait()
            self.available = False
            log.warning("resident Tesseract did not start (%r): one process per call", ready)
            return None
        self._helper, self._owner = helper, os.getpid()
        weakref.finalize(self, _end, helper)
        return helper

    def _ask(
        self, helper: subprocess.Popen[bytes], argv: Sequence[str], stdin: bytes, timeout: float
    ) -> RunResult:
        assert helper.stdin is not None
        args = json.dumps(list(argv[1:])).encode()
        deadline = time.monotonic() + timeout
        try:
            helper.stdin.write(tesseract_server.REQUEST.pack(len(args), len(stdin)) + args + stdin)
            helper.stdin.flush()
            head = _read_within(helper, tesseract_server.ANSWER.size, deadline)
            code, out_len, err_len = tesseract_server.ANSWER.unpack(head)
            body = _read_within(helper, out_len + err_len, deadline)
        except TimeoutError as exc:
            self._stop()
            raise TimeoutError(f"{argv[0]} did not finish within {timeout:g} s") from exc
        except (EOFError, BrokenPipeError):
            self._stop()
            code = helper.returncode or -1
            return RunResult(code, b"", f"resident Tesseract process died (exit {code})".encode())
        return RunResult(code, body[:out_len], body[out_len:])

    def _stop(self) -> None:
        if self._helper is not None and self._owner == os.getpid():
            self._helper.kill()
            self._helper.wait()
        self._helper = None


def _end(helper: subprocess.Popen[bytes]) -> None:
    """A forgotten runner's helper: closing its input ends it."""
    if helper.stdin is not None and helper.returncode is None:
        helper.stdin.close()


def _read_within(helper: subprocess.Popen[bytes], n: int, deadline: float) -> bytes:
    """Exactly `n` bytes from the helper's stdout by `deadline` (TimeoutError), or EOFError."""
    assert helper.stdout is not None
    fd = helper.stdout.fileno()
    chunks: list[bytes] = []
    missing = n
    while missing:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            raise TimeoutError(f"no answer within the deadline ({missing} bytes missing)")
        chunk = os.read(fd, missing)
        if not chunk:
            raise EOFError("helper closed its output")
        chunks.append(chunk)
        missing -= len(chunk)
    return b"".join(chunks)


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
        runner: Runner | None = None,
        required_languages: tuple[str, ...] = ("eng",),
    ) -> None:
        self.cmd = cmd
        self.timeout = timeout
        self.runner = runner or ResidentRunner()
        self.required_languages = required_languages
        self.tessdata: str | None = None
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
            text = (result.stdout + result.stderr).decode("utf-8", "replace")
            listed = text.split()
            missing = [lang for lang in self.required_languages if lang not in listed]
            if result.returncode != 0 or missing:
                raise ToolMissingError(
                    f"Tesseract-Sprachdaten fehlen: {', '.join(missing) or 'unbekannt'} "
                    "(apt install tesseract-ocr-eng tesseract-ocr-deu)"
                )
            self.tessdata = _data_folder(text)
            self._probed = True

    def words(
        self, image: np.ndarray, *, psm: int = 7, whitelist: str | None = None, lang: str = "eng"
    ) -> list[Word]:
        """Recognise `image` (gray or BGR); return the words with confidences (TSV output)."""
        self.probe()
        ok, png = cv2.imencode(".png", image)
        if not ok:
            raise TesseractFailed("tesseract_bad_input", "cannot encode image for tesseract")
        folder = ["--tessdata-dir", self.tessdata] if self.tessdata else []
        args = ["stdin", "stdout", *folder, "-l", lang, "--psm", str(psm), "--dpi", "300"]
        if whitelist:
            args += ["-c", f"tessedit_char_whitelist={whitelist}"]
        result = self._run([*args, "tsv"], png.tobytes())
        if result.returncode != 0:
            message = result.stderr.decode("utf-8", "replace").strip()[-300:]
            raise TesseractFailed("tesseract_crashed", f"exit {result.returncode}: {message}")
        return parse_tsv(result.stdout.decode("utf-8", "replace"))


def _data_folder(list_langs: str) -> str | None:
    """The language data folder `--list-langs` names: `List of ... languages in "/usr/...":`."""
    found = re.search(r'languages in "([^"]+)"', list_langs)
    return found.group(1) if found else None


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
