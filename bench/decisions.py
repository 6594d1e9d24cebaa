"""Decision benchmark: the whole pipeline playing a utility with a billing history.

    .venv/bin/python bench/decisions.py [--group water lcd emic] [--limit N] [--seed 1]
        [--several-share 0.5] [--no-history-share 0.1] [--lcd-kind water] [--jobs 1] [--json]

For every labelled photo in ../shared/corpus/meter-photos one customer with the photographed meter
(digit counts as the photo shows) and, for a share of them, one or two further meters of other
kinds; every meter gets a simulated billing history that ends at the labelled reading today. The
master data goes in through `meter-intake import` (one file per round of past readings, oldest
first), one mail per photo into a fresh Maildir, then the real worker (`run_worker(..., once=True)`
per batch of ten mails) and `meter-intake export readings`. The ledger says what went to clerks.

Two kinds of wrong bookings are counted apart. "int.wr": on another meter or with another integer
part, the error that reaches the bill. "dec.wr": the integer part right, the decimals (red drums,
litres or tenths of a kWh, not billed) off the label by a step of the second-to-last decimal drum or
more (water 5+3: ten litres; `decimal_tolerance`); a last drum caught between two digits, or a
label with fewer fraction digits than the meter, is not counted.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import io
import json
import logging
import mailbox
import multiprocessing
import os
import random
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import asdict, dataclass
from decimal import Decimal
from email.utils import parseaddr
from pathlib import Path
from typing import TYPE_CHECKING

from tqdm import tqdm

if TYPE_CHECKING:
    from core.context import AppContext

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench import decisions_sim as sim  # noqa: E402
from bench.decisions_report import (  # noqa: E402
    Cell,
    MailOutcome,
    format_table,
    reason_counts,
    summarize,
)
from bench.ocr import matches  # noqa: E402
from bench.ocr_cache import DEFAULT_FOLDER as DEFAULT_CACHE  # noqa: E402

BATCH = 10  # mails delivered to the Maildir before each worker pass
EXPORT_WINDOW = dt.timedelta(days=1)  # export readings since yesterday (a run may pass midnight)


@dataclass
class ShardResult:
    outcomes: list[MailOutcome]
    seconds: dict[Cell, float]


def corpus_dir(arg: str | None) -> Path:
    if arg or os.environ.get("METER_INTAKE_CORPUS"):
        return Path(arg or os.environ["METER_INTAKE_CORPUS"])
    for root in (REPO.parent, *REPO.parents[1:3]):
        if (root / "shared" / "corpus").is_dir():
            return root / "shared" / "corpus"
    return REPO.parent / "shared" / "corpus"


def decimal_tolerance(decimals: int) -> Decimal:
    """How far booked decimals may stray from the label and still count as right: one step of the
    second-to-last decimal drum (water 5+3: 0.01 m³, ten litres), so a last drum caught between two
    digits or left off counts as read; one step of the only decimal drum when there is one (a drum
    between two digits)."""
    return Decimal(1).scaleb(-max(decimals - 1, 1)) if decimals else Decimal(0)


def label_matches(booked: Decimal, photo: sim.LabelledPhoto, decimals: int) -> bool:
    """Integer part equal, and the booked value within `decimal_tolerance` of the labelled value
    (a label with fewer fraction digits than the meter stands for the whole range they leave
    open: `28,97` for 28,970-28,979; an empty fraction compares the integer part only)."""
    if int(booked) != int(photo.reading):
        return False
    if not photo.fraction:
        return True
    low = photo.value
    high = low + Decimal(1).scaleb(-len(photo.fraction))
    tolerance = decimal_tolerance(decimals)
    return low <= booked < high or low - tolerance < booked < high + tolerance


def booking_error(customer: sim.SimCustomer, number: str, value: Decimal) -> str | None:
    """None for a right booking; "off" when only the decimals are off by more than the
    tolerance; "wrong" for another integer part (what changes the bill) or another meter. A
    display's label may be its value rounded up (see `bench.ocr.matches`): a booking with a
    decimal part other than zero and the integer part one below the label is then right."""
    meter = customer.meters[0]
    if number != meter.number:
        return "wrong"
    integer, _, fraction = f"{value:f}".partition(".")
    if customer.photo.group == "lcd" and matches("lcd", customer.photo.reading, integer, fraction):
        return None
    if int(value) != int(customer.photo.reading):
        return "wrong"
    return None if label_matches(value, customer.photo, meter.profile.decimal_digits) else "off"


def classify(customer: sim.SimCustomer, status: str, bookings: list[tuple[str, Decimal]]) -> str:
    if bookings:
        errors = {booking_error(customer, number, value) for number, value in bookings}
        return "wrong" if "wrong" in errors else "off" if "off" in errors else "booked"
    if status == "review":
        return "clerk"
    if status in ("rejected", "ignored", "duplicate"):
        return "rejected"
    return "failed"


def cli(var_dir: Path, *args: str) -> str:
    """Run `meter-intake ARGS` against the var dir; the command's stdout."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
        "METER_INTAKE_VAR_DIR": str(var_dir),
        "METER_INTAKE_DATABASE_URL": "",
        "METER_INTAKE_MAILBOX": "maildir",
        "METER_INTAKE_SMTP_ENABLED": "false",
        "METER_INTAKE_LOG_LEVEL": "WARNING",
    }
    command = [sys.executable, "-c", "from app.cli import main; raise SystemExit(main())", *args]
    done = subprocess.run(command, env=env, cwd=var_dir, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"meter-intake {' '.join(args)}: {done.returncode}\n{done.stderr}")
    return done.stdout


