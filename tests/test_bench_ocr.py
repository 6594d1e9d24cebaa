"""The OCR bench's figures (bench/ocr.py is a script, loaded here from its path)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench" / "ocr.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_ocr", BENCH)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_ocr"] = module
    spec.loader.exec_module(module)
    return module


def outcome(bench, label: str, reading: str | None, confidence: float, accepted: bool = False):
    return bench.Outcome("f.jpg", "water", label, reading, None, confidence, accepted, None, 0.1)


def test_reachable_stops_before_the_first_confident_mistake(bench) -> None:
    right = [outcome(bench, "42", "00042", 0.99 - i / 1000) for i in range(100)]
    wrong = outcome(bench, "42", "10042", 0.9505)
    unread = outcome(bench, "42", None, 0.0)
    coverage, threshold = bench.reachable([*right, wrong, unread])
    # 40 right reads above the mistake; fewer than 200 reads cannot absorb one mistake at 99.5 %
    assert threshold == pytest.approx(0.951)
    assert coverage == pytest.approx(40 / 102)


def test_reachable_absorbs_a_mistake_among_enough_right_reads(bench) -> None:
    rows = [outcome(bench, "42", "42", 0.9)] * 250 + [outcome(bench, "42", "43", 0.95)]
    assert bench.reachable(rows) == (1.0, 0.9)


def test_reachable_is_zero_when_even_the_surest_read_is_wrong(bench) -> None:
    rows = [outcome(bench, "7", "8", 0.9), outcome(bench, "7", "7", 0.5)]
    assert bench.reachable(rows) == (0.0, 1.0)


def test_report_counts_leading_zeros_as_exact(bench) -> None:
    rows = [
        outcome(bench, "92", "00092", 0.95, accepted=True),
        outcome(bench, "92", "00093", 0.2),
    ]
    header, water = bench.report(rows)
    assert header.split()[:3] == ["group", "n", "exact"]
    n, exact, digits, coverage, precision = water.split()[1:6]
    assert (n, exact, digits, coverage, precision) == ("2", "50.0%", "90.0%", "50.0%", "100.0%")
