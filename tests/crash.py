"""Worker subprocesses that the fault tests kill with SIGKILL (bench/fault_worker.py)."""

from __future__ import annotations

import os
import selectors
import subprocess
import sys
import time
from pathlib import Path

from core.settings import Settings

REPO = Path(__file__).resolve().parents[1]
WORKER = REPO / "bench" / "fault_worker.py"


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
    return subprocess.Popen(
        [sys.executable, str(WORKER), *args],
        env=child_env(settings, **env),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        cwd=REPO,
    )


def wait_for_line(proc: subprocess.Popen[str], prefix: str, timeout: float = 60.0) -> str:
    """Block until the child prints a line starting with `prefix` (select on its stdout)."""
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    with selectors.DefaultSelector() as selector:
        selector.register(proc.stdout, selectors.EVENT_READ)
        while (left := deadline - time.monotonic()) > 0:
            if not selector.select(left):
                break
            line = proc.stdout.readline()
            if not line:
                raise AssertionError(f"worker ended (rc {proc.wait()}) before {prefix!r}")
            if line.startswith(prefix):
                return line.strip()
    proc.kill()
    raise AssertionError(f"worker did not print {prefix!r} within {timeout} s")


def kill_hard(proc: subprocess.Popen[str]) -> float:
    """SIGKILL, reap (no zombie left), and the moment it happened (monotonic)."""
    proc.kill()
    proc.wait(timeout=30)
    if proc.stdout is not None:
        proc.stdout.close()
    return time.monotonic()
