"""Intake throughput: mails per second through the whole pipeline (real OCR on rendered meter
photos), for 1 and for N worker processes, each on a fresh database, in the same run.

    .venv/bin/python bench/intake.py [--mails 40] [--workers 1 --workers 2] [--backend postgresql]

Each run imports master data, starts the worker processes (bench/fault_worker.py --ocr, Maildir
with inotify), waits until every one is up, then delivers the mails and measures until every mail
is decided and moved (SMTP off: replies stay queued).
"""

from __future__ import annotations

import argparse
import mailbox
import sys
import tempfile
import time
from pathlib import Path

from tqdm import tqdm

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.fleet import customer_mail, fresh_database, master_data, start_worker, tally  # noqa: E402
from core.context import AppContext  # noqa: E402
from core.migrate import upgrade  # noqa: E402
from core.settings import load_settings  # noqa: E402
from tests.crash import wait_for_line  # noqa: E402

SETTLE_SECONDS = 900.0


def photos(count: int) -> list[bytes]:
    from ocr import synth

    return [
        synth.encode_jpeg(
            synth.render_drum_meter(
                f"{100 + i:05d}", "250", seed=i, angle=(i % 7) * 3 - 9, meter_number=f"7WAS{i:07d}"
            )
        )
        for i in tqdm(range(count), desc="Fotos erzeugen", unit="Foto")
    ]


def run(backend: str, workers: int, images: list[bytes], tmp: Path) -> tuple[float, str]:
    """Seconds from delivery until every mail is done, and the outcome counts."""
    with fresh_database(backend, tmp) as url:
        settings = load_settings(
            var_dir=tmp / f"var-{workers}", database_url=url, smtp_enabled=False,
            log_level="WARNING", _env_file=None,
        )  # fmt: skip
        ctx = AppContext.from_settings(settings)
        upgrade(ctx.engine)
        from matching.masterdata import import_csv

        import_csv(ctx, master_data(tmp / "stamm.csv", len(images)), progress=False)
        settings.effective_maildir.parent.mkdir(parents=True, exist_ok=True)
        box = mailbox.Maildir(settings.effective_maildir, create=True)
        procs = [start_worker(settings, "--ocr") for _ in range(workers)]
        try:
            for proc in procs:
                wait_for_line(proc, "READY")
            start = time.monotonic()
            for i, photo in enumerate(images):
                box.add(customer_mail(i, photo))
            while not tally(ctx).done(len(images), sent=False):
                if time.monotonic() - start > SETTLE_SECONDS:
                    raise SystemExit(f"not done after {SETTLE_SECONDS:.0f} s: {tally(ctx)}")
                time.sleep(0.1)
            elapsed = time.monotonic() - start
        finally:
            for proc in procs:
                proc.terminate()
                proc.wait(timeout=60)
        outcome = _outcome(ctx)
        ctx.engine.dispose()
    return elapsed, outcome


def _outcome(ctx: AppContext) -> str:
    from sqlalchemy import func, select

    from core.models import InboundMessage

    with ctx.sessions() as session:
        rows = session.execute(
            select(InboundMessage.status, func.count()).group_by(InboundMessage.status)
        ).all()
    return ", ".join(f"{n} {status}" for status, n in sorted(rows))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mails", type=int, default=40)
    parser.add_argument("--workers", type=int, action="append")
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="postgresql")
    args = parser.parse_args()
    images = photos(args.mails)
    base = None
    for workers in args.workers or [1, 2]:
        with tempfile.TemporaryDirectory(prefix="mi-intake-") as tmp:
            seconds, outcome = run(args.backend, workers, images, Path(tmp))
        rate = args.mails / seconds
        base = base or rate
        print(
            f"backend: {args.backend}  workers: {workers}  mails: {args.mails}  "
            f"seconds: {seconds:.2f}  mails/s: {rate:.2f}  ×{rate / base:.2f} of 1 worker  "
            f"({outcome})",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