def _batches(customers: list[sim.SimCustomer], seed: int) -> list[list[sim.SimCustomer]]:
    """Batches of one cell each (so their worker time is that cell's), in shuffled order."""
    cells: dict[Cell, list[sim.SimCustomer]] = defaultdict(list)
    for customer in customers:
        cells[(customer.photo.group, customer.several)].append(customer)
    batches = [
        members[i : i + BATCH] for members in cells.values() for i in range(0, len(members), BATCH)
    ]
    random.Random(seed).shuffle(batches)
    return batches


def run_shard(
    customers: list[sim.SimCustomer],
    *,
    photos_dir: Path,
    var_dir: Path,
    seed: int,
    progress: Callable[[int], object],
    ocr_cache: Path | None = None,
) -> ShardResult:
    from bench.ocr_cache import cached_reader
    from core.context import AppContext
    from core.settings import load_settings
    from intake.pipeline import ocr_reader
    from intake.worker import run_worker

    for path in sim.write_master_data(customers, var_dir):
        cli(var_dir, "import", str(path), "--quiet")
    settings = load_settings(
        var_dir=var_dir, database_url="", mailbox="maildir", smtp_enabled=False, _env_file=None
    )
    ctx = AppContext.from_settings(settings)
    box = mailbox.Maildir(settings.effective_maildir, create=True)
    seconds: dict[Cell, float] = defaultdict(float)
    reader = cached_reader(ocr_cache) if ocr_cache else ocr_reader
    for batch in _batches(customers, seed):
        for customer in batch:
            jpeg = sim.taken_recently((photos_dir / customer.photo.file).read_bytes(), ctx.clock())
            rng = random.Random(f"{seed}:{customer.account}")  # the same mail for any --jobs
            box.add(sim.customer_mail(customer, jpeg, rng=rng, now=ctx.clock()))
        start = time.perf_counter()
        run_worker(ctx, once=True, reader=reader)
        seconds[(batch[0].photo.group, batch[0].several)] += time.perf_counter() - start
        progress(len(batch))
    since = ctx.today() - EXPORT_WINDOW
    exported = cli(var_dir, "export", "readings", "--since", since.isoformat())
    outcomes = _outcomes(ctx, customers, exported)
    ctx.engine.dispose()
    return ShardResult(outcomes, dict(seconds))


def _auto_bookings(exported: str) -> dict[str, list[tuple[str, Decimal]]]:
    bookings: dict[str, list[tuple[str, Decimal]]] = defaultdict(list)
    for row in csv.DictReader(io.StringIO(exported), delimiter=";"):
        if row["angenommen_von"] == "auto":
            bookings[row["vertragskonto"]].append((row["zaehlernummer"], Decimal(row["stand"])))
    return bookings


