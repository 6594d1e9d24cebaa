"""Choosing among candidate reads (the fitted ranker) and how much to trust the choice."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from core.types import DigitRead
from ocr import counts, ranking, trust
from ocr.candidates import described, geometric, zero_led
from ocr.choice import display_disagrees, meter_read
from ocr.counter import Cells
from ocr.digits_logic import Run
from ocr.locate import Blob, Row
from ocr.reads import Candidate, Described

SHAPE = (1000, 800, 3)


def _row(y: float, height: float, *, lcd: bool = False, light: bool = False) -> Row:
    blobs = tuple(Blob(300 + 30 * i, y, height, height / 2, 0.0, int(light)) for i in range(4))
    return Row(blobs, (345.0, y), (1.0, 0.0), height, 30.0, 0.0, lcd=lcd)


def _candidate(
    text: str, row: Row, *, decimals: int = 0, point: int = 0, sure: float = 0.97
) -> Candidate:
    digits = [DigitRead(int(ch), sure) for ch in text]
    probs = np.array([np.eye(11)[int(ch)] * sure for ch in text])
    n = len(text)
    red = [0.0] * (n - decimals) + [1.0] * decimals
    cells = Cells([], red, [True] * n, False, np.zeros((1, 1), np.uint8), [], 8, [])
    return Candidate(row, Run(list(probs), decimals, sure, 0), cells, digits, point, [], probs)


def _choose(candidates: list[Candidate], integer_digits: int | None) -> tuple[Candidate, float]:
    tallest = max(c.row.height for c in candidates)
    reads = [described(c, integer_digits, tallest) for c in candidates]
    model = ranking.load()[ranking.mode(integer_digits)]
    probs = ranking.probabilities(ranking.features(reads, SHAPE), model)
    chosen = int(np.argmax(probs))
    return candidates[chosen], ranking.reading_probability([d.text for d in reads], probs, chosen)


def test_the_fitted_ranker_matches_the_features_computed() -> None:
    models = ranking.load()
    assert set(models) == {"counted", "uncounted"}
    for model in models.values():
        assert model.weights.shape == (len(ranking.FEATURES),)
    knot = models["counted"].knot
    assert knot is not None and 0.5 < knot < 1.0
    assert ranking.load_promise().weights.shape == (len(ranking.FEATURES),)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.pop("promise"), "lacks the promise model"),
        (lambda d: d["models"].pop("uncounted"), "lacks the promise model or a mode"),
        (lambda d: d["models"]["counted"]["weights"].pop(), "weights for"),
        (lambda d: d["features"].reverse(), "other features"),
    ],
)
def test_a_ranker_file_that_does_not_fit_the_code_is_refused(tmp_path, change, message) -> None:
    data = json.loads(ranking.RANKER_PATH.read_text())
    change(data)
    path = tmp_path / "ranker.json"
    path.write_text(json.dumps(data))
    with pytest.raises(ValueError, match=message):
        ranking.load(path)
        ranking.load_promise(path)


def test_a_counter_with_red_drums_is_not_displaced_by_dial_print() -> None:
    counter = _candidate("00499494", _row(500, 40), decimals=3)
    print_with_dot = _candidate("9151", _row(800, 60, lcd=True), point=1)
    chosen, _ = _choose([print_with_dot, counter], integer_digits=5)
    assert chosen is counter


def test_a_reading_of_one_digit_is_less_likely_than_the_same_read_of_more() -> None:
    """The litre factor `x0,0001` beside the counter reads as 00001: a reading under 10 is rare
    on a meter in use, so the ranker trusts it less than an equally sure read of more digits."""
    label = _candidate("00001", _row(500, 40))
    counter = _candidate("00702", _row(500, 40))
    x = ranking.features([described(c, 5, 40.0) for c in (label, counter)], SHAPE)
    assert x[:, ranking.FEATURES.index("one_digit")].tolist() == [1.0, 0.0]
    chosen, _ = _choose([label, counter], integer_digits=5)
    assert chosen is counter


def _sure_without(feature: str, candidate: Candidate, monkeypatch: pytest.MonkeyPatch) -> float:
    """The candidate's probability with the counted ranker blind to `feature`."""
    counted = ranking.load()["counted"]
    weights = counted.weights.copy()
    weights[ranking.FEATURES.index(feature)] = 0.0
    with monkeypatch.context() as patch:
        patch.setitem(ranking.load(), "counted", ranking.Model(weights, counted.bias, None))
        return _choose([candidate], integer_digits=5)[1]


