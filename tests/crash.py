"""Worker subprocesses that the fault tests kill with SIGKILL (bench/fault_worker.py)."""

from __future__ import annotations

import selectors
import subprocess
import time

from bench.fleet import child_env, start_worker

__all__ = ["child_env", "kill_hard", "start_worker", "wait_for_line"]


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
