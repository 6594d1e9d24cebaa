"""The blob finder's bookkeeping: one blob per digit when several passes find it, and the pairs
of blobs near enough to be neighbouring digits."""

from __future__ import annotations

import math

import numpy as np

from ocr.locate import LINK_MAX_DIST, Blob, _dedupe, _near


def _kept_by_brute_force(blobs: list[Blob]) -> list[Blob]:
    """The rule spelled out: longest first, a blob goes when a kept longer blob of its polarity
    lies within 0.3 of that blob's length and is under 1.3 times as long."""
    kept: list[Blob] = []
    for blob in sorted(blobs, key=lambda b: -b.length):
        covered = any(
            k.polarity == blob.polarity
            and k.length < 1.3 * blob.length
            and math.dist((k.cx, k.cy), (blob.cx, blob.cy)) < 0.3 * k.length
            for k in kept
        )
        if not covered:
            kept.append(blob)
    return kept


def test_a_digit_found_by_several_passes_is_one_blob() -> None:
    passes = [Blob(100 + d, 50 + d, 30 + 2 * d, 15, 0.0, 0) for d in (0, 1, 2)]
    other_polarity = Blob(101, 51, 31, 15, 0.0, 1)
    neighbour = Blob(125, 50, 30, 15, 0.0, 0)
    kept = _dedupe([*passes, other_polarity, neighbour])
    assert kept == [passes[2], other_polarity, neighbour]


def test_dedupe_keeps_what_the_rule_keeps_among_many_blobs() -> None:
    rng = np.random.default_rng(7)
    blobs = [
        Blob(
            float(rng.uniform(0, 400)),
            float(rng.uniform(0, 300)),
            float(rng.uniform(8, 120)),
            8.0,
            0.0,
            int(rng.integers(0, 2)),
        )
        for _ in range(600)
    ]
    assert _dedupe(blobs) == _kept_by_brute_force(blobs)


def test_near_pairs_are_the_pairs_the_rule_names_in_row_major_order() -> None:
    rng = np.random.default_rng(11)
    n = 500
    cx, cy = rng.uniform(0, 600, n), rng.uniform(0, 400, n)
    ln = rng.uniform(5, 90, n)
    dist = np.hypot(cx[None, :] - cx[:, None], cy[None, :] - cy[:, None])
    mean_len = (ln[:, None] + ln[None, :]) / 2
    rule = (dist > 0.35 * mean_len) & (dist < LINK_MAX_DIST * mean_len)
    expected = np.nonzero(np.triu(rule, 1))
    i, j = _near(cx, cy, ln)
    assert len(i) > 100
    assert np.array_equal(i, expected[0]) and np.array_equal(j, expected[1])


def test_no_blobs_no_pairs() -> None:
    i, j = _near(np.zeros(0), np.zeros(0), np.zeros(0))
    assert len(i) == len(j) == 0
