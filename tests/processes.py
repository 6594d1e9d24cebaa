"""Long-running processes a test starts and stops the way a supervisor does (`docker stop`,
systemd): wait for a line they log, then SIGTERM."""

from __future__ import annotations

import queue
import signal
import subprocess
import threading
from collections.abc import Mapping
from pathlib import Path


class Service:
    """A long-running process the test starts, and what it logged (stdout and stderr)."""

    def __init__(self, argv: list[str], *, cwd: Path, env: Mapping[str, str]) -> None:
        self.process = subprocess.Popen(
            argv,
            cwd=cwd,
            env=dict(env),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.log: list[str] = []
        self._pump = threading.Thread(target=self._read, daemon=True)
        self._pump.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def wait_for(self, marker: str, *, timeout: float) -> None:
        """Until the service logs a line containing `marker` (or has); fails if it exits first."""
        if any(marker in line for line in self.log):
            return
        while (line := self.lines.get(timeout=timeout)) is not None:
            self.log.append(line)
            if marker in line:
                return
        raise AssertionError(f"exited before {marker!r}:\n{''.join(self.log)}")

    def finish(self, *, timeout: float = 120) -> int:
        """The exit code once the process has ended; the rest of its log read."""
        self.process.wait(timeout=timeout)
        self._pump.join(timeout=timeout)
        while (line := self.lines.get_nowait()) is not None:
            self.log.append(line)
        return self.process.returncode

    def stop(self) -> int:
        """`docker stop`: SIGTERM, and the process has a grace period to finish what it does."""
        self.process.send_signal(signal.SIGTERM)
        return self.finish(timeout=20)
