"""The blob finder's bookkeeping: one blob per digit when several passes find it, the pairs
of blobs near enough to be neighbouring digits, and components beyond 16-bit labels; a
counter of thin dark digits on shaded grey drums found as one row; and a counter's row put
ahead of the print around it for the search."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from ocr.locate import (
    LINK_MAX_DIST,
    MOST_DRUMS,
    THRESH_C,
    Blob,
    Row,
    _blobs,
    _components,
    _dedupe,
    _drum_pair,
    _joined,
    _near,
    _pixels,
    drum_likeness,
    find_rows,
    local_thresholds,
    rows_to_read,
)
from ocr.locate import _row as _row_of
from ocr.synth import _put_text


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


def test_more_components_than_16_bit_labels_hold_are_measured_all_the_same() -> None:
    noise = np.zeros((600, 600), np.uint8)
    noise[::2, ::2] = 255  # 90,000 single-pixel components
    noise[96:134, 196:219] = 0
    noise[100:130, 200:215] = 255  # and one digit-sized bar, clear of the dots
    labels, stats = _components(noise)
    assert labels.max() == len(stats) - 1 > 65_535
    _, expected, _, _ = cv2.connectedComponentsWithStats(noise, connectivity=8)
    assert np.array_equal(labels, expected)
    (bar,) = _blobs(noise, 1, 20, 60)
    assert (bar.cx, bar.cy, bar.length) == pytest.approx((207, 114.5, 30))


def test_16_bit_labels_give_the_same_components() -> None:
    rng = np.random.default_rng(3)
    binary = (rng.random((300, 400)) < 0.4).astype(np.uint8) * 255
    labels, stats = _components(binary)
    assert labels.dtype == np.uint16
    _, expected, expected_stats, _ = cv2.connectedComponentsWithStats(binary, connectivity=8)
    assert np.array_equal(labels, expected) and np.array_equal(stats, expected_stats)


def test_component_pixels_come_component_by_component_in_row_order() -> None:
    rng = np.random.default_rng(5)
    binary = (rng.random((200, 300)) < 0.45).astype(np.uint8) * 255
    labels, stats = _components(binary)
    ids = np.flatnonzero(stats[:, 4] >= 3)[1:]  # some components, the background left out
    x, y, counts = _pixels(labels, stats, ids)
    ys, xs = np.nonzero(np.isin(labels, ids))  # row by row over the image
    order = np.argsort(labels[ys, xs], kind="stable")
    box = stats[labels[ys, xs][order], :2]
    assert np.array_equal(counts, stats[ids, 4])
    assert np.array_equal(x, xs[order] - box[:, 0]) and np.array_equal(y, ys[order] - box[:, 1])
    assert x.dtype == y.dtype == np.float64


def test_local_thresholds_are_opencvs_adaptive_thresholds_of_both_polarities() -> None:
    rng = np.random.default_rng(9)
    noise = rng.integers(0, 256, (240, 320), dtype=np.uint8)
    image = cv2.GaussianBlur(noise, (0, 0), 3.0)
    image[:40] = 0  # black and white areas: the offset must not wrap around
    image[40:80] = 255
    image[80:90, ::7] = 9
    for block in (25, 61):
        found = local_thresholds(image, (block,))
        for polarity, mode, c in (
            (1, cv2.THRESH_BINARY, -THRESH_C),
            (0, cv2.THRESH_BINARY_INV, THRESH_C),
        ):
            expected = cv2.adaptiveThreshold(image, 255, cv2.ADAPTIVE_THRESH_MEAN_C, mode, block, c)
            assert np.array_equal(found[polarity, block], expected)


def _grey_drums_in_white_dial(digits: str) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """A 1200 x 900 dial face (white) with a band of grey drums holding thin dark digits, as on
    many water meters: the drums are shaded darker towards their top and bottom edges, and the
    band as a whole is darker than the face around it. Returns the image and the band's box."""
    image = np.full((900, 1200), 235, np.float32)
    x1, y1, pitch, height = 380, 430, 36, 50
    x2, y2 = x1 + pitch * len(digits), y1 + height
    rows = np.arange(height) + 0.5
    image[y1:y2, x1:x2] = (110 + 50 * np.sin(np.pi * rows / height))[:, None]  # drum curvature
    drawn = image.astype(np.uint8)
    for k, digit in enumerate(digits):
        left = x1 + k * pitch
        cv2.line(drawn, (left, y1), (left, y2), 95, 2)  # the frame between two drums
        cv2.putText(
            drawn, digit, (left + 6, y2 - 10), cv2.FONT_HERSHEY_SIMPLEX, 1.0, 110, 2, cv2.LINE_AA
        )
    return cv2.GaussianBlur(drawn, (0, 0), 1.0), (x1, y1, x2, y2)


def test_thin_dark_digits_on_shaded_grey_drums_in_a_white_dial_form_a_row() -> None:
    """The local mean puts the whole drum band below the threshold here (the digits merge with
    it); the stroke pass at full size finds them."""
    image, (x1, y1, x2, y2) = _grey_drums_in_white_dial("0021586")
    inside = [
        sum(x1 <= b.cx <= x2 and y1 <= b.cy <= y2 for b in row.blobs) for row in find_rows(image)
    ]
    assert max(inside, default=0) >= 6


def _row(count: int, height: float, pitch: float) -> Row:
    blobs = tuple(Blob(k * pitch, 0.0, height, 0.5 * height, math.pi / 2, 0) for k in range(count))
    return Row(blobs, (0.0, 0.0), (1.0, 0.0), height, pitch, 0.0)