def test_a_lone_red_drum_makes_a_read_less_sure(monkeypatch: pytest.MonkeyPatch) -> None:
    """Water meters show three or four red drums: a read split at a single red one is mostly a
    red mark or a misplaced split, and the fitted ranker trusts it less for that."""
    lone = _candidate("004366", _row(500, 40), decimals=1)
    three = _candidate("00436897", _row(500, 40), decimals=3)
    x = ranking.features([described(c, 5, 40.0) for c in (lone, three)], SHAPE)
    assert x[:, ranking.FEATURES.index("lone_red")].tolist() == [1.0, 0.0]
    _, sure = _choose([lone], integer_digits=5)
    assert sure < _sure_without("lone_red", lone, monkeypatch) - 0.02


def test_a_single_red_drum_is_no_lone_red_where_the_meter_has_one_decimal() -> None:
    """A Ferraris meter's red tenth drum, where master data gives one decimal: the read is not
    trusted less for it (it is where master data gives three, or nothing)."""
    lone = _candidate("004366", _row(500, 40), decimals=1)
    reads = [described(lone, 5, 40.0)]
    model = ranking.load()["counted"]
    column = ranking.FEATURES.index("lone_red")
    sure = {}
    for decimals in (None, 3, 1):
        x = ranking.features(reads, SHAPE, decimal_digits=decimals)
        assert x[0, column] == float(decimals != 1)
        sure[decimals] = ranking.probabilities(x, model)[0]
    assert sure[1] > sure[None] + 0.02 and sure[None] == sure[3]


