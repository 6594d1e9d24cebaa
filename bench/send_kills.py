"""kill -9 while sending: how many customer mails arrive twice, how many never, and how wide the
window is in which a kill can send one twice.

    .venv/bin/python bench/send_kills.py [--kills 27] [--backend sqlite] [--backend postgresql]

By default each of the 27 moments once on SQLite and once on PostgreSQL: 54 kills.

A real worker process (bench/fault_worker.py) sends queued replies to a real aiosmtpd. The
server kills the worker with SIGKILL at a chosen moment of an SMTP conversation (`MOMENTS`, in
turn): after QUIT (the `sent` mark is committed; the next mail is being claimed and connected),
at EHLO, after MAIL, after RCPT (around the `sending` mark), during DATA (the server discards the
unfinished mail), at the end of DATA (the server keeps the mail, its 250 never reaches the
sender) and 0-13 ms after the server's 250. A warm standby worker then takes over, as a
supervisor restarting the worker would, and the next kill is armed.

A kill is *inside the window* when the server has accepted a mail whose row is not marked `sent`
in the database right after the kill: that mail must go out again (same Message-ID), a duplicate
no sender can avoid without the server's help. The window itself is measured on every mail sent:
from the server's acceptance (its handler returning the 250) to the worker's commit of `sent`
(the worker prints the moment; both are CLOCK_MONOTONIC of this host).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from sqlalchemy import select

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.fleet import WORKER, child_env, fresh_database  # noqa: E402
from core.context import AppContext, system_clock  # noqa: E402
from core.migrate import upgrade  # noqa: E402
from core.models import Outbox  # noqa: E402
from core.settings import Settings, load_settings  # noqa: E402
from notifications.headers import make_message_id  # noqa: E402
from notifications.outbox import enqueue  # noqa: E402
from tests.crash import wait_for_line  # noqa: E402
from tests.ports import free_port  # noqa: E402

KILL_TIMEOUT_SECONDS = 60.0
SETTLE_SECONDS = 120.0


@dataclass(frozen=True)
class Moment:
    """Where in the SMTP conversation the server kills the sender: at `event`, `delay_ms` later."""

    event: str  # quit | ehlo | mail | rcpt | data_discard | data_keep | accepted
    delay_ms: float = 0.0

    def __str__(self) -> str:
        return f"{self.event}+{self.delay_ms:g}ms" if self.delay_ms else self.event


MOMENTS = (
    [Moment("quit", d) for d in (0, 2, 5, 10, 20)]
    + [Moment("ehlo"), Moment("ehlo", 1), Moment("mail"), Moment("mail", 1)]
    + [Moment("rcpt", d) for d in (0, 0.5, 1, 2, 4, 8)]
    + [Moment("data_discard"), Moment("data_keep")]
    + [Moment("accepted", d) for d in (0, 0.25, 0.5, 1, 1.5, 2, 3, 5, 8, 13)]
)


@dataclass
class Kill:
    moment: Moment
    pid: int
    at: float = 0.0  # CLOCK_MONOTONIC of the SIGKILL
    accepted_at: float | None = None  # the server's acceptance in the killed conversation
    in_window: list[str] = field(default_factory=list)  # Message-IDs accepted, not marked sent

    @property
    def after_accept_ms(self) -> float | None:
        return None if self.accepted_at is None else (self.at - self.accepted_at) * 1000


class KillingServer:
    """aiosmtpd handler: keeps every accepted mail's Message-ID and acceptance time, and kills
    the armed worker process at the armed moment of the first conversation begun after arming."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.accepted: dict[str, list[float]] = defaultdict(list)
        self.armed: Kill | None = None
        self.armed_at = 0.0
        self.done = threading.Event()

    def arm(self, kill: Kill) -> None:
        with self.lock:
            self.armed, self.armed_at = kill, time.monotonic()
            self.done.clear()

    def counts(self) -> Counter[str]:
        with self.lock:
            return Counter({mid: len(times) for mid, times in self.accepted.items()})

    def _due(self, session: Any, event: str) -> Kill | None:
        """The armed kill, if this conversation's `event` is its moment (and disarm it)."""
        with self.lock:
            kill = self.armed
            fresh = getattr(session, "bench_started", 0.0) > self.armed_at
            if kill is None or not fresh or kill.moment.event != event:
                return None
            self.armed = None
            return kill

    def _fire(self, kill: Kill, since: float, session: Any) -> None:
        kill.accepted_at = getattr(session, "bench_accepted_at", None)
        target = since + kill.moment.delay_ms / 1000
        if kill.moment.delay_ms <= 0:
            self._kill_now(kill)
            return
        threading.Thread(target=self._kill_at, args=(kill, target), daemon=True).start()

    def _kill_at(self, kill: Kill, target: float) -> None:
        while (left := target - time.monotonic()) > 0:
            time.sleep(left if left > 0.002 else 0)
        self._kill_now(kill)

    def _kill_now(self, kill: Kill) -> None:
        kill.at = time.monotonic()
        os.kill(kill.pid, signal.SIGKILL)
        self.done.set()

    def _at(self, session: Any, event: str) -> bool:
        """Kill if this is the armed moment; True if it was."""
        kill = self._due(session, event)
        if kill is not None:
            self._fire(kill, time.monotonic(), session)
        return kill is not None

    async def handle_EHLO(
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        session.host_name = hostname
        session.bench_started = time.monotonic()
        self._at(session, "ehlo")
        return responses

    async def handle_MAIL(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        self._at(session, "mail")
        return "250 OK"

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        envelope.rcpt_tos.append(address)
        self._at(session, "rcpt")
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message_id = str(message_from_bytes(envelope.content)["Message-ID"])
        if self._at(session, "data_discard"):
            return "451 4.3.0 connection lost during DATA"  # as if cut off before the final dot
        now = time.monotonic()
        with self.lock:
            self.accepted[message_id].append(now)
        session.bench_accepted_at = now
        self._at(session, "data_keep")
        kill = self._due(session, "accepted")
        if kill is not None:
            self._fire(kill, now, session)
        return "250 Message accepted"

    async def handle_QUIT(self, server: Any, session: Any, envelope: Any) -> str:
        self._at(session, "quit")
        return "221 Bye"


class Sender:
    """A worker process started as a standby: imports done, waiting for `go`. Collects the
    `SENT <Message-ID> <monotonic>` lines it prints."""

    def __init__(self, settings: Settings, committed: dict[str, float]) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(WORKER), "--report-sent", "--standby"],
            env=child_env(settings, METER_INTAKE_IMAP_IDLE="false"),
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            text=True, cwd=REPO,
        )  # fmt: skip
        self.committed = committed
        wait_for_line(self.proc, "READY")
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    @property
    def pid(self) -> int:
        return self.proc.pid

    def go(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write("go\n")
        self.proc.stdin.flush()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            parts = line.split()
            if len(parts) == 3 and parts[0] == "SENT":
                self.committed[parts[1]] = float(parts[2])

    def reap(self) -> None:
        self.proc.wait(timeout=30)
        self.reader.join(timeout=5)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
        self.reap()


@dataclass
class Result:
    backend: str
    mails: int
    kills: list[Kill]
    counts: Counter[str]
    expected: dict[int, str]  # outbox id -> the Message-ID its idempotency key gives
    stored: dict[int, str | None]  # outbox id -> the Message-ID recorded on the row
    unsent_rows: int
    windows_ms: list[float]
    seconds: float

    @property
    def lost(self) -> int:
        return sum(1 for mid in self.expected.values() if not self.counts[mid])

    @property
    def sent_twice(self) -> int:
        return sum(n - 1 for n in self.counts.values() if n > 1)

    @property
    def foreign_ids(self) -> int:
        """Message-IDs the server received that belong to no row: a resend with a new id."""
        return len(set(self.counts) - set(self.expected.values()))

    @property
    def changed_ids(self) -> int:
        return sum(1 for key, mid in self.expected.items() if self.stored.get(key) != mid)

    @property
    def kills_in_window(self) -> int:
        return sum(1 for kill in self.kills if kill.in_window)

    @property
    def as_promised(self) -> bool:
        """Nothing lost, nothing left, every resend under its own Message-ID, and a mail sent
        twice only after a kill inside the window."""
        return not (self.lost or self.unsent_rows or self.foreign_ids or self.changed_ids) and (
            self.sent_twice == self.kills_in_window
        )

    def twice_after(self, kill: Kill) -> int:
        return sum(self.counts[mid] - 1 for mid in kill.in_window)


def queue_mails(ctx: AppContext, count: int) -> None:
    now = ctx.clock()
    with ctx.sessions.begin() as session:
        for i in range(count):
            enqueue(
                session, kind="received_review", recipient=f"kunde{i}@example.org",
                language="de", idempotency_key=f"bench-send:{i}", now=now,
                context={"customer_name": f"Kunde {i}", "meter_number": f"7WAS{i:07d}",
                         "not_sender": False},
            )  # fmt: skip


def row_ids(ctx: AppContext) -> tuple[dict[int, str], dict[int, str | None], int]:
    with ctx.sessions() as session:
        rows = session.execute(
            select(Outbox.id, Outbox.idempotency_key, Outbox.message_id, Outbox.status)
        ).all()
    mail_from = ctx.settings.mail_from
    expected = {row.id: make_message_id(row.idempotency_key, mail_from) for row in rows}
    return (
        expected,
        {row.id: row.message_id for row in rows},
        sum(1 for row in rows if row.status != "sent"),
    )


def not_marked_sent(ctx: AppContext, accepted: Counter[str]) -> list[str]:
    """Message-IDs the server has accepted whose rows are not marked sent."""
    with ctx.sessions() as session:
        open_ids = session.scalars(
            select(Outbox.message_id).where(Outbox.status != "sent", Outbox.message_id.is_not(None))
        ).all()
    return [mid for mid in open_ids if mid is not None and accepted[mid]]


@contextmanager
def smtp_server(handler: KillingServer) -> Iterator[int]:
    controller = Controller(handler, hostname="127.0.0.1", port=free_port(), ready_timeout=10)
    controller.start()
    try:
        yield controller.port
    finally:
        controller.stop()


def run_kills(ctx: AppContext, moments: list[Moment], *, mails: int, backend: str) -> Result:
    """Queue `mails` replies, send them with kills at `moments` in turn, wait until every row is
    sent; `ctx.settings` must point at the database (the SMTP settings are set here)."""
    handler = KillingServer()
    committed: dict[str, float] = {}
    kills: list[Kill] = []
    start = time.monotonic()
    with smtp_server(handler) as port:
        settings = ctx.settings.model_copy(
            update={"smtp_host": "127.0.0.1", "smtp_port": port, "smtp_security": "none",
                    "smtp_enabled": True, "smtp_user": "", "smtp_password": ""}
        )  # fmt: skip
        ctx = dataclasses.replace(ctx, settings=settings, clock=system_clock)
        queue_mails(ctx, mails)
        senders = [Sender(settings, committed)]
        try:
            for moment in moments:
                current = senders[-1]
                kill = Kill(moment, current.pid)
                handler.arm(kill)
                current.go()
                senders.append(Sender(settings, committed))  # the standby, warm before the kill
                if not handler.done.wait(KILL_TIMEOUT_SECONDS):
                    raise RuntimeError(f"the moment {moment} never came")
                current.reap()
                earlier = {mid for k in kills for mid in k.in_window}
                kill.in_window = [
                    mid for mid in not_marked_sent(ctx, handler.counts()) if mid not in earlier
                ]
                kills.append(kill)
            senders[-1].go()
            deadline = time.monotonic() + SETTLE_SECONDS
            while row_ids(ctx)[2] and time.monotonic() < deadline:
                time.sleep(0.1)
        finally:
            for sender in senders:
                sender.stop()
    expected, stored, unsent = row_ids(ctx)
    return Result(
        backend, mails, kills, handler.counts(), expected, stored, unsent,
        windows(handler, committed), time.monotonic() - start,
    )  # fmt: skip


def windows(handler: KillingServer, committed: dict[str, float]) -> list[float]:
    """Per mail marked sent: ms from the server's (last) acceptance before it to the commit."""
    found = []
    with handler.lock:
        for mid, at in committed.items():
            before = [t for t in handler.accepted.get(mid, []) if t <= at]
            if before:
                found.append((at - max(before)) * 1000)
    return found


def run_backend(backend: str, kills: int, tmp: Path) -> Result:
    moments = [MOMENTS[i % len(MOMENTS)] for i in range(kills)]
    with fresh_database(backend, tmp) as url:
        settings = load_settings(
            var_dir=tmp / f"var-{backend}", database_url=url, log_level="WARNING",
            _env_file=None,
        )  # fmt: skip
        ctx = AppContext.from_settings(settings)
        upgrade(ctx.engine)
        try:
            return run_kills(ctx, moments, mails=kills + 10, backend=backend)
        finally:
            ctx.engine.dispose()


def report(result: Result) -> str:
    by_moment: dict[str, list[Kill]] = defaultdict(list)
    for kill in result.kills:
        by_moment[str(kill.moment)].append(kill)
    lines = [
        f"{result.backend}: {result.mails} mails, {len(result.kills)} kill -9 while sending, "
        f"{result.seconds:.0f} s",
        f"{'kill at':<16}{'kills':>6}{'in window':>10}{'sent twice':>11}  kill after 250 (ms)",
    ]
    for moment, kills in by_moment.items():
        after = [k.after_accept_ms for k in kills if k.after_accept_ms is not None]
        shown = " ".join(f"{ms:.2f}" for ms in after) or "-"
        lines.append(
            f"{moment:<16}{len(kills):>6}{sum(1 for k in kills if k.in_window):>10}"
            f"{sum(result.twice_after(k) for k in kills):>11}  {shown}"
        )
    w = result.windows_ms
    lines.append(
        f"lost {result.lost}, sent twice {result.sent_twice} (kills inside the window "
        f"{result.kills_in_window}), resent under another Message-ID {result.foreign_ids}, "
        f"rows with another Message-ID {result.changed_ids}, not sent {result.unsent_rows}"
    )
    if w:
        lines.append(
            f"window 250 -> sent committed over {len(w)} mails: min {min(w):.2f} ms, median "
            f"{statistics.median(w):.2f} ms, p95 {sorted(w)[int(0.95 * (len(w) - 1))]:.2f} ms, "
            f"max {max(w):.2f} ms"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=len(MOMENTS), help="per database")
    parser.add_argument("--backend", action="append", choices=("sqlite", "postgresql"))
    args = parser.parse_args()
    failed = False
    for backend in args.backend or ["sqlite", "postgresql"]:
        with tempfile.TemporaryDirectory(prefix="mi-send-kills-") as tmp:
            result = run_backend(backend, args.kills, Path(tmp))
        print(report(result), flush=True)
        failed |= not result.as_promised
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
