"""Who holds a lease: a worker process named by host, PID and process start time.

A lease held by a process on this host that no longer runs (its PID is gone, a zombie, or now
belongs to a process started later) can be taken over at once; a holder on another host only
when its lease runs out.
"""

from __future__ import annotations

import os
import socket
import threading
from dataclasses import dataclass
from pathlib import Path


def _start_ticks(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (/proc), None where unknown."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[-1].split()
    return fields[19] if len(fields) > 19 else None


def _is_zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    state = stat.rsplit(")", 1)[-1].split()
    return bool(state) and state[0] in ("Z", "X")


def process_holder() -> str:
    """This process: `host:pid:start`."""
    pid = os.getpid()
    return f"{socket.gethostname()}:{pid}:{_start_ticks(pid) or 0}"


def thread_holder() -> str:
    """This thread of this process (several workers may run as threads of one process)."""
    return f"{process_holder()}:{threading.get_ident()}"


@dataclass(frozen=True)
class Holder:
    host: str
    pid: int
    start: str

    @classmethod
    def parse(cls, text: str | None) -> Holder | None:
        parts = (text or "").split(":")
        if len(parts) < 3 or not parts[1].isdigit():
            return None
        return cls(parts[0], int(parts[1]), parts[2])


def is_gone(holder: str | None) -> bool:
    """True only when the holder provably no longer runs: same host, and its process is gone."""
    parsed = Holder.parse(holder)
    if parsed is None or parsed.host != socket.gethostname():
        return False
    if parsed.pid == os.getpid():
        return False  # this process: another thread of ours, alive
    try:
        os.kill(parsed.pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        pass  # exists, owned by another user
    if _is_zombie(parsed.pid):
        return True
    started = _start_ticks(parsed.pid)
    return started is not None and parsed.start != "0" and started != parsed.start
