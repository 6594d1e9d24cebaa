"""A line lying across a drum read's digits: a marker-pen stroke on the glass, a scratch, a thin
streak of glare.

The digit model can read such a digit confidently as another (an 8 crossed by a line is a 3), and
the ranker, fitted on clean water drums, has no feature that doubts it. So the chosen read's drums
are looked at once more, in colour and taller than the model saw them. Just above and below its
digit a drum shows its face, its rims, the bars beside it and the window's frame, much as the
drums beside it do; ink there that the neighbouring drums do not show, running thin and steep from
above the digits through them to below them, lies in front of the drums. A drum whose digit the
row finder lost between drums it found (`Row.lost`) is doubted alike: what shows there is often
the stroke that hid the digit. Such a read is not accepted (`OCCLUDED`).
"""

from __future__ import annotations

import cv2
import numpy as np

from ocr.counter import level_strip
from ocr.locate import Row
from ocr.reads import Described

OCCLUDED = "digit_occluded"  # reason code: a line across a digit

UNIT = 20.0  # pixels per digit height of the tall strip the check looks at
TALL = 1.5  # the strip reaches this many digit heights above and below the row's line
MIDDLE = 0.28  # half a drum's middle, in drum widths: where its digit is uneven
# A line counts where it crosses the digits within this many drum widths of a drum's centre
# (nearer its edge it crosses the bar or gap between two drums): wider refuses more reads with a
# line beside a digit, and more counters whose own bars drift off the drums' grid.
CORE = 0.42
# ... and within this many of the centre on the first drum's left and the last drum's right
# side: the window's frame and the decimal drums' red frame are like no drum.
END = 0.05
ALIGN = 0.2  # drum widths the drums are shifted by to match each other
NEIGHBOURS = 2  # drums on either side each drum is compared with
BAND_LEVEL = 0.4  # rows where the drums' median unevenness reaches this share of its peak: digits
MARGIN_GAP = 0.12  # the bands above and below the digits start this many digit heights off them
MARGIN_REACH = 0.6  # ... and reach this far
# A pixel differs from the same place on the drums beside it by this much (grey levels, the most
# different colour channel): foreign ink. Lower finds faint lines, and takes shading and dirt
# for ink more often.
FOREIGN = 40.0
# A line of foreign ink runs on this many digit heights above and below the digits (beyond
# MARGIN_GAP: further than a rolling drum's digit reaches) ...
LINE_REACH = 0.25
LINE_ROWS = 0.8  # ... through at least this share of those rows
# ... inking at most this many digit heights per row there: thin.
THIN = 0.5
# ... and runs on through the digits' rows (JOINED of them), within WAVER digit heights of the
# straight line between where it enters and leaves them (a pen's line wavers)
JOINED = 0.5
WAVER = 0.2
# Where it enters and leaves the digits lie at most this many digit heights apart: steep.
SLANT = 1.2


def occluded_digit(image: np.ndarray, best: Described) -> int | None:
    """1-based position of an integer digit of the read with a line across its drum, or None
    (also for display reads, which are weighed by their segments)."""
    c = best.candidate
    if c.probs is None or c.row.lcd:
        return None
    lost = lost_digits(best)
    if lost:
        return lost[0] + 1
    crossed = crossings(image, best)
    return crossed[0] + 1 if crossed else None


def lost_digits(best: Described) -> list[int]:
    """Integer digits (0-based) of the read on a drum whose digit the row finder lost between
    drums it found (`Row.lost`: a pen stroke over it, glare, a torn digit; the model may read
    what covers it as a digit), or that the read's run was bridged over (`Candidate.lost`):
    within half a drum pitch of the drum."""
    c = best.candidate
    positions = c.cells.positions
    lost = c.row.lost + c.lost
    if not lost or len(positions) < 2:
        return []
    half = abs(float(np.median(np.diff(positions)))) / 2
    first, _ = read_cells(best)
    return [
        k
        for k in range(len(best.integer))
        if 0 <= first + k < len(positions)
        and any(abs(positions[first + k] - x) < half for x in lost)
    ]


