"""The search's tuning constants, in one place, each with what it trades off.

`bench/ocr.py` measures any change to them, `bench/early_exit.py` the early exit thresholds,
`bench/fit_ranker.py` refits the ranker after one.
"""

from __future__ import annotations

# Rows classified per photo: more rows find a counter hidden among many printed rows, and cost
# the digit model's work on each.
MAX_ROWS = 10
# ... of which this many are not the longest rows but the likeliest drum counters among the rest
# (`locate.drum_likeness`): more find counters cut short among lines of print, fewer keep the
# longer rows (displays, counters found whole).
DRUM_ROWS = 3

# With a digit count, rows the promise model gives at least this probability of being the counter
# are refined: lower refines more hopeless rows, higher risks skipping the counter.
REFINE_MIN = 0.02
# ... and at most this many: the bound on the refinement's cost per photo.
REFINE_LIKELY_ROWS = 8
# Without a digit count (displays, unknown meters) the hand-made order's first this many rows are
# refined: the same trade of cost against missing the counter, without a fitted model.
REFINE_ROWS = 5

# After how many refined rows the search may stop (the last stage refines every row worth it):
# earlier stops save time on clear photos, each stage checks a sure read before going on. With
# none refined only a 7-segment read can be sure, so that stage is tried only where a display was
# read.
STAGES = (0, 1, MAX_ROWS)
# The ranker's probability (before the knot's mapping) at which a read ends the search early:
# lower stops sooner and risks a read the whole search would have changed (bench/early_exit.py
# counts those).
EARLY_EXIT = {"counted": 0.9, "uncounted": 0.8}

# A way up whose best run of digits is weaker than this share of the other way's is not cut on
# its grids: lower cuts both ways more often (slower), higher may drop the right way on a dim row.
WAY_KEEP = 0.7
# Grids cut per way up (the best, then runners-up with another pitch or cells half a drum off):
# more grids recover mis-pitched rows and cost a batch of cells each.
GRIDS = 2

# The weakest segment-read digit of a display read without a decimal point: lower admits more
# stray 7-segment matches of printed digits, higher drops displays whose point was not seen.
LCD_SURE_WITHOUT_POINT = 0.95
# Fewest segment-read digits of a display read with a point: fewer are more often a stray match
# (or part of a display) than a display.
LCD_MIN_DIGITS = 3
# ... and without a point: two sure digits are a display's integer part with its decimals lost
# to glare; one is too often a stray match.
LCD_MIN_DIGITS_WITHOUT_POINT = 2

# Cell heights per digit height: a blob is a digit (cell 1.35x taller, room for a rolling drum)
# or a whole drum window (1.0); both are cut and averaged, at twice the model's work.
HEIGHT_FACTORS = (1.35, 1.0)
# Black drums before red ones that settle which way up a row is: fewer skip the upside-down cut
# more often (faster) and risk reading an upside-down row as upright.
UPRIGHT_DIGITS = 4
# Digit heights searched beyond a row's blobs for drums the blobs missed: wider finds dark first
# drums, and slides the model over more background.
SPAN_MARGIN = 3.5
# The likeliest drum reads that the second digit models read again: more reads of a photo get the
# combined models' surer probabilities, at the cost of their cells.
SECOND_OPINIONS = 20
# Added to a row's hand-made promise when red drums show anywhere along it: red drums mark a
# water counter even where the blob grid cut its black drums badly.
RED_PROMISE = 1.0
# With a digit count, leading drums that may also be read as 0 (they mostly show 0, and a dark
# first drum is the model's commonest doubt): more drums add more alternatives for the ranker.
ZERO_LED_DRUMS = 2
# ... when the model gave 0 at least this much: lower adds alternatives the ranker must reject.
ZERO_ALTERNATIVE = 0.05