def _ledger(ctx: AppContext) -> dict[str, tuple[str, list[str]]]:
    """Sender address → (status of the mail, reason codes of its review tasks)."""
    from sqlalchemy import select

    from core.models import InboundMessage, ReviewTask

    with ctx.sessions() as session:
        reasons: dict[int, list[str]] = defaultdict(list)
        for message_id, codes in session.execute(
            select(ReviewTask.inbound_message_id, ReviewTask.reason_codes)
        ):
            reasons[message_id].extend(codes or [])
        return {
            parseaddr(sender or "")[1].lower(): (status, reasons[message_id])
            for message_id, sender, status in session.execute(
                select(InboundMessage.id, InboundMessage.sender, InboundMessage.status)
            )
        }


def _outcomes(
    ctx: AppContext, customers: list[sim.SimCustomer], exported: str
) -> list[MailOutcome]:
    ledger, bookings = _ledger(ctx), _auto_bookings(exported)
    outcomes = []
    for customer in customers:
        status, reasons = ledger.get(customer.email, ("missing", []))
        booked = bookings.get(customer.account, [])
        outcomes.append(
            MailOutcome(
                customer.photo.file,
                customer.photo.group,
                customer.several,
                classify(customer, status, booked),
                status,
                sorted(set(reasons)),
                ", ".join(f"{number}={value}" for number, value in booked),
            )
        )
    return outcomes


def _shard_process(queue: multiprocessing.Queue, index: int, **kwargs: object) -> None:
    import cv2

    cv2.setNumThreads(1)  # one core per worker process
    try:
        result = run_shard(**kwargs, progress=lambda n: queue.put(("progress", index, n)))  # type: ignore[arg-type]
    except Exception as exc:  # reported to the parent, which stops the run
        queue.put(("error", index, f"{type(exc).__name__}: {exc}"))
        raise
    queue.put(("done", index, result))


def run_all(
    customers: list[sim.SimCustomer],
    *,
    jobs: int,
    photos_dir: Path,
    seed: int,
    progress: bool,
    ocr_cache: Path | None = None,
) -> list[ShardResult]:
    """Each job its own utility (var dir with SQLite and Maildir) with every jobs-th customer."""
    shards = [customers[i::jobs] for i in range(jobs) if customers[i::jobs]]
    with (
        tempfile.TemporaryDirectory(prefix="bench-decisions-") as tmp,
        tqdm(total=len(customers), unit="Mail", disable=not progress) as bar,
    ):
        dirs = [Path(tmp) / f"utility-{i}" for i in range(len(shards))]
        for folder in dirs:
            folder.mkdir()
        if len(shards) == 1:
            return [
                run_shard(
                    shards[0],
                    photos_dir=photos_dir,
                    var_dir=dirs[0],
                    seed=seed,
                    progress=bar.update,
                    ocr_cache=ocr_cache,
                )
            ]
        return _run_parallel(
            shards, dirs, photos_dir=photos_dir, seed=seed, bar=bar, ocr_cache=ocr_cache
        )


def _run_parallel(
    shards: list[list[sim.SimCustomer]],
    dirs: list[Path],
    *,
    photos_dir: Path,
    seed: int,
    bar: tqdm,
    ocr_cache: Path | None,
) -> list[ShardResult]:
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    processes = [
        context.Process(
            target=_shard_process,
            args=(queue, i),
            kwargs={
                "customers": shard,
                "photos_dir": photos_dir,
                "var_dir": dirs[i],
                "seed": seed,
                "ocr_cache": ocr_cache,
            },
        )
        for i, shard in enumerate(shards)
    ]
    for process in processes:
        process.start()
    results: dict[int, ShardResult] = {}
    try:
        while len(results) < len(processes):
            kind, index, payload = queue.get()
            if kind == "progress":
                bar.update(payload)
            elif kind == "done":
                results[index] = payload
            else:
                raise RuntimeError(f"job {index} failed: {payload}")
    finally:
        for process in processes:
            process.join(timeout=None if len(results) == len(processes) else 1)
            if process.is_alive():
                process.terminate()
    return [results[i] for i in range(len(processes))]