def crossings(image: np.ndarray, best: Described) -> list[int]:
    """Integer digits (0-based) of the read with a line of foreign ink across their drum: ink
    the drums beside it do not show (`_unlike_the_others`), in thin runs through the LINE_REACH
    rows just above and just below the digits, the one above and the one below at most SLANT
    apart, their middle within CORE of a drum's centre (where its digit is, not on the bar
    beside it; within END of it on the first and the last drum's outer side), joined through
    the digits. The rows above and below are looked at first: most reads end there."""
    cut = _cut(image, best)
    if cut is None:
        return []
    wide, steps, above, below, pitch = cut
    level = _levels(wide, steps, np.concatenate([above, below]))
    reach = round(LINE_REACH * UNIT)
    tops, bottoms = above[-reach:], below[:reach]
    ink = _unlike_the_others(wide[:, np.concatenate([tops, bottoms])], steps, level) > FOREIGN
    pairs = _pairs(_runs(ink[: len(tops)]), _runs(ink[len(tops) :]), pitch, len(best.integer))
    if not pairs:
        return []
    through = np.arange(tops[-1], bottoms[0] + 1)
    ink = _unlike_the_others(wide[:, through], steps, level) > FOREIGN
    near = cv2.dilate(ink.astype(np.uint8), np.ones((3, 2 * round(WAVER * UNIT) + 1), np.uint8))
    return sorted({drum for drum, top, bottom in pairs if _joined(near, top, bottom)})


def _pairs(
    tops: list[float], bottoms: list[float], pitch: float, count: int
) -> list[tuple[int, float, float]]:
    """(drum, x above, x below) of the runs above and below the digits that may be one line
    across a drum (of `count` side by side at `pitch`): steep, and through the drum's middle."""
    inner = (pitch * (0.5 - END), pitch * (count - 0.5 + END))
    out = []
    for top in tops:
        for bottom in bottoms:
            x = (top + bottom) / 2
            drum, off = divmod(x, pitch)
            across = abs(off / pitch - 0.5) <= CORE and inner[0] <= x <= inner[1]
            if across and abs(top - bottom) <= SLANT * UNIT:
                out.append((int(drum), top, bottom))
    return out


def _joined(near: np.ndarray, top: float, bottom: float) -> bool:
    """Does ink (`near`: within WAVER of it, the rows from above the digits to below them) run
    from x `top` in the first row to x `bottom` in the last, JOINED of the way at least?"""
    rows = np.arange(len(near))
    xs = np.rint(np.interp(rows, [0, len(near) - 1], [top, bottom])).astype(int)
    return bool(near[rows, np.clip(xs, 0, near.shape[1] - 1)].mean() >= JOINED)


def _runs(ink: np.ndarray) -> list[float]:
    """x of the thin runs of ink that cross the rows `ink` (LINE_ROWS of them at least), at most
    THIN digit heights wide per row."""
    n, labels, stats, centroids = cv2.connectedComponentsWithStats(
        ink.astype(np.uint8), connectivity=8
    )
    height = ink.shape[0]
    out = []
    for label in range(1, n):
        if stats[label, cv2.CC_STAT_HEIGHT] < LINE_ROWS * height:
            continue
        per_row = (labels == label).sum(axis=1)
        if np.median(per_row) <= THIN * UNIT:
            out.append(float(centroids[label][0]))
    return out


def _cut(
    image: np.ndarray, best: Described
) -> tuple[np.ndarray, int, np.ndarray, np.ndarray, float] | None:
    """The read's integer drums cut from a tall strip, each a drum pitch wide and `steps` pixels
    more on either side (to shift the drums beside a drum by), with the rows above and below
    the digits and the pitch in strip pixels; None where the read has fewer than three integer
    drums."""
    c = best.candidate
    first, _ = read_cells(best)
    count = len(best.integer)
    positions = c.cells.positions
    if count < 3 or len(positions) < 2:
        return None
    pitch = float(np.median(np.diff(positions)))
    if pitch <= 0:
        return None
    k = UNIT / c.row.height
    half = max(2, int(pitch * k / 2))
    steps = max(1, round(ALIGN * 2 * half))
    start = positions[first] - pitch / 2 - (steps + 1) / k
    end = positions[first + count - 1] + pitch / 2 + (steps + 1) / k
    tall = _tall_strip(image, c.row, (start, end), k)
    centres = [round((positions[i] - start) * k) for i in range(first, first + count)]
    reach = half + steps
    if centres[0] - reach < 0 or centres[-1] + reach > tall.shape[1]:
        return None
    wide = np.stack([tall[:, x - reach : x + reach] for x in centres]).astype(np.float32)
    rows = _margins(wide[:, :, steps:-steps])
    if rows is None:
        return None
    above, below = rows
    return wide, steps, above, below, float(2 * half)


