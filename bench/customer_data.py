"""Seconds for a customer's data export and erasure (DSGVO Art. 15/17) on a large database.

    PYTHONPATH=. .venv/bin/python bench/customer_data.py [--db sqlite|postgresql]…
        [--customers N] [--readings M] [--repeat R] [--plans] [--pg-url URL] [--keep]
        [--seeded URL]

Builds a scratch database per backend (SQLite in a temp folder; PostgreSQL next to the one
`--pg-url` names, dropped afterwards unless --keep) with bulk inserts: N customers (default
50,000), one contract account and three meters each, M readings (default 1,000,000) spread
over the meters, four mails per customer with a photo and an OCR row each, one sent reply per
mail, a review task for every tenth mail, a campaign recipient per meter and a move for every
hundredth meter. Then exports R customers (the `meter-intake customer export` call) and erases R
others, and prints the median and slowest seconds of each. `--plans` prints the query plans of
the statements that scan a whole table (SQLite: `SCAN`, PostgreSQL: `Seq Scan`). `--seeded URL`
measures a database a `--keep` run left (migrated to the current head first, not seeded again;
`--customers` as it was seeded).
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, insert, text
from sqlalchemy.engine import make_url

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from core.context import AppContext  # noqa: E402 (the repository on the path first)
from core.customer_data import erase_customer, export_customer  # noqa: E402
from core.errors import ConflictError  # noqa: E402
from core.migrate import upgrade  # noqa: E402
from core.models import (  # noqa: E402
    Campaign,
    CampaignRecipient,
    ContractAccount,
    Customer,
    InboundMessage,
    Meter,
    MeterAccountMove,
    OcrResult,
    Outbox,
    Photo,
    Reading,
    ReviewTask,
)
from core.settings import load_settings  # noqa: E402

NOW = dt.datetime(2026, 11, 20, 9, 30, tzinfo=dt.UTC)
BATCH = 10_000
METERS_PER_CUSTOMER = 3
MAILS_PER_CUSTOMER = 4
TABLES = (
    "customer", "contract_account", "meter", "reading", "inbound_message", "photo",
    "ocr_result", "outbox", "review_task", "campaign", "campaign_recipient", "meter_account_move",
)  # fmt: skip


def _insert(ctx: AppContext, model: Any, rows: Iterator[dict[str, Any]]) -> None:
    batch: list[dict[str, Any]] = []
    with ctx.engine.begin() as conn:
        for row in rows:
            batch.append(row)
            if len(batch) == BATCH:
                conn.execute(insert(model), batch)
                batch = []
        if batch:
            conn.execute(insert(model), batch)


def seed(ctx: AppContext, customers: int, readings: int) -> None:
    meters = customers * METERS_PER_CUSTOMER
    mails = customers * MAILS_PER_CUSTOMER
    _insert(ctx, Customer, ({"id": i, "name": f"Kunde {i:06d}", "email": f"k{i}@example.org",
                             "language": "de"} for i in range(1, customers + 1)))  # fmt: skip
    _insert(ctx, ContractAccount, ({"id": i, "number": f"4{i:09d}", "customer_id": i}
                                   for i in range(1, customers + 1)))  # fmt: skip
    _insert(ctx, Meter, (_meter(i) for i in range(1, meters + 1)))
    _insert(ctx, MeterAccountMove, (_move(i, customers) for i in range(100, meters + 1, 100)))
    _insert(ctx, InboundMessage, (_mail(i) for i in range(1, mails + 1)))
    _insert(ctx, Photo, ({"id": i, "message_id": i, "sha256": f"{i:064x}", "filename": "z.jpg",
                          "content_type": "image/jpeg", "size": 1000}
                         for i in range(1, mails + 1)))  # fmt: skip
    _insert(ctx, OcrResult, ({"photo_id": i, "reading": "004521", "confidence": 0.9,
                              "created_at": NOW} for i in range(1, mails + 1)))  # fmt: skip
    _insert(ctx, Reading, (_reading(k, meters, readings) for k in range(readings)))
    _insert(ctx, Outbox, (_reply(i) for i in range(1, mails + 1)))
    _insert(ctx, ReviewTask, (_task(i) for i in range(10, mails + 1, 10)))
    _insert(ctx, Campaign, iter([{"id": 1, "name": "Jahresablesung", "due_from": NOW.date(),
                                  "due_to": NOW.date(), "status": "done"}]))  # fmt: skip
    _insert(ctx, CampaignRecipient, ({"campaign_id": 1, "meter_id": m,
                                      "customer_id": _customer_of_meter(m), "status": "done"}
                                     for m in range(1, meters + 1)))  # fmt: skip
    with ctx.engine.begin() as conn:
        if ctx.engine.dialect.name == "postgresql":
            for table in TABLES:
                conn.execute(
                    text(f"SELECT setval('{table}_id_seq', (SELECT max(id) FROM {table}))")
                )
        conn.execute(text("ANALYZE"))


def _customer_of_meter(meter: int) -> int:
    return (meter - 1) // METERS_PER_CUSTOMER + 1


def _meter(i: int) -> dict[str, Any]:
    return {"id": i, "number": f"1ESY{i:08d}", "account_id": _customer_of_meter(i),
            "kind": "electricity", "unit": "kWh", "integer_digits": 6, "decimal_digits": 1,
            "registers": "1.8.0"}  # fmt: skip


def _move(meter: int, customers: int) -> dict[str, Any]:
    """Every hundredth meter came from another customer's account on 01.06.2026."""
    before = _customer_of_meter(meter) % customers + 1
    return {"meter_id": meter, "from_account_id": before,
            "to_account_id": _customer_of_meter(meter), "moved_on": dt.date(2026, 6, 1),
            "recorded_at": NOW}  # fmt: skip


