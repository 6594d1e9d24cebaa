"""The review UI under a real uvicorn server on a free loopback port (registered for every test
through `pytest_plugins` in conftest.py).

`running_ui(ctx)` -> context manager giving the base URL (`http://127.0.0.1:PORT`) once `/health`
answers with the database reachable; the server stops when the block ends.
`live_ui` -> the same as a fixture, for the `ctx` fixture's context.
`client` -> a TestClient of the app with the clerk of `tests.ui_seed` added (not logged in);
`seeded` -> one open review task (`tests.ui_seed.seed_task`). A test file may define its own.
`metrics_client` -> the same client with `METRICS_TOKEN` as the metrics bearer token;
`health_details(client)` -> `/health` as that token sees it (the details a clerk or scraper gets).
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from core.context import AppContext
from review_ui.app import create_app
from review_ui.server import make_server
from tests.ports import free_port
from tests.ui_seed import Seeded, add_clerk, seed_task


def _wait_healthy(base: str, thread: threading.Thread, *, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not thread.is_alive():
            raise AssertionError("the UI server thread died during start-up")
        try:
            with urllib.request.urlopen(f"{base}/health", timeout=1) as response:
                if json.load(response)["status"] == "up":
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.05)  # no event to wait for: the server thread signals nothing
    raise AssertionError(f"the UI did not answer on {base}/health within {timeout} s")


@contextlib.contextmanager
def running_ui(ctx: AppContext) -> Iterator[str]:
    port = free_port()
    server = make_server(ctx, host="127.0.0.1", port=port)
    thread = threading.Thread(target=server.run, name="review-ui", daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(base, thread)
        yield base
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture
def live_ui(ctx: AppContext) -> Iterator[str]:
    with running_ui(ctx) as base:
        yield base


@pytest.fixture
def client(ctx: AppContext) -> Iterator[TestClient]:
    add_clerk(ctx)
    with TestClient(create_app(ctx)) as test_client:
        yield test_client


METRICS_TOKEN = "scrape-me"


@pytest.fixture
def metrics_client(ctx: AppContext) -> Iterator[TestClient]:
    add_clerk(ctx)
    ctx.settings.metrics_token = METRICS_TOKEN
    with TestClient(create_app(ctx)) as test_client:
        yield test_client


def health_details(client: TestClient) -> dict[str, object]:
    response = client.get("/health", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    body: dict[str, object] = response.json()
    return body


@pytest.fixture
def seeded(ctx: AppContext) -> Seeded:
    return seed_task(ctx)
