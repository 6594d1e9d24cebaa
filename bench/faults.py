"""Faults, the long version: customer mails through a real Dovecot → worker processes → a real
aiosmtpd, while worker processes are killed with SIGKILL at random moments (and restarted, as a
supervisor would), on SQLite and on PostgreSQL.

    .venv/bin/python bench/faults.py [--mails 300] [--kills 12] [--workers 2]
                                     [--backend sqlite] [--backend postgresql] [--seed 1]

The mails arrive in waves, one before each kill, so every kill lands in running work. Photos are
read by `fault_worker.marked_reader` (the faults decide what happens, not the OCR). Prints per
backend: mails lost, readings duplicated, customer mails sent twice, mails stuck, and the time from
each kill until the work the killed process held (claimed mails, outbox rows) is done.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from email import message_from_bytes
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from imapclient import IMAPClient
from sqlalchemy import func, select

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.fault_worker import marked_photo  # noqa: E402
from bench.fleet import customer_mail, fresh_database, master_data, start_worker, tally  # noqa: E402
from core.context import AppContext  # noqa: E402
from core.migrate import upgrade  # noqa: E402
from core.models import InboundMessage, Outbox, Reading  # noqa: E402
from core.settings import Settings, load_settings  # noqa: E402
from tests.fixtures_dovecot import PASSWORD, USER, _running, write_config  # noqa: E402
from tests.ports import free_port  # noqa: E402

SETTLE_SECONDS = 240.0
SLOW_RECOVERY_SECONDS = 10.0  # reported one by one on stderr


class Counting:
    """aiosmtpd handler: how often each Message-ID arrived."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.seen: Counter[str] = Counter()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message_id = str(message_from_bytes(envelope.content)["Message-ID"])
        with self.lock:
            self.seen[message_id] += 1
        return "250 Message accepted"


def held_by(ctx: AppContext, pid: int) -> tuple[set[int], set[int]]:
    """The mails and outbox rows a worker process holds right now."""
    mine = f"%:{pid}:%"
    with ctx.sessions() as session:
        mails = set(
            session.scalars(
                select(InboundMessage.id).where(
                    InboundMessage.status == "processing", InboundMessage.claimed_by.like(mine)
                )
            )
        )
        rows = set(
            session.scalars(
                select(Outbox.id).where(
                    Outbox.status.in_(("pending", "sending")), Outbox.claimed_by.like(mine)
                )
            )
        )
    return mails, rows  # fmt: skip


def recovered(ctx: AppContext, mails: set[int], rows: set[int]) -> bool:
    with ctx.sessions() as session:
        open_mails = session.scalar(
            select(func.count()).where(
                InboundMessage.id.in_(mails), InboundMessage.status.in_(("new", "processing"))
            )
        )
        open_rows = session.scalar(
            select(func.count()).where(Outbox.id.in_(rows), Outbox.status != "sent")
        )
    return not open_mails and not open_rows  # fmt: skip


def append(settings: Settings, mails: list[bytes]) -> None:
    with IMAPClient(settings.imap_host, port=settings.imap_port, ssl=False) as imap:
        imap.login(settings.imap_user, settings.imap_password)
        for raw in mails:
            imap.append("INBOX", raw)


def run_backend(backend: str, args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    rng = random.Random(args.seed)
    handler = Counting()
    smtp = Controller(handler, hostname="127.0.0.1", port=free_port(), ready_timeout=10)
    smtp.start()
    port, mail_dir = free_port(), tmp / f"dovecot-{backend}"
    with _running(mail_dir, write_config(mail_dir, port), port), \
            fresh_database(backend, tmp) as url:  # fmt: skip
        settings = load_settings(
            var_dir=tmp / f"var-{backend}", database_url=url, mailbox="imap",
            imap_host="127.0.0.1", imap_port=port, imap_security="none", imap_user=USER,
            imap_password=PASSWORD, smtp_host="127.0.0.1", smtp_port=smtp.port,
            smtp_security="none", smtp_enabled=True, log_level="WARNING", _env_file=None,
        )  # fmt: skip
        ctx = AppContext.from_settings(settings)
        upgrade(ctx.engine)
        from matching.masterdata import import_csv

        import_csv(ctx, master_data(tmp / f"stamm-{backend}.csv", args.mails), progress=False)
        try:
            result = _run(ctx, settings, handler, rng, args)
        finally:
            ctx.engine.dispose()
            smtp.stop()
    return result


class Recovery:
    """Watches, every 0.2 s in a thread of its own, until the work each killed process held is
    done, and keeps the seconds that took."""

    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx
        self.lock = threading.Lock()
        self.pending: list[tuple[float, set[int], set[int]]] = []
        self.seconds: list[float] = []
        self.hit = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._watch, daemon=True)
        self.thread.start()

    def killed(self, at: float, mails: set[int], rows: set[int]) -> None:
        if mails or rows:  # else the kill hit no held work (between mails, or while fetching)
            with self.lock:
                self.pending.append((at, mails, rows))
                self.hit += 1

    def _watch(self) -> None:
        while not self.stop.wait(0.2):
            with self.lock:
                pending = list(self.pending)
            done = [p for p in pending if recovered(self.ctx, p[1], p[2])]
            now = time.monotonic()
            with self.lock:
                for item in done:
                    self.pending.remove(item)
                    self.seconds.append(now - item[0])
                    if now - item[0] > SLOW_RECOVERY_SECONDS:
                        print(f"slow recovery {now - item[0]:.1f} s: mails {sorted(item[1])}, "
                              f"outbox {sorted(item[2])}", file=sys.stderr)  # fmt: skip

    def open(self) -> int:
        with self.lock:
            return len(self.pending)


