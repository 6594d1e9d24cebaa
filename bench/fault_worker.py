"""A worker process for the kill -9 tests and `bench/faults.py`.

    python bench/fault_worker.py [--pause-at fetch|read|data|sent] [--ocr] [--once]
                                 [--report-sent] [--standby]

Settings come from the environment (`METER_INTAKE_*`). Without `--ocr` the photos are "read" by
`marked_reader`: a photo made by `marked_photo("04521")` reads as 04521, confidently, so the
faults, not the OCR, decide what happens. `--pause-at` prints `PAUSED <point>` on stdout when the
worker reaches that point and then waits to be killed:
fetch: a mail is being fetched; read: a mail is claimed and being read; data: the outbox row is
marked `sending` and DATA is about to go out; sent: the server accepted the mail and it is marked
sent.
`--report-sent` prints `SENT <Message-ID> <monotonic seconds>` once the `sent` mark of a mail is
committed. `--standby` starts up (imports, database connection) and then waits for a line on stdin
before it works: a warm spare that takes over the moment a killed worker is gone.
"""

from __future__ import annotations

import argparse
import re
import sys
import threading
import time
from collections.abc import Sequence
from email.message import EmailMessage
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from core.context import AppContext  # noqa: E402
from core.settings import Settings, load_settings  # noqa: E402
from core.types import MeterHint, MeterRead  # noqa: E402
from intake.sources import MailSource, RawMailRef  # noqa: E402
from intake.worker import make_source, run_worker  # noqa: E402
from notifications.smtp import Hook, SmtpSender  # noqa: E402

MARK = re.compile(rb"METER-READING=(\d+)")


def marked_photo(reading: str) -> bytes:
    """JPEG magic and a marker `marked_reader` reads back."""
    return b"\xff\xd8\xff\xe0" + b"METER-READING=" + reading.encode() + b"\n"


def marked_reader(data: bytes, hints: Sequence[MeterHint], settings: Settings) -> list[MeterRead]:
    found = MARK.search(data)
    if found is None:
        return [MeterRead(reading=None, reason="unreadable")] * len(hints)
    return [MeterRead(reading=found.group(1).decode(), confidence=0.99, accepted=True)] * len(hints)


def pause(point: str) -> None:
    print(f"PAUSED {point}", flush=True)
    threading.Event().wait()


class PausingSource:
    """The configured source, pausing in the middle of the first fetch."""

    def __init__(self, inner: MailSource) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> object:
        return getattr(self._inner, name)

    @property
    def name(self) -> str:
        return self._inner.name

    def fetch(self, ref: RawMailRef) -> bytes:
        self._inner.fetch(ref)
        pause("fetch")
        return b""


class PausingSender(SmtpSender):
    def __init__(self, settings: Settings, point: str, *, report_sent: bool = False) -> None:
        super().__init__(settings)
        self.point = point
        self.report_sent = report_sent

    def deliver(self, message: EmailMessage, *, before_data: Hook, accepted: Hook) -> None:
        def data() -> None:
            before_data()
            if self.point == "data":
                pause("data")

        def sent() -> None:
            accepted()
            if self.report_sent:
                print(f"SENT {message['Message-ID']} {time.monotonic():.6f}", flush=True)
            if self.point == "sent":
                pause("sent")

        super().deliver(message, before_data=data, accepted=sent)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pause-at", choices=("fetch", "read", "data", "sent"), default="")
    parser.add_argument("--ocr", action="store_true", help="read the photos with the real OCR")
    parser.add_argument("--once", action="store_true")
    parser.add_argument("--report-sent", action="store_true")
    parser.add_argument("--standby", action="store_true")
    args = parser.parse_args()
    settings = load_settings()
    ctx = AppContext.from_settings(settings)
    source: MailSource = make_source(settings)
    if args.pause_at == "fetch":
        source = PausingSource(source)  # type: ignore[assignment]
    reader = marked_reader
    if args.pause_at == "read":

        def reader(data: bytes, hints: Sequence[MeterHint], settings: Settings) -> list[MeterRead]:
            pause("read")
            raise AssertionError("unreachable")

    if args.ocr:
        from intake.pipeline import ocr_reader

        reader = ocr_reader
    sender = PausingSender(settings, args.pause_at, report_sent=args.report_sent)
    print("READY", flush=True)
    if args.standby:
        sys.stdin.readline()
    run_worker(ctx, once=args.once, source=source, sender=sender, reader=reader)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