def test_drum_spacing_outweighs_a_digit_more_and_length_beyond_a_counters_counts_not() -> None:
    drums = _row(5, 30, 38)  # each digit on its own drum
    print_row = _row(6, 30, 20)  # printed digits in a condensed face
    serial, text = _row(10, 30, 20), _row(26, 13, 10)  # a meter number, a line of small print
    assert drum_likeness(drums) > drum_likeness(print_row)
    assert drum_likeness(serial) == drum_likeness(text) == MOST_DRUMS


def test_a_counter_behind_more_rows_of_print_than_a_search_reads_is_read_all_the_same() -> None:
    """Six light digits on dark drums above a dozen printed numbers of four and five digits of
    the same size (a plate's rating, year, constants), its row cut in two: by length more than
    ten rows rank before the counter's, yet the ten rows read include it, and the first seven
    of `find_rows` stay."""
    image = np.full((800, 1000, 3), 225, np.uint8)
    numbers = ["2012", "45000", "10400", "22017", "1040", "2007"]
    numbers += ["23050", "37500", "1996", "60000", "12110", "8045"]
    for i, text in enumerate(numbers):
        _put_text(image, text, (40 + 320 * (i % 3), 330 + 110 * (i // 3)), 44, (20, 20, 20))
    x1, y1, pitch = 300, 120, 44
    cv2.rectangle(image, (x1 - 8, y1 - 8), (x1 + 6 * pitch + 4, y1 + 60), (30, 30, 30), -1)
    for k, digit in enumerate("077825"):
        left = x1 + k * pitch
        cv2.rectangle(image, (left, y1), (left + pitch - 8, y1 + 52), (60, 60, 60), -1)
        _put_text(image, digit, (left + 6, y1 + 44), 44, (225, 225, 225))
    rows = find_rows(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY))

    def on_counter(found: list[Row]) -> list[Row]:
        return [r for r in found if all(y1 <= b.cy <= y1 + 52 for b in r.blobs)]

    read = rows_to_read(rows, 10, 3)
    assert on_counter(rows) and not on_counter(rows[:10])
    assert on_counter(read) and read[:7] == rows[:7] and len(read) == 10


def _blobs_at(xs: list[float], y: float = 100.0, height: float = 30.0) -> list[Blob]:
    """Light digits on dark drums, upright, at `xs`."""
    return [Blob(x, y, height, 0.5 * height, math.pi / 2, 1) for x in xs]


def _piece(blobs: list[Blob]) -> Row:
    """A row found through `blobs` (a pair as `_drum_pair` makes it)."""
    row = _drum_pair(blobs) if len(blobs) == 2 else _row_of(blobs)
    assert row is not None
    return row


def test_pieces_of_a_counter_cut_at_a_lost_drum_are_joined_and_the_drum_named() -> None:
    pair, rest = _piece(_blobs_at([100, 140])), _piece(_blobs_at([220, 260, 300]))
    [joined] = _joined([rest], [pair])
    assert [round(b.cx) for b in joined.blobs] == [100, 140, 220, 260, 300]
    origin, direction = joined.origin, joined.direction
    lost_x = [origin[0] + p * direction[0] for p in joined.lost]
    assert [round(x) for x in lost_x] == [180]


@pytest.mark.parametrize(
    "rest",
    [
        [240, 280, 320],  # half a drum off the pair's grid
        [380, 420, 460],  # too many drums lost between
    ],
)
def test_pieces_off_the_drums_grid_are_not_joined(rest: list[float]) -> None:
    pair = _piece(_blobs_at([100, 140]))
    assert _joined([_piece(_blobs_at(rest))], [pair]) == []


def test_pieces_off_the_line_or_of_another_size_are_not_joined() -> None:
    pair = _piece(_blobs_at([100, 140]))
    below = _piece(_blobs_at([220, 260, 300], y=112))
    smaller = _piece(_blobs_at([220, 260, 300], height=22))
    assert _joined([below, smaller], [pair]) == []


def test_two_printed_digits_close_together_are_no_drum_pair() -> None:
    assert _drum_pair(_blobs_at([100, 118])) is None


def test_a_counter_whose_third_drum_lost_its_digit_is_found_as_one_row() -> None:
    """Six light digits on dark drums, the third covered by a blot of light ink: the two
    pieces left are one row, the covered drum named lost."""
    image = np.full((400, 700, 3), 225, np.uint8)
    x1, y1, pitch = 150, 150, 52
    cv2.rectangle(image, (x1 - 8, y1 - 8), (x1 + 6 * pitch + 4, y1 + 60), (30, 30, 30), -1)
    for k, digit in enumerate("081294"):
        left = x1 + k * pitch
        cv2.rectangle(image, (left, y1), (left + pitch - 8, y1 + 52), (60, 60, 60), -1)
        _put_text(image, digit, (left + 6, y1 + 44), 44, (225, 225, 225))
    blot = x1 + 2 * pitch + (pitch - 8) // 2
    cv2.ellipse(image, (blot, y1 + 26), (26, 9), 0, 0, 360, (225, 225, 225), -1)
    rows = find_rows(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY))
    on_counter = [r for r in rows if all(y1 <= b.cy <= y1 + 52 for b in r.blobs)]
    longest = max(on_counter, key=lambda r: len(r.blobs))
    assert len(longest.blobs) >= 5
    lost_x = [longest.origin[0] + p * longest.direction[0] for p in longest.lost]
    assert len(lost_x) == 1 and abs(lost_x[0] - blot) < pitch / 2
    assert all(r.lost for r in rows[rows.index(longest) :])  # after the rows found whole
