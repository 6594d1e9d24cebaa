"""Intake throughput: mails per second through the whole pipeline (real OCR on rendered meter
photos), for 1 and for N worker processes, each on a fresh database, in the same run.

    .venv/bin/python bench/intake.py [--mails 40] [--workers 1 --workers 2] [--backend postgresql]
                                     [--ocr-threads 1]

Each run imports master data, starts the worker processes (bench/fault_worker.py --ocr, Maildir
with inotify), waits until every one is up, then delivers the mails and measures until every mail
is decided and moved (SMTP off: replies stay queued).

Besides the wall clock, which on a shared machine follows the other jobs, it prints what scaling
can be judged by there: CPU seconds per mail (all workers together), and per worker the share of
the run it was on a CPU (`cpu`), waiting for one (`runq`: ready, but the machine was busy) and
off both (`off`: waiting for the database, the disk, a lock, or out of work). A worker that is
always on a CPU or waiting for one scales with free cores; `off` is what more cores cannot buy.
On PostgreSQL a sampler counts the moments any backend of the run waited for a lock.
"""

from __future__ import annotations

import argparse
import mailbox
import os
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from tqdm import tqdm

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.fleet import customer_mail, fresh_database, master_data, start_worker, tally  # noqa: E402
from core.context import AppContext  # noqa: E402
from core.migrate import upgrade  # noqa: E402
from core.settings import load_settings  # noqa: E402
from tests.crash import wait_for_line  # noqa: E402

SETTLE_SECONDS = 900.0
TICKS = os.sysconf("SC_CLK_TCK")


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


@dataclass(frozen=True)
class Usage:
    """One process's CPU seconds (all threads, ended ones too) and, over its live threads, the
    seconds on a CPU and waiting in the run queue (/proc/<pid>/task/*/schedstat)."""

    cpu: float
    on_cpu: float
    runq: float

    @classmethod
    def of(cls, pid: int) -> Usage:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()
        cpu = (int(fields[11]) + int(fields[12])) / TICKS
        on_cpu = runq = 0
        for task in Path(f"/proc/{pid}/task").iterdir():
            try:
                run, wait, _ = (task / "schedstat").read_text().split()
            except (OSError, ValueError):
                continue  # the thread ended meanwhile
            on_cpu, runq = on_cpu + int(run), runq + int(wait)
        return cls(cpu, on_cpu / 1e9, runq / 1e9)

    def __sub__(self, other: Usage) -> Usage:
        return Usage(self.cpu - other.cpu, self.on_cpu - other.on_cpu, self.runq - other.runq)


class LockSampler:
    """Every 20 ms: does any backend of this database wait for a lock (pg_stat_activity)?"""

    def __init__(self, url: str) -> None:
        self.engine = create_engine(url, isolation_level="AUTOCOMMIT")
        self.database = make_url(url).database
        self.samples = self.waiting = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        query = text(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = :db AND wait_event_type = 'Lock'"
        )
        with self.engine.connect() as conn:
            while not self.stop.wait(0.02):
                self.samples += 1
                self.waiting += bool(conn.execute(query, {"db": self.database}).scalar())

    def close(self) -> str:
        self.stop.set()
        self.thread.join()
        self.engine.dispose()
        share = self.waiting / self.samples if self.samples else 0.0
        return f"lock waits in {self.waiting} of {self.samples} samples ({share:.1%})"


@dataclass(frozen=True)
class Run:
    workers: int
    seconds: float
    usages: list[Usage]
    outcome: str
    locks: str


def run(backend: str, workers: int, images: list[bytes], tmp: Path, ocr_threads: int) -> Run:
    """Seconds from delivery until every mail is done, each worker's usage, the outcome counts."""
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
        threads = {"METER_INTAKE_OCR_THREADS": str(ocr_threads)}
        procs = [start_worker(settings, "--ocr", **threads) for _ in range(workers)]
        try:
            for proc in procs:
                wait_for_line(proc, "READY")
            sampler = LockSampler(url) if backend == "postgresql" else None
            before = [Usage.of(proc.pid) for proc in procs]
            start = time.monotonic()
            for i, photo in enumerate(images):
                box.add(customer_mail(i, photo))
            while not tally(ctx).done(len(images), sent=False):
                if time.monotonic() - start > SETTLE_SECONDS:
                    raise SystemExit(f"not done after {SETTLE_SECONDS:.0f} s: {tally(ctx)}")
                time.sleep(0.1)
            elapsed = time.monotonic() - start
            usages = [Usage.of(proc.pid) - b for proc, b in zip(procs, before, strict=True)]
            locks = sampler.close() if sampler else "no lock sampling on SQLite"
        finally:
            _stop(procs)
        outcome = _outcome(ctx)
        ctx.engine.dispose()
    return Run(workers, elapsed, usages, outcome, locks)


def _stop(procs: list[subprocess.Popen[str]]) -> None:
    for proc in procs:
        proc.terminate()
    for proc in procs:
        proc.wait(timeout=60)


def _outcome(ctx: AppContext) -> str:
    from sqlalchemy import func, select

    from core.models import InboundMessage

    with ctx.sessions() as session:
        rows = session.execute(
            select(InboundMessage.status, func.count()).group_by(InboundMessage.status)
        ).all()
    return ", ".join(f"{n} {status}" for status, n in sorted(rows))


def report(result: Run, mails: int, base: float, backend: str) -> str:
    rate = mails / result.seconds
    cpu = sum(u.cpu for u in result.usages)
    lines = [
        f"backend: {backend}  workers: {result.workers}  mails: {mails}  seconds: "
        f"{result.seconds:.2f}  mails/s: {rate:.2f}  ×{rate / base:.2f} of 1 worker  "
        f"CPU s/mail: {cpu / mails:.3f}  ({result.outcome}; {result.locks})"
    ]
    for n, usage in enumerate(result.usages, 1):
        off = max(result.seconds - usage.on_cpu - usage.runq, 0.0)  # threads may overlap
        share = [usage.cpu, usage.runq, off]
        cpu_share, runq_share, off_share = (x / result.seconds for x in share)
        lines.append(
            f"  worker {n}: cpu {cpu_share:.0%}  runq {runq_share:.0%}  off {off_share:.0%}  "
            f"({usage.cpu:.1f} CPU s)"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mails", type=int, default=40)
    parser.add_argument("--workers", type=int, action="append")
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="postgresql")
    parser.add_argument("--ocr-threads", type=int, default=1, help="the workers' ocr_threads")
    args = parser.parse_args()
    images = photos(args.mails)
    base = None
    for workers in args.workers or [1, 2]:
        with tempfile.TemporaryDirectory(prefix="mi-intake-") as tmp:
            result = run(args.backend, workers, images, Path(tmp), args.ocr_threads)
        base = base or args.mails / result.seconds
        print(report(result, args.mails, base, args.backend), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