def _run(
    ctx: AppContext, settings: Settings, handler: Counting, rng: random.Random,
    args: argparse.Namespace,
) -> dict[str, Any]:  # fmt: skip
    mails = [customer_mail(i, marked_photo("00123")) for i in range(args.mails)]
    waves = [mails[k :: args.kills + 1] for k in range(args.kills + 1)]
    workers = [start_worker(settings) for _ in range(args.workers)]
    start = time.monotonic()
    recovery = Recovery(ctx)
    for wave in waves[:-1]:
        append(settings, wave)
        time.sleep(rng.uniform(0.3, 2.5))  # a random moment in the work of this wave
        victim = rng.randrange(len(workers))
        mails_held, rows_held = held_by(ctx, workers[victim].pid)
        workers[victim].kill()
        workers[victim].wait()
        recovery.killed(time.monotonic(), mails_held, rows_held)
        workers[victim] = start_worker(settings)
    append(settings, waves[-1])
    deadline = time.monotonic() + SETTLE_SECONDS
    while time.monotonic() < deadline and (recovery.open() or not tally(ctx).done(args.mails)):
        time.sleep(0.2)
    seconds = time.monotonic() - start
    recovery.stop.set()
    recovery.thread.join()
    for worker in workers:
        worker.terminate()
    for worker in workers:
        worker.wait(timeout=30)
    return _report(ctx, settings, handler, args, recovery, seconds)


def _report(
    ctx: AppContext, settings: Settings, handler: Counting, args: argparse.Namespace,
    recovery: Recovery, seconds: float,
) -> dict[str, Any]:  # fmt: skip
    recoveries = recovery.seconds
    final = tally(ctx)
    with ctx.sessions() as session:
        ids = set(session.scalars(select(InboundMessage.message_id)))
        per_meter = session.execute(
            select(Reading.meter_id, func.count()).where(Reading.source == "photo")
            .group_by(Reading.meter_id)).all()  # fmt: skip
    with IMAPClient(settings.imap_host, port=settings.imap_port, ssl=False) as imap:
        imap.login(settings.imap_user, settings.imap_password)
        left_in_inbox = int(imap.select_folder("INBOX", readonly=True)[b"EXISTS"])
    expected = {f"<bench-{i}@kunde.example>" for i in range(args.mails)}
    return {
        "mails": args.mails, "kills": args.kills, "workers": args.workers,
        "lost": len(expected - ids),
        "duplicate_readings": sum(n - 1 for _, n in per_meter if n > 1)
        + final.duplicate_readings,
        "sent_twice": sum(n - 1 for n in handler.seen.values() if n > 1),
        "stuck": args.mails - final.decided + final.unmoved + final.unsent + left_in_inbox,
        "kills_hitting_work": recovery.hit,
        "not_recovered": recovery.open(),
        "recovery_median_s": statistics.median(recoveries) if recoveries else 0.0,
        "recovery_max_s": max(recoveries, default=0.0),
        "seconds": seconds,
    }  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mails", type=int, default=300)
    parser.add_argument("--kills", type=int, default=12)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--backend", action="append", choices=("sqlite", "postgresql"))
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    for backend in args.backend or ["sqlite", "postgresql"]:
        with tempfile.TemporaryDirectory(prefix="mi-faults-") as tmp:
            Path(tmp).chmod(0o755)
            result = run_backend(backend, args, Path(tmp))
        print(
            f"{backend}: {result['mails']} mails, {result['workers']} workers, "
            f"{result['kills']} kill -9 ({result['kills_hitting_work']} while holding work) "
            f"in {result['seconds']:.0f} s: lost {result['lost']}, duplicate readings "
            f"{result['duplicate_readings']}, sent twice {result['sent_twice']}, stuck "
            f"{result['stuck']}, not recovered {result['not_recovered']}; recovery median "
            f"{result['recovery_median_s']:.1f} s, max {result['recovery_max_s']:.1f} s",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
