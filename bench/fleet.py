"""What bench/intake.py and bench/faults.py share: a fresh database, master data, customer mails,
worker processes (bench/fault_worker.py) started with the same settings, and the ledger's tally."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from core.context import AppContext, system_clock  # noqa: E402
from core.models import InboundMessage, Outbox, Reading  # noqa: E402
from core.settings import Settings  # noqa: E402

PG_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
WORKER = REPO / "bench" / "fault_worker.py"
FINAL = ("accepted", "review", "rejected", "ignored", "duplicate", "failed")


@contextmanager
def fresh_database(backend: str, tmp: Path, admin_url: str = PG_ADMIN_URL) -> Iterator[str]:
    """A URL of an empty database: a file for "sqlite", a new PostgreSQL database otherwise."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp / f'bench-{uuid.uuid4().hex[:6]}.sqlite3'}"
        return
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    name = f"mi_bench_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def master_data(path: Path, count: int) -> Path:
    """A master-data CSV: customer i (kunde<i>@example.org) with one water meter 7WAS<i>."""
    lines = [
        "vertragskonto;name;email;sprache;zaehlernummer;art;einheit;vorkommastellen;"
        "nachkommastellen;letzter_stand;letzter_stand_datum"
    ]
    for i in range(count):
        lines.append(
            f"5000{i:05d};Kunde {i};kunde{i}@example.org;de;7WAS{i:07d};water;m3;5;3;"
            f"00010,000;01.05.2026"
        )
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def customer_mail(i: int, photo: bytes) -> bytes:
    msg = EmailMessage()
    msg["From"] = f"Kunde {i} <kunde{i}@example.org>"
    msg["To"] = "zaehlerstand@stadtwerke.example"
    msg["Subject"] = "Zählerstand"
    msg["Date"] = format_datetime(system_clock())
    msg["Message-ID"] = f"<bench-{i}@kunde.example>"
    msg.set_content("Hallo,\nanbei das Foto.\nViele Grüße")
    msg.add_attachment(photo, maintype="image", subtype="jpeg", filename="zaehler.jpg")
    return msg.as_bytes()


def child_env(settings: Settings, **extra: str) -> dict[str, str]:
    """The environment that gives a child process the same settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("METER_INTAKE_")}
    values = {
        "var_dir": settings.var_dir, "database_url": settings.effective_database_url,
        "blob_dir": settings.blob_dir, "mailbox": settings.mailbox,
        "maildir_path": settings.effective_maildir, "imap_host": settings.imap_host,
        "imap_port": settings.imap_port, "imap_security": settings.imap_security,
        "imap_user": settings.imap_user, "imap_password": settings.imap_password,
        "imap_folder": settings.imap_folder, "smtp_host": settings.smtp_host,
        "smtp_port": settings.smtp_port, "smtp_security": settings.smtp_security,
        "smtp_enabled": settings.smtp_enabled, "smtp_timeout_seconds": 5,
        "poll_interval_seconds": 0.5, "log_level": "WARNING",
    }  # fmt: skip
    for name, value in values.items():
        if value is not None and value != "":
            env[f"METER_INTAKE_{name.upper()}"] = str(value)
    env.update(extra)
    env["PYTHONPATH"] = str(REPO)
    return env


def start_worker(settings: Settings, *args: str, **env: str) -> subprocess.Popen[str]:
    """A worker process; its warnings go to the file named by MI_BENCH_WORKER_LOG, if set."""
    log_path = os.environ.get("MI_BENCH_WORKER_LOG")
    return subprocess.Popen(
        [sys.executable, str(WORKER), *args],
        env=child_env(settings, **env),
        stdout=subprocess.PIPE,
        stderr=open(log_path, "a") if log_path else subprocess.DEVNULL,
        text=True,
        cwd=REPO,
    )


@dataclass(frozen=True)
class Tally:
    ledgered: int
    decided: int
    unmoved: int
    unsent: int
    duplicate_readings: int

    def done(self, mails: int, *, sent: bool = True) -> bool:
        """Every mail decided and moved (and, with `sent`, every reply sent)."""
        return self.decided >= mails and self.unmoved == 0 and (self.unsent == 0 or not sent)


def tally(ctx: AppContext) -> Tally:
    with ctx.sessions() as session:
        ledgered = session.scalar(select(func.count()).select_from(InboundMessage)) or 0
        decided = session.scalar(select(func.count()).where(InboundMessage.status.in_(FINAL)))
        unmoved = session.scalar(
            select(func.count()).where(
                InboundMessage.status.in_(FINAL), InboundMessage.moved_at.is_(None)
            )
        )
        unsent = session.scalar(select(func.count()).where(Outbox.status != "sent"))
        per_mail = (
            select(Reading.inbound_message_id, func.count().label("n"))
            .where(Reading.inbound_message_id.is_not(None))
            .group_by(Reading.inbound_message_id)
            .subquery()
        )
        extra = session.scalar(select(func.coalesce(func.sum(per_mail.c.n - 1), 0)))
    return Tally(ledgered, decided or 0, unmoved or 0, unsent or 0, int(extra or 0))