def select_photos(
    labels_csv: Path, groups: tuple[str, ...], limit: int | None, seed: int
) -> list[sim.LabelledPhoto]:
    """Every labelled photo of the groups, or a seeded sample of `limit` per group."""
    photos = sim.read_labels(labels_csv, groups)
    if limit is None:
        return photos
    chosen = []
    for group in groups:
        members = [p for p in photos if p.group == group]
        random.Random(f"{seed}:{group}").shuffle(members)
        chosen.extend(members[:limit])
    return chosen


def kind_label(customers: list[sim.SimCustomer], group: str) -> str:
    profiles = {c.meters[0].profile for c in customers if c.photo.group == group}
    kinds = sorted({f"{p.kind} {p.display}" for p in profiles})
    digits = sorted({f"{p.integer_digits}+{p.decimal_digits}" for p in profiles})
    return f"{'/'.join(kinds)} {'/'.join(digits)}"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--corpus", help="corpus folder (default ../shared/corpus)")
    parser.add_argument("--group", nargs="+", choices=sim.GROUPS, default=list(sim.GROUPS))
    parser.add_argument("--limit", type=int, default=None, help="photos per group (seeded sample)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--several-share", type=float, default=0.5, help="customers with 2-3 meters"
    )
    parser.add_argument(
        "--no-history-share", type=float, default=0.1, help="meters without history"
    )
    parser.add_argument(
        "--lcd-kind",
        choices=sorted(sim.ANNUAL_CONSUMPTION),
        default="water",
        help="kind of the LCD photos' meters (their 2-3 digit counters fit a water meter's use)",
    )
    parser.add_argument("--jobs", type=int, default=1, help="worker processes, one utility each")
    parser.add_argument("--json", action="store_true", help="print a JSON summary instead")
    parser.add_argument("--dump", help="write one JSON line per mail to this file")
    parser.add_argument("--no-progress", action="store_true")
    parser.add_argument(
        "--ocr-cache",
        type=Path,
        default=None,
        help="folder of cached OCR reads (default: a folder in the system's temp dir)",
    )
    parser.add_argument(
        "--no-ocr-cache", action="store_true", help="read every photo again (for timing)"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    labels = corpus_dir(args.corpus) / "meter-photos" / "labels.csv"
    if not labels.is_file():
        sys.stderr.write(f"corpus not found: {labels} (set --corpus or METER_INTAKE_CORPUS)\n")
        return 2
    logging.basicConfig(level=logging.ERROR, format="%(levelname)s %(name)s: %(message)s")
    groups = tuple(g for g in sim.GROUPS if g in args.group)
    photos = select_photos(labels, groups, args.limit, args.seed)
    shares = sim.Shares(args.several_share, args.no_history_share, args.lcd_kind)
    today = dt.datetime.now(sim.BERLIN).date()
    customers = sim.build_customers(photos, seed=args.seed, shares=shares, today=today)
    results = run_all(
        customers,
        jobs=max(1, args.jobs),
        photos_dir=labels.parent,
        seed=args.seed,
        progress=not args.no_progress,
        ocr_cache=None if args.no_ocr_cache else args.ocr_cache or DEFAULT_CACHE,
    )
    outcomes = [o for r in results for o in r.outcomes]
    seconds: dict[Cell, float] = defaultdict(float)
    for result in results:
        for cell, spent in result.seconds.items():
            seconds[cell] += spent
    rows = summarize(outcomes, seconds, {g: kind_label(customers, g) for g in groups})
    if args.dump:
        with open(args.dump, "w", encoding="utf-8") as out:
            out.writelines(json.dumps(asdict(o), ensure_ascii=False) + "\n" for o in outcomes)
    if args.json:
        summary = {"rows": [r.as_dict() for r in rows], "reasons": reason_counts(outcomes)}
        print(json.dumps(summary, ensure_ascii=False, indent=1))
    else:
        print(format_table(rows))
        top = list(reason_counts(outcomes).items())[:8]
        print("review reasons: " + (", ".join(f"{c} {n}" for c, n in top) or "-"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