def test_more_black_drums_than_the_meter_has_make_a_read_less_sure(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A run of eleven black drums before the red ones, read with the digit count 5, is a longer
    number (a serial, a frame read as a digit), not the counter: its last five are trusted less."""
    longer = _candidate("10150548549042", _row(500, 40), decimals=3)
    counter = _candidate("00063756", _row(500, 40), decimals=3)
    reads = [described(c, 5, 40.0) for c in (longer, counter)]
    assert [d.text for d in reads] == ["48549", "00063"]
    x = ranking.features(reads, SHAPE)
    assert x[:, ranking.FEATURES.index("extra_black")].tolist() == [1.0, 0.0]
    _, sure = _choose([longer], integer_digits=5)
    assert sure < _sure_without("extra_black", longer, monkeypatch)


def _with_doubt(candidate: Candidate, position: int, second: int) -> Candidate:
    """The candidate with the digit at `position` read at 0.6, `second` the runner-up at 0.35."""
    digits = list(candidate.digits)
    value = digits[position].value
    assert value is not None
    digits[position] = DigitRead(value, 0.6, ((value, 0.6), (second, 0.35)))
    return replace(candidate, digits=digits)


def test_a_digit_the_model_half_reads_as_1_makes_a_read_less_sure() -> None:
    """A thin "1" on a worn drum is the digit model's commonest confident mistake (read as 7):
    of two reads alike but for the runner-up of one digit, the one where it is "1" is trusted
    less."""
    read = _candidate("00736", _row(500, 40))
    one, four = _with_doubt(read, 2, 1), _with_doubt(read, 2, 4)
    x = ranking.features([described(c, 5, 40.0) for c in (one, four)], SHAPE)
    columns = [ranking.FEATURES.index(f) for f in ("one_doubt", "one_doubt_significant")]
    assert x[:, columns].tolist() == [[0.35, 0.35], [0.0, 0.0]]
    assert x[:, ranking.FEATURES.index("runner_up")].tolist() == [0.35, 0.35]
    assert _choose([one], integer_digits=5)[1] < _choose([four], integer_digits=5)[1] - 0.02


def test_two_models_are_combined_as_a_product_of_experts() -> None:
    first = np.array([[0.5, 0.5] + [0.0] * 9, [0.9, 0.1] + [0.0] * 9])
    second = np.array([[0.98, 0.02] + [0.0] * 9, [0.9, 0.1] + [0.0] * 9])
    combined = geometric(first, second)
    assert combined.sum(axis=1) == pytest.approx([1.0, 1.0])
    assert combined[0, 0] > (0.5 + 0.98) / 2  # the doubt one model rules out stays small
    assert combined[1, :2] == pytest.approx([0.9, 0.1], abs=1e-6)  # agreement is kept


def test_every_model_has_an_equal_say() -> None:
    sure_zero = np.array([[0.9, 0.1] + [0.0] * 9])
    sure_one = np.array([[0.1, 0.9] + [0.0] * 9])
    two_to_one = geometric(sure_zero, sure_one, sure_zero)
    third = 1 / 3  # (0.9 * 0.1 * 0.9) ** third against (0.1 * 0.9 * 0.1) ** third
    assert two_to_one[0, 0] == pytest.approx(0.9**third / (0.9**third + 0.1**third))
    assert geometric(sure_zero, sure_one, sure_one)[0, 1] == pytest.approx(two_to_one[0, 0])


def test_cuts_that_agree_make_a_reading_likelier() -> None:
    counter = _candidate("00499494", _row(500, 40), decimals=3)
    other = _candidate("00499494", _row(500, 40), decimals=3, sure=0.9)
    rival = _candidate("81234", _row(200, 40), sure=0.9)
    _, alone = _choose([counter, rival], integer_digits=5)
    chosen, together = _choose([counter, other, rival], integer_digits=5)
    assert chosen in (counter, other)
    assert together > alone


def test_probabilities_leave_room_for_none_of_them_being_right() -> None:
    model = ranking.Model(np.zeros(len(ranking.FEATURES)), 0.0, None)
    probs = ranking.probabilities(np.zeros((3, len(ranking.FEATURES))), model)
    assert probs == pytest.approx([0.25, 0.25, 0.25])


def test_a_single_poor_candidate_is_not_sure() -> None:
    blurred = _candidate("01234", _row(500, 30), sure=0.3)
    _, probability = _choose([blurred], integer_digits=5)
    assert probability < ranking.load()["counted"].knot  # type: ignore[operator]


def test_calibration_puts_the_knot_at_the_accept_threshold() -> None:
    assert trust.calibrated(0.8, 0.8) == pytest.approx(0.9)
    assert trust.calibrated(0.4, 0.8) == pytest.approx(0.45)
    assert trust.calibrated(1.0, 0.8) == pytest.approx(1.0)
    assert trust.calibrated(1.0, None) < 0.9  # no precision point: never accepted


def test_a_sure_display_read_wins_when_the_digit_count_is_unknown() -> None:
    counter_like = _candidate("0017508", _row(500, 40), decimals=3, sure=0.8)  # a reflection
    display = _candidate("1750", _row(500, 60, lcd=True), point=1)
    chosen, _ = _choose([counter_like, display], integer_digits=None)
    assert chosen is display


def test_a_doubtful_leading_drum_is_also_offered_as_zero() -> None:
    from dataclasses import replace

    counter = _candidate("00499494", _row(500, 40), decimals=3)
    read = described(counter, 5, 40.0)
    nine = DigitRead(9, 0.6, ((9, 0.6), (0, 0.35), (8, 0.05)))
    doubtful = replace(read, integer=[nine, *read.integer[1:]])
    offered = zero_led(doubtful)
    assert offered is not None and offered.text == "00499"
    assert offered.integer[0].confidence == pytest.approx(0.35)
    sure = replace(read, integer=[DigitRead(9, 0.99, ((9, 0.99), (8, 0.01))), *read.integer[1:]])
    assert zero_led(sure) is None  # the model never saw a 0 there
    assert zero_led(read) is None  # already 0 where it may be


@pytest.mark.parametrize(
    ("red_drums", "light", "disagrees"),
    [(True, True, False), (True, False, True), (False, True, True)],
)
def test_light_segments_do_not_stand_against_red_drums(red_drums, light, disagrees) -> None:
    """White digits on black drums read as light segments too (`1.77` of an upside-down
    `0471123`); a display has no red drums, so such a read neither withholds nor replaces a
    counted read with red decimal drums. Dark segments and counters without red drums do."""
    counter = _candidate("0471123", _row(500, 40), decimals=2)
    red = [0.0] * 5 + [40.0 * red_drums] * 2  # the cells' redness as `Cells.red` measures it
    counter = replace(counter, cells=replace(counter.cells, red=red))
    segments = _candidate("177", _row(500, 40, lcd=True, light=light), point=1)
    reads = [described(c, 5, 40.0) for c in (counter, segments)]
    assert reads[0].red_anywhere is red_drums
    assert display_disagrees(reads[0], reads) is disagrees


def test_cuts_agreeing_on_the_decimals_too_count_apart() -> None:
    """Reads of the same integer digits agree more where their red drums read the same too: a
    grid half a drum off reads other decimals."""
    first = _candidate("00499494", _row(500, 40), decimals=3)
    same = _candidate("00499494", _row(500, 40), decimals=3, sure=0.9)
    off = _candidate("00499071", _row(500, 40), decimals=3, sure=0.9)
    x = ranking.features([described(c, 5, 40.0) for c in (first, same, off)], SHAPE)
    assert x[:, ranking.FEATURES.index("agreeing")].tolist() == [0.4, 0.4, 0.4]
    assert x[:, ranking.FEATURES.index("agreeing_whole")].tolist() == [0.2, 0.2, 0.0]


def test_other_places_reading_the_same_are_a_feature() -> None:
    """The counter found as two rows reads the same at both places; a print at one place only."""
    reads = [
        _candidate("00499494", _row(500, 40), decimals=3),
        _candidate("00499494", _row(505, 40), decimals=3),  # the same place cut again
        _candidate("00499", _row(200, 40)),
        _candidate("81234", _row(800, 40)),
    ]
    x = ranking.features([described(c, 5, 40.0) for c in reads], SHAPE)
    assert x[:, ranking.FEATURES.index("other_places")].tolist() == [1 / 3, 1 / 3, 1 / 3, 0.0]


def test_the_certainty_and_place_features_are_each_reads_own() -> None:
    """Confidences and the row's place are computed once per read and once per row (the ranker
    describes a read several ways); each read's features still hold its own values."""
    row = Row(
        tuple(Blob(100 + 40 * i, 300 + 5 * i, 30, 15, 0.0, 0) for i in range(5)),
        (180.0, 310.0),
        (1.0, 0.0),
        30.0,
        40.0,
        0.0,
    )
    sure, doubtful = _candidate("12345", row), _candidate("12345", row, sure=0.5)
    doubtful.digits[2] = DigitRead(3, 1e-9)
    x = ranking.features([described(c, 5, 30.0) for c in (sure, doubtful, sure)], SHAPE)
    column = {name: x[:, ranking.FEATURES.index(name)].tolist() for name in ranking.FEATURES}
    assert column["weakest"] == [0.97, 1e-9, 0.97]
    assert column["mean_confidence"] == pytest.approx([0.97, (4 * 0.5 + 1e-9) / 5, 0.97])
    logs = (4 * np.log(0.5) + np.log(1e-6)) / 10
    assert column["log_likelihood"] == pytest.approx(
        [5 * np.log(0.97) / 10, logs, 5 * np.log(0.97) / 10]
    )
    assert row.centre == (180.0, 310.0)
    off_centre = abs(180 / SHAPE[1] - 0.5) + abs(310 / SHAPE[0] - 0.5)
    assert column["off_centre"] == pytest.approx([off_centre] * 3)


