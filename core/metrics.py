"""The worker's Prometheus metrics (counters and histograms) and the port that serves them.

They live in this process's memory, so a separate `serve` process cannot see them: the worker
serves them itself on `worker_metrics_port`. What every process can see, the database, `serve`
turns into gauges at scrape time (`review_ui/routes/ops.py`).
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import (
    CollectorRegistry,
    Counter,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    make_wsgi_app,
)

REGISTRY = CollectorRegistry(auto_describe=True)
ProcessCollector(registry=REGISTRY)  # memory, CPU, open files of the worker process
PlatformCollector(registry=REGISTRY)
GCCollector(registry=REGISTRY)

MAILS_FETCHED = Counter(
    "meter_intake_mails_fetched",
    "Mails taken from the mailbox into the ledger, by result (new, duplicate, rejected).",
    ["result"],
    registry=REGISTRY,
)
MAILS_PROCESSED = Counter(
    "meter_intake_mails_processed",
    "Mails processed, by outcome (accepted, review, rejected, ignored, failed, retry, lost).",
    ["outcome"],
    registry=REGISTRY,
)
STAGE_SECONDS = Histogram(
    "meter_intake_stage_seconds",
    "Seconds per stage: fetch and send per pass; parse, ocr and match per mail (ocr per photo).",
    ["stage"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
    registry=REGISTRY,
)
OCR_CONFIDENCE = Histogram(
    "meter_intake_ocr_confidence",
    "Confidence (0-1) of each photo's OCR read that gave digits.",
    buckets=(0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 0.99, 1.0),
    registry=REGISTRY,
)
OCR_UNREADABLE = Counter(
    "meter_intake_ocr_unreadable", "Photos whose OCR gave no digits.", registry=REGISTRY
)
OUTBOX_DELIVERIES = Counter(
    "meter_intake_outbox_deliveries",
    "Outbox send attempts, by result (sent, retried, failed = given up).",
    ["result"],
    registry=REGISTRY,
)
WORKER_PASSES = Counter("meter_intake_worker_passes", "Worker passes run.", registry=REGISTRY)
OUTCOMES = ("accepted", "review", "rejected", "ignored", "failed", "retry", "lost")
for _result in ("new", "duplicate", "rejected"):
    MAILS_FETCHED.labels(_result)
for _outcome in OUTCOMES:
    MAILS_PROCESSED.labels(_outcome)
for _result in ("sent", "retried", "failed"):
    OUTBOX_DELIVERIES.labels(_result)


@contextmanager
def stage_timer(stage: str) -> Iterator[None]:
    """Observe the seconds the block takes (also when it raises)."""
    started = time.perf_counter()
    try:
        yield
    finally:
        STAGE_SECONDS.labels(stage).observe(time.perf_counter() - started)


def count_fetched(*, new: int, duplicates: int, rejected: int) -> None:
    MAILS_FETCHED.labels("new").inc(new)
    MAILS_FETCHED.labels("duplicate").inc(duplicates)
    MAILS_FETCHED.labels("rejected").inc(rejected)


def count_processed(status: str) -> None:
    """Count one processed mail by the ledger status it ended in ('new' = to be retried)."""
    MAILS_PROCESSED.labels("retry" if status == "new" else status).inc()


def observe_ocr(confidence: float, *, readable: bool) -> None:
    if readable:
        OCR_CONFIDENCE.observe(min(max(confidence, 0.0), 1.0))
    else:
        OCR_UNREADABLE.inc()


def count_deliveries(*, sent: int, retried: int, failed: int) -> None:
    OUTBOX_DELIVERIES.labels("sent").inc(sent)
    OUTBOX_DELIVERIES.labels("retried").inc(retried)
    OUTBOX_DELIVERIES.labels("failed").inc(failed)


WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def _bearer_guard(app: WsgiApp, token: str) -> WsgiApp:
    """Answer 401 unless the request carries `Authorization: Bearer <token>` (no token: open)."""

    def guarded(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        scheme, _, given = environ.get("HTTP_AUTHORIZATION", "").partition(" ")
        if token and not (
            scheme.lower() == "bearer"
            and secrets.compare_digest(given.strip().encode(), token.encode())
        ):
            start_response("401 Unauthorized", [("WWW-Authenticate", "Bearer")])
            return [b"bearer token required\n"]
        return app(environ, start_response)

    return guarded


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        return


class MetricsServer:
    """This process's metrics over HTTP on a background thread; `close()` stops it."""

    def __init__(self, host: str, port: int, *, token: str = "") -> None:
        app = _bearer_guard(make_wsgi_app(REGISTRY), token)
        self._server: WSGIServer = make_server(host, port, app, handler_class=_QuietHandler)
        self.port = self._server.server_port
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="metrics", daemon=True
        )
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
