"""Intake throughput: mails per second through the whole pipeline on the embedded default.

    .venv/bin/python bench/intake.py [--mails 40] [--database-url URL]

Builds a fresh SQLite (or the given database), imports master data, writes N customer mails with
rendered meter photos into a Maildir, runs one worker pass and prints mails/s and seconds per mail.
"""

from __future__ import annotations

import argparse
import mailbox
import sys
import tempfile
import time
from pathlib import Path

from tqdm import tqdm

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from app.demo import DemoMail, build_message  # noqa: E402
from core.context import AppContext  # noqa: E402
from core.migrate import upgrade  # noqa: E402
from core.settings import load_settings  # noqa: E402


def _master_data(path: Path, count: int) -> None:
    lines = [
        "vertragskonto;name;email;sprache;zaehlernummer;art;einheit;vorkommastellen;"
        "nachkommastellen;letzter_stand;letzter_stand_datum"
    ]
    for i in range(count):
        lines.append(
            f"5000{i:05d};Kunde {i};kunde{i}@example.org;de;7WAS{i:07d};water;m3;5;3;"
            f"00010,000;01.05.2026"
        )
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _mails(box: mailbox.Maildir, count: int) -> None:
    from ocr import synth

    for i in tqdm(range(count), desc="Mails erzeugen", unit="Mail"):
        photo = synth.encode_jpeg(
            synth.render_drum_meter(
                f"{100 + i:05d}", "250", seed=i, angle=(i % 7) * 3 - 9, meter_number=f"7WAS{i:07d}"
            )
        )
        mail = DemoMail(f"Kunde {i} <kunde{i}@example.org>", "Zählerstand", "Foto anbei", photo, "")
        box.add(build_message(mail, i, "Fri, 20 Nov 2026 09:30:00 +0000"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mails", type=int, default=40)
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()

    from intake.worker import run_worker
    from matching.masterdata import import_csv

    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(
            var_dir=Path(tmp),
            database_url=args.database_url,
            smtp_enabled=False,
            log_level="WARNING",
            _env_file=None,
        )
        ctx = AppContext.from_settings(settings)
        upgrade(ctx.engine)
        _master_data(Path(tmp) / "stamm.csv", args.mails)
        import_csv(ctx, Path(tmp) / "stamm.csv", progress=False)
        _mails(mailbox.Maildir(settings.effective_maildir, create=True), args.mails)
        start = time.perf_counter()
        report = run_worker(ctx, once=True)
        elapsed = time.perf_counter() - start
    print(report.summary())
    print(
        f"backend: {ctx.engine.dialect.name}  mails: {args.mails}  seconds: {elapsed:.2f}  "
        f"mails/s: {args.mails / elapsed:.2f}  s/mail: {elapsed / args.mails:.3f}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