def _sure_of(reads: list[Candidate], feature: str | None, monkeypatch: pytest.MonkeyPatch) -> float:
    """The chosen reading's probability, with the counted ranker blind to `feature` (None: not)."""
    counted = ranking.load()["counted"]
    weights = counted.weights.copy()
    if feature is not None:
        weights[ranking.FEATURES.index(feature)] = 0.0
    with monkeypatch.context() as patch:
        patch.setitem(ranking.load(), "counted", ranking.Model(weights, counted.bias, None))
        return _choose(reads, integer_digits=5)[1]


@pytest.mark.parametrize(
    ("feature", "second"),
    [
        ("agreeing_whole", _candidate("00499494", _row(505, 40), decimals=3, sure=0.6)),
        ("other_places", _candidate("00499", _row(200, 40), sure=0.6)),
    ],
)
def test_agreement_the_photo_gives_makes_a_read_surer(
    feature: str, second: Candidate, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fitted ranker trusts a read more where another cut agrees on its decimals too, or
    another place of the photo reads the same."""
    counter = _candidate("00499494", _row(500, 40), decimals=3, sure=0.6)
    reads = [counter, second]
    assert _sure_of(reads, None, monkeypatch) > _sure_of(reads, feature, monkeypatch) + 0.005


def _torn_read(alternatives: tuple[tuple[int, float], ...], *, at: int = 3) -> Described:
    row = _row(500, 40)
    c = _candidate("004625", row, decimals=0)
    digits = list(c.digits)
    value, confidence = alternatives[0]
    digits[at] = DigitRead(value, confidence, alternatives)
    c = replace(c, digits=digits)
    return replace(described(c, 6, row.height), integer=digits)


@pytest.mark.parametrize(
    ("alternatives", "at", "torn"),
    [
        (((7, 0.47), (8, 0.42), (2, 0.05)), 3, True),  # a stroke across a drum: 7 or 8
        (((7, 0.47), (1, 0.42), (4, 0.05)), 3, False),  # a thin 1: the ranker weighs it itself
        (((0, 0.42), (9, 0.30), (4, 0.05)), 0, False),  # a leading zero: left to the ranker
        (((7, 0.62), (8, 0.35), (2, 0.02)), 3, False),  # likelier right than wrong
    ],
)
def test_a_drum_read_is_no_surer_than_a_digit_the_model_is_torn_on(
    alternatives: tuple[tuple[int, float], ...], at: int, torn: bool
) -> None:
    read = meter_read(_torn_read(alternatives, at=at), 0.96, (), "drum", 0.9)
    assert read.accepted is not torn
    assert (read.confidence == alternatives[0][1]) is torn
    if torn:
        assert read.reason == f"low_confidence_digit_{at + 1}"


def test_a_digit_count_hypothesis_is_no_surer_than_a_digit_the_model_is_torn_on() -> None:
    """`read --json` lists a read per digit count: a torn digit keeps each from being accepted
    as it keeps the chosen read."""
    torn = _torn_read(((7, 0.47), (8, 0.42), (2, 0.05)))
    counted = counts.Counted([counts.CountRead(6, torn, 0.999, 0.0, 1.0)], 0.999, None)  # type: ignore[arg-type]
    (hypothesis,) = counts.hypotheses(counted, knot=0.8, min_confidence=0.9)
    assert (hypothesis.accepted, hypothesis.confidence) == (False, 0.47)