def _reading(k: int, meters: int, total: int) -> dict[str, Any]:
    meter = k % meters + 1
    step = k // meters
    day = dt.date(2026, 11, 1) - dt.timedelta(days=91 * (total // meters - step))
    mail = None  # the first reading of each meter came by mail, from its customer
    if step == 0:
        first = (_customer_of_meter(meter) - 1) * MAILS_PER_CUSTOMER + 1
        mail = first + (meter - 1) % METERS_PER_CUSTOMER
    return {"meter_id": meter, "register": "1.8.0", "value": Decimal(1000 + 500 * step),
            "read_on": day, "source": "photo" if mail else "import", "status": "accepted",
            "accepted_by": "auto", "inbound_message_id": mail, "photo_id": mail,
            "created_at": NOW}  # fmt: skip


def _mail(i: int) -> dict[str, Any]:
    customer = (i - 1) // MAILS_PER_CUSTOMER + 1
    sender = f"k{customer}@example.org" if i % 2 else f"K{customer}@Example.org"
    return {"id": i, "mailbox": "INBOX", "source_key": f"maildir:{i}", "sha256": f"{i:064x}",
            "sender": sender, "subject": f"Zählerstand {i}",
            "received_at": NOW - dt.timedelta(minutes=i), "status": "accepted",
            "updated_at": NOW}  # fmt: skip


def _reply(i: int) -> dict[str, Any]:
    customer = (i - 1) // MAILS_PER_CUSTOMER + 1
    return {"kind": "confirmation", "recipient": f"k{customer}@example.org",
            "subject": "Ihr Zählerstand", "body_text": "Danke", "idempotency_key": f"c:{i}",
            "status": "sent", "inbound_message_id": i, "created_at": NOW}  # fmt: skip


def _task(i: int) -> dict[str, Any]:
    customer = (i - 1) // MAILS_PER_CUSTOMER + 1
    meter = (customer - 1) * METERS_PER_CUSTOMER + 1 + i % METERS_PER_CUSTOMER
    return {"inbound_message_id": i, "photo_id": i, "meter_id": meter, "status": "done",
            "reason_codes": ["low_confidence"], "candidates": [], "decision": "accepted",
            "created_at": NOW}  # fmt: skip


@contextmanager
def scans(engine: Engine, found: list[str]) -> Iterator[None]:
    """Collect the plans of the statements run meanwhile that read a whole table."""

    def explain(conn: Any, cursor: Any, statement: str, params: Any, *_: Any) -> None:
        head = statement.lstrip().split(None, 1)[0].upper()
        if head not in ("SELECT", "UPDATE", "DELETE") or "EXPLAIN" in statement:
            return
        prefix = "EXPLAIN QUERY PLAN " if engine.dialect.name == "sqlite" else "EXPLAIN "
        cur = conn.connection.cursor()
        cur.execute(prefix + statement, params)
        plan = "\n".join(str(row[-1] if engine.dialect.name == "sqlite" else row[0])
                         for row in cur.fetchall())  # fmt: skip
        if "SCAN " in plan.replace("SCAN CONSTANT", "") or "Seq Scan" in plan:
            found.append(f"{' '.join(statement.split())[:300]}\n{plan}")

    event.listen(engine, "before_cursor_execute", explain)
    try:
        yield
    finally:
        event.remove(engine, "before_cursor_execute", explain)


def timed(runs: list[Callable[[], object]]) -> list[float]:
    seconds = []
    for run in runs:
        start = time.perf_counter()
        run()
        seconds.append(time.perf_counter() - start)
    return seconds


def measure(ctx: AppContext, customers: int, repeat: int, out: Path, plans: bool) -> None:
    step = customers // (2 * repeat + 1)
    exported = [1 + step * k for k in range(repeat)]
    erased = [1 + step * (repeat + k) for k in range(repeat)]

    def export(number: int) -> Callable[[], object]:
        return lambda: export_customer(ctx, f"4{number:09d}", out / f"{number}.zip", actor="bench")

    def erase(number: int) -> Callable[[], object]:
        return lambda: erase_customer(ctx, f"4{number:09d}", actor="bench")

    for label, runs in (("export", [export(n) for n in exported]),
                        ("erase", [erase(n) for n in erased])):  # fmt: skip
        seconds = timed(runs)
        print(f"  {label:<7} median {statistics.median(seconds):7.3f} s   "
              f"slowest {max(seconds):7.3f} s   ({repeat} customers)")  # fmt: skip
    if plans:
        found: list[str] = []
        with scans(ctx.engine, found):
            export_customer(ctx, f"4{customers - 1:09d}", out / "plan.zip", actor="bench")
            try:
                erase_customer(ctx, f"4{customers - 2:09d}", actor="bench")
            except ConflictError:  # erased by an earlier run on a --seeded database
                print("  (customer erased before: erasure plans not shown)")
        print(f"  statements reading a whole table: {len(found)}")
        for plan in found:
            print("    " + plan.replace("\n", "\n      "))


def measure_seeded(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as var:
        settings = load_settings(var_dir=Path(var), database_url=args.seeded, _env_file=None)
        ctx = AppContext.from_settings(settings, clock=lambda: NOW)
        upgrade(ctx.engine)
        with ctx.engine.begin() as conn:
            conn.execute(text("ANALYZE"))
        print(f"{ctx.engine.dialect.name}: seeded database, migrated to head")
        measure(ctx, args.customers, args.repeat, Path(var), args.plans)
        ctx.engine.dispose()


def run(backend: str, args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as var:
        admin, name = None, ""
        if backend == "sqlite":
            url = f"sqlite:///{var}/bench.sqlite3"
        else:
            admin = create_engine(args.pg_url, isolation_level="AUTOCOMMIT")
            name = f"mi_bench_customer_{uuid.uuid4().hex[:8]}"
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
            url = make_url(args.pg_url).set(database=name).render_as_string(hide_password=False)
        try:
            settings = load_settings(var_dir=Path(var), database_url=url, _env_file=None)
            ctx = AppContext.from_settings(settings, clock=lambda: NOW)
            upgrade(ctx.engine)
            started = time.perf_counter()
            seed(ctx, args.customers, args.readings)
            print(f"{backend}: {args.customers} customers, {args.customers * 3} meters, "
                  f"{args.readings} readings, {args.customers * 4} mails seeded in "
                  f"{time.perf_counter() - started:.0f} s")  # fmt: skip
            measure(ctx, args.customers, args.repeat, Path(var), args.plans)
            ctx.engine.dispose()
        finally:
            if admin is not None:
                if args.keep:
                    print(f"  kept {name}")
                else:
                    with admin.connect() as conn:
                        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                admin.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", action="append", choices=["sqlite", "postgresql"])
    parser.add_argument("--pg-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--customers", type=int, default=50_000)
    parser.add_argument("--readings", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--plans", action="store_true")
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--seeded", metavar="URL")
    args = parser.parse_args()
    if args.seeded:
        measure_seeded(args)
        return 0
    for backend in args.db or ["sqlite", "postgresql"]:
        run(backend, args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
