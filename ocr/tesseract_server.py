"""The resident Tesseract helper, started by `ocr.tesseract` as a script (`python
ocr/tesseract_server.py`: it imports only the standard library, Pillow and tesserocr, not the
OCR package).

Loading Tesseract's language data costs ~0.1 s, far more than recognising a few rows of a meter
plate (~10 ms). This process loads it once (through tesserocr, Tesseract's C++ API) and then
answers requests on stdin/stdout until stdin closes. A request is the `tesseract` program's own
argv and stdin (the subset `ocr.tesseract` builds); the answer is what the program would have
returned: exit code, stdout (TSV with its header line) and what the library wrote to stderr.

Frames (big-endian): request `>II` argv-JSON length, image length, then both; answer `>iII`
exit code, stdout length, stderr length, then both. The helper writes `READY` once at start.
"""

from __future__ import annotations

import io
import json
import os
import struct
import sys
import tempfile
from dataclasses import dataclass, field
from typing import IO, Any

READY = b"READY"
REQUEST = struct.Struct(">II")
ANSWER = struct.Struct(">iII")
TSV_HEADER = (
    "level\tpage_num\tblock_num\tpar_num\tline_num\tword_num\tleft\ttop\twidth\theight\tconf\ttext"
)


class BadRequest(ValueError):
    pass


@dataclass
class Request:
    """The options of `tesseract stdin stdout [options] tsv` that `ocr.tesseract` uses."""

    tessdata: str | None = None
    lang: str = "eng"
    psm: int = 3
    dpi: int = 0
    variables: dict[str, str] = field(default_factory=dict)


def parse_argv(args: list[str]) -> Request:
    """`args` without the program name; anything else than the known options is refused."""
    if args[:2] != ["stdin", "stdout"] or args[-1:] != ["tsv"]:
        raise BadRequest(f"unsupported tesseract call: {args!r}")
    request = Request()
    options = iter(args[2:-1])
    for option in options:
        value = next(options, None)
        if value is None:
            raise BadRequest(f"{option} without a value")
        if option == "--tessdata-dir":
            request.tessdata = value
        elif option == "-l":
            request.lang = value
        elif option == "--psm":
            request.psm = int(value)
        elif option == "--dpi":
            request.dpi = int(value)
        elif option == "-c" and "=" in value:
            key, _, setting = value.partition("=")
            request.variables[key] = setting
        else:
            raise BadRequest(f"unsupported option {option} {value}")
    return request


class Recogniser:
    """One initialised tesserocr API per (data folder, language), reused for every request."""

    def __init__(self) -> None:
        import tesserocr  # only the helper process needs the binding

        self._tesserocr: Any = tesserocr
        self._apis: dict[tuple[str | None, str], Any] = {}

    def _api(self, request: Request) -> Any:
        key = (request.tessdata, request.lang)
        if key not in self._apis:
            path = request.tessdata or os.environ.get("TESSDATA_PREFIX", "")
            self._apis[key] = self._tesserocr.PyTessBaseAPI(path=path, lang=request.lang)
        return self._apis[key]

    def run(self, args: list[str], image: bytes) -> tuple[int, bytes]:
        from PIL import Image

        request = parse_argv(args)
        api = self._api(request)
        defaults = {key: api.GetVariableAsString(key) for key in request.variables}
        try:
            for key, value in request.variables.items():
                api.SetVariable(key, value)
            api.SetPageSegMode(request.psm)
            with Image.open(io.BytesIO(image)) as picture:
                api.SetImage(picture)
            if request.dpi:
                api.SetSourceResolution(request.dpi)
            if not api.Recognize():
                return 1, b""
            tsv = api.GetTSVText(0)
        finally:
            for key, value in defaults.items():
                api.SetVariable(key, value or "")
        return 0, (TSV_HEADER + "\n" + tsv).encode()


def _read_exactly(stream: IO[bytes], n: int) -> bytes | None:
    data = stream.read(n)
    if len(data) < n:
        return None
    return data


def _captured(stderr: IO[bytes]) -> bytes:
    stderr.flush()
    stderr.seek(0)
    text = stderr.read()
    stderr.seek(0)
    stderr.truncate()
    return text


def serve(requests: IO[bytes], answers: IO[bytes], stderr: IO[bytes]) -> None:
    """Answer requests until `requests` closes; `stderr` is where file descriptor 2 points."""
    recogniser = Recogniser()
    answers.write(READY)
    answers.flush()
    while (head := _read_exactly(requests, REQUEST.size)) is not None:
        argv_len, image_len = REQUEST.unpack(head)
        body = _read_exactly(requests, argv_len + image_len)
        if body is None:
            return
        try:
            code, out = recogniser.run(json.loads(body[:argv_len]), body[argv_len:])
        except Exception as exc:  # any failure is the answer, not the end
            code, out = 1, b""
            os.write(2, f"{type(exc).__name__}: {exc}\n".encode())
        err = _captured(stderr)
        answers.write(ANSWER.pack(code, len(out), len(err)) + out + err)
        answers.flush()


def main() -> None:
    # The answers get a private copy of stdout; file descriptors 1 and 2 (where Tesseract prints
    # its warnings) go to a scratch file that is read back into each answer.
    with os.fdopen(os.dup(1), "wb") as answers, tempfile.TemporaryFile() as stderr:
        os.dup2(stderr.fileno(), 1)
        os.dup2(stderr.fileno(), 2)
        serve(sys.stdin.buffer, answers, stderr)


if __name__ == "__main__":
    main()
