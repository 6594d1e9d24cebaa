"""Process wiring: the worker and the review UI in one process (the demo's `--serve`).

In production they run as separate processes (`meter-intake worker`, `meter-intake serve`,
see docker-compose.yml); here the worker polls in a thread beside the UI's server, and both stop
when the server stops (Ctrl-C or SIGTERM).
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from core.context import AppContext
from intake.worker import make_source, run_worker
from review_ui.server import serve

WORKER_STOP_SECONDS = 10.0  # a pass in progress finishes its current mail within this


def serve_with_worker(ctx: AppContext) -> None:
    """Serve the review UI until interrupted while the worker polls the mailbox alongside.
    A mailbox the worker cannot start on (`MailboxError`) is raised before the UI serves."""
    source = make_source(ctx.settings)
    stop = threading.Event()
    worker = threading.Thread(
        target=run_worker,
        args=(ctx,),
        kwargs={"once": False, "stop": stop, "source": source},
        name="worker",
        daemon=True,
    )
    worker.start()
    try:
        with _sigterm_sets(stop):
            serve(ctx, host=ctx.settings.ui_host, port=ctx.settings.ui_port)
    finally:
        stop.set()
        worker.join(timeout=WORKER_STOP_SECONDS)


@contextmanager
def _sigterm_sets(stop: threading.Event) -> Iterator[None]:
    """uvicorn shuts down on SIGTERM and then raises the signal again to the handler it found;
    without one of ours that kills the process before the worker could finish its mail."""
    previous = signal.signal(signal.SIGTERM, lambda _signum, _frame: stop.set())
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