def read_cells(best: Described) -> tuple[int, int]:
    """Indices (first, one past the last) of the read's digits among its candidate's cells."""
    c = best.candidate
    decimals = c.decimals
    end = c.run.start + (len(c.run.cells) - decimals if decimals else len(best.integer))
    return end - len(best.integer), end + len(best.fraction)


def _levels(wide: np.ndarray, steps: int, zone: np.ndarray) -> np.ndarray:
    """Each drum's brightness (per colour channel) over the rows `zone`."""
    count, _, cut, channels = wide.shape
    own = wide[:, zone, steps : cut - steps]
    return np.median(own.reshape(count, -1, channels), axis=1)


def _unlike_the_others(wide: np.ndarray, steps: int, level: np.ndarray) -> np.ndarray:
    """Per pixel of the drums side by side (of `wide`: each drum cut `steps` pixels wider on
    either side), how much it differs from the same place on the drums beside it, up to
    NEIGHBOURS away on either side (each drum's brightness `level` taken out; the most
    different colour channel; the least over shifts of up to `steps` pixels), the second least
    over those drums (the least for a drum with only two): a counter's own marks (bars between
    the drums, rims, print) recur on the next drums, drifting a little along a counter seen at
    a slant; a stroke across the glass does not (a second stroke may cross another drum
    alike)."""
    count, _, cut, _ = wide.shape
    width = cut - 2 * steps
    flat = wide - level[:, None, None, :]
    own = flat[:, :, steps : steps + width]
    shifted = np.stack([flat[:, :, s : s + width] for s in range(2 * steps + 1)])
    against = []  # per neighbour offset: each drum's difference from that neighbour
    for gap in [g for n in range(1, NEIGHBOURS + 1) for g in (-n, n)]:
        if abs(gap) >= count:
            continue
        differ = np.full(own.shape[:3], np.inf, np.float32)
        mine = slice(max(0, -gap), count - max(0, gap))  # drums i with a drum i + gap
        theirs = slice(max(0, gap), count - max(0, -gap))
        differ[mine] = np.abs(own[None, mine] - shifted[:, theirs]).max(axis=4).min(axis=0)
        against.append(differ)
    ranked = np.sort(np.stack(against), axis=0)  # a missing neighbour's difference is inf
    neighbours = np.isfinite(ranked[:, :, 0, 0]).sum(axis=0)
    second = np.where(neighbours >= 3, 1, 0)  # the first and last drums: the nearer like them
    chosen = np.take_along_axis(ranked, second[None, :, None, None], axis=0)[0]
    return np.concatenate(list(chosen), axis=1)  # (rows, drums x columns)


def _margins(drums: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """The rows above and below the digits: the digits are the middle rows where the drums are
    uneven across their middle (the median over drums of the most uneven channel's standard
    deviation), the face, rims and frame above and below them are even."""
    half = max(1, round(MIDDLE * drums.shape[2]))
    middle = drums.shape[2] // 2
    typical = np.median(drums[:, :, middle - half : middle + half].std(axis=2).max(axis=2), axis=0)
    centre = len(typical) // 2
    peak = typical[centre - round(UNIT / 2) : centre + round(UNIT / 2)].max()
    if peak <= 0:
        return None
    inside = typical >= BAND_LEVEL * peak
    top = centre
    while top > 0 and inside[top - 1]:
        top -= 1
    bottom = centre
    while bottom < len(typical) - 1 and inside[bottom + 1]:
        bottom += 1
    gap, reach = round(MARGIN_GAP * UNIT), round(MARGIN_REACH * UNIT)
    above = np.arange(max(0, top - reach), max(0, top - gap))
    below = np.arange(min(len(typical), bottom + gap + 1), min(len(typical), bottom + reach + 1))
    if len(above) < 3 or len(below) < 3:
        return None
    return above, below


def _tall_strip(image: np.ndarray, row: Row, span: tuple[float, float], k: float) -> np.ndarray:
    """The row's part `span` (positions along it) warped level at `k` strip pixels per image
    pixel, TALL digit heights above and below its line (colour; not turned upside down: the
    check is the same both ways)."""
    reach = TALL * row.height
    return level_strip(image, row, span, k, reach=reach, height=max(1, round(2 * reach * k)))
