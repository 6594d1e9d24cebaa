"""Server time of the review UI's pages on a large PostgreSQL database.

    PYTHONPATH=. .venv/bin/python bench/review_ui.py [--pg-url URL] [--tasks N] [--readings M]
                                                     [--repeat R] [--keep]

Creates a scratch database (dropped afterwards unless --keep) next to the one `--pg-url` names,
migrates it, and fills it with N open review tasks (default 10,000: one mail, photo, OCR result
with counter and digit boxes, and task per meter, half of them claimed by another clerk; each
task with the decision core's expectation as the worker stores it) and M accepted readings
(default 100,000, spread over the meters). Then every page is requested R times in-process
(FastAPI's TestClient, so the time includes routing, queries and template rendering but no
network) and the median and the slowest request per page are printed in milliseconds. The
target is < 200 ms per page.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import tempfile
import time
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, insert, text
from sqlalchemy.engine import make_url

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from core.context import AppContext  # noqa: E402 (the repository on the path first)
from core.db import transaction  # noqa: E402
from core.migrate import upgrade  # noqa: E402
from core.models import (  # noqa: E402
    ContractAccount,
    Customer,
    InboundMessage,
    Meter,
    OcrResult,
    Photo,
    Reading,
    ReviewTask,
)
from core.settings import load_settings  # noqa: E402
from matching.expectation import Point, expect  # noqa: E402
from matching.plausibility import MeterSpec  # noqa: E402

NOW = dt.datetime(2026, 11, 20, 9, 30, tzinfo=dt.UTC)
BATCH = 5000


def _rows(session: Any, model: Any, rows: list[dict[str, Any]]) -> None:
    for start in range(0, len(rows), BATCH):
        session.execute(insert(model), rows[start : start + BATCH])


def seed(ctx: AppContext, tasks: int, readings: int) -> None:
    """`tasks` meters with one open task each; `readings` readings spread over the meters."""
    per_meter = max(readings // tasks, 1)
    with transaction(ctx.sessions) as session:
        _rows(
            session,
            Customer,
            [
                {"id": i, "name": f"Kunde {i:05d}", "email": f"k{i}@example.org", "language": "de"}
                for i in range(1, tasks // 2 + 2)
            ],
        )
        _rows(
            session,
            ContractAccount,
            [{"id": i, "number": f"4{i:09d}", "customer_id": i} for i in range(1, tasks // 2 + 2)],
        )
        _rows(session, Meter, [_meter(i) for i in range(1, tasks + 1)])
        _rows(
            session,
            Reading,
            [_reading(i, k, per_meter) for i in range(1, tasks + 1) for k in range(per_meter)],
        )
        _rows(session, InboundMessage, [_message(i) for i in range(1, tasks + 1)])
        _rows(
            session,
            Photo,
            [
                {
                    "id": i,
                    "message_id": i,
                    "sha256": f"{i:064x}",
                    "filename": "zaehler.jpg",
                    "content_type": "image/jpeg",
                }
                for i in range(1, tasks + 1)
            ],
        )
        _rows(session, OcrResult, [_ocr(i) for i in range(1, tasks + 1)])
        history = [_reading(1, k, per_meter) for k in range(per_meter)]
        points = [Point(r["value"], r["read_on"]) for r in history]
        _rows(session, ReviewTask, [_task(i, points) for i in range(1, tasks + 1)])
    with ctx.engine.begin() as conn:
        for table in (
            "customer",
            "contract_account",
            "meter",
            "inbound_message",
            "photo",
            "ocr_result",
            "review_task",
            "reading",
        ):
            conn.execute(text(f"SELECT setval('{table}_id_seq', (SELECT max(id) FROM {table}))"))
        conn.execute(text("ANALYZE"))


def _meter(i: int) -> dict[str, Any]:
    kind = ("electricity", "gas", "water")[i % 3]
    return {
        "id": i,
        "number": f"1ESY{i:08d}",
        "account_id": (i + 1) // 2,
        "kind": kind,
        "unit": "kWh" if kind == "electricity" else "m3",
        "integer_digits": 6,
        "decimal_digits": 1,
        "registers": "1.8.0",
    }


def _reading(meter: int, k: int, count: int) -> dict[str, Any]:
    day = dt.date(2026, 10, 1) - dt.timedelta(days=90 * (count - k))
    return {
        "meter_id": meter,
        "register": "1.8.0",
        "value": Decimal(1000 + 900 * k),
        "read_on": day,
        "source": "import",
        "status": "accepted",
        "accepted_by": "import",
        "created_at": dt.datetime.combine(day, dt.time(12), tzinfo=dt.UTC),
    }


def _message(i: int) -> dict[str, Any]:
    return {
        "id": i,
        "mailbox": "bench",
        "source_key": f"bench:{i}",
        "sha256": f"{i:064x}",
        "sender": f"k{(i + 1) // 2}@example.org",
        "subject": f"Zählerstand {i}",
        "received_at": NOW - dt.timedelta(minutes=7 * i),
        "status": "review",
    }


def _ocr(i: int) -> dict[str, Any]:
    """A read of a six-digit counter with a decimal drum, its boxes as the worker stores them."""
    digits = [[int(c), 0.9, [[int(c), 0.9], [(int(c) + 1) % 10, 0.07]]] for c in "0095005"]
    boxes = [[[100 + 60 * k, 300], [150 + 60 * k, 300], [150 + 60 * k, 380], [100 + 60 * k, 380]]
             for k in range(7)]  # fmt: skip
    return {
        "photo_id": i,
        "reading": "009500",
        "fraction": "5",
        "confidence": 0.6,
        "details": {
            "digits": digits,
            "counter_box": [[80, 280], [530, 280], [530, 400], [80, 400]],
            "digit_boxes": boxes,
        },
        "created_at": NOW - dt.timedelta(minutes=7 * i),
    }


def _task(i: int, points: list[Point]) -> dict[str, Any]:
    claimed = i % 2 == 0
    kind = _meter(i)["kind"]
    read_on = (NOW - dt.timedelta(minutes=7 * i)).date()
    exp = expect(kind, MeterSpec(6, 1, "kWh" if kind == "electricity" else "m3"), "1.8.0",
                 read_on, points)  # fmt: skip
    return {
        "id": i,
        "inbound_message_id": i,
        "photo_id": i,
        "meter_id": i,
        "status": "open",
        "reason_codes": ["low_confidence"] if i % 4 else ["below_last_reading"],
        "candidates": [{"kind": "meter", "meter_id": i, "why": ["sender"]}],
        "proposed_value": Decimal("9500.5"),
        "created_at": NOW - dt.timedelta(minutes=7 * i),
        "claimed_by": "otto" if claimed else None,
        "claimed_until": NOW + dt.timedelta(minutes=5) if claimed else None,
        "details": {"register": "1.8.0", "expectation": exp.as_json()},
    }


def measure(ctx: AppContext, repeat: int) -> list[tuple[str, float, float]]:
    from fastapi.testclient import TestClient

    from review_ui.app import create_app
    from review_ui.auth import add_user, create_session
    from review_ui.web import SESSION_COOKIE

    user_id = add_user(ctx, "leitung", "Bench-Pruefung-2026", role="admin")
    pages = [
        "/queue",
        "/queue?q=kunde%2000042",
        "/queue?reason=below_last_reading&sort=newest",
        "/next",
        "/tasks/4999",
        "/tasks/4999/next",
        "/tasks/4999/previous",
        "/dashboard",
        "/meters?q=1ESY0000",
        "/meters/4999",
        "/audit",
    ]
    results = []
    with TestClient(create_app(ctx)) as client:
        client.cookies.set(SESSION_COOKIE, create_session(ctx, user_id))
        for page in pages:
            assert client.get(page, follow_redirects=False).status_code in (200, 303), page
            times = []
            for _ in range(repeat):
                start = time.perf_counter()
                client.get(page, follow_redirects=False)
                times.append((time.perf_counter() - start) * 1000)
            results.append((page, statistics.median(times), max(times)))
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pg-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--readings", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    admin = create_engine(args.pg_url, isolation_level="AUTOCOMMIT")
    name = f"mi_bench_ui_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(args.pg_url).set(database=name).render_as_string(hide_password=False)
    try:
        with tempfile.TemporaryDirectory() as var:
            settings = load_settings(var_dir=Path(var), database_url=url, _env_file=None)
            ctx = AppContext.from_settings(settings, clock=lambda: NOW)
            upgrade(ctx.engine)
            started = time.perf_counter()
            seed(ctx, args.tasks, args.readings)
            print(
                f"seeded {args.tasks} open tasks, {args.readings} readings "
                f"in {time.perf_counter() - started:.1f} s ({name})"
            )
            print(f"{'page':<50} {'median ms':>10} {'max ms':>8}")
            for page, median, slowest in measure(ctx, args.repeat):
                print(f"{page:<50} {median:>10.1f} {slowest:>8.1f}")
            ctx.engine.dispose()
    finally:
        if not args.keep:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
