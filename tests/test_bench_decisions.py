"""The decision benchmark (bench/decisions.py): its simulated utility and its summary."""

from __future__ import annotations

import csv
import datetime as dt
import email
import io
import itertools
import json
import random
from decimal import Decimal
from email.message import EmailMessage
from pathlib import Path

import pytest
from PIL import Image

from bench import decisions as bench
from bench import decisions_sim as sim
from bench.decisions_report import MailOutcome, summarize

TODAY = dt.date(2026, 12, 6)
WATER = sim.Profile("water", "drum", 5, 3)
PROFILES = [
    WATER,
    sim.Profile("water", "lcd", 2, 0),
    sim.Profile("electricity", "drum", 5, 1),
    sim.Profile("electricity", "lcd", 6, 1),
    sim.Profile("gas", "drum", 5, 3),
    sim.Profile("heat", "lcd", 6, 0),
]


def photo(reading: str, fraction: str = "", group: str = "water") -> sim.LabelledPhoto:
    return sim.LabelledPhoto(f"{group}.jpg", group, reading, fraction)


def histories(profile: sim.Profile, currents: list[str]):
    rng = random.Random(7)
    for current in currents:
        value = Decimal(current).quantize(profile.step)
        yield value, sim.simulate_history(rng, profile, value, TODAY, with_history=True)


@pytest.mark.parametrize("profile", PROFILES, ids=lambda p: f"{p.kind}-{p.display}")
def test_history_rises_to_the_label_within_the_counter(profile: sim.Profile) -> None:
    capacity = 10**profile.integer_digits
    for current, (history, _installed) in histories(profile, ["17", "73", "657.222", "10322.2"]):
        if current >= capacity:
            continue
        dates = [date for date, _ in history]
        values = [value for _, value in history]
        assert history, "every counter above zero has a reading or an installation"
        assert dates == sorted(set(dates)) and dates[-1] < TODAY
        assert values == sorted(values) and values[-1] <= current
        assert all(0 <= v < capacity for v in values), "no rollover inside the history"
        assert all(v.as_tuple().exponent == -profile.decimal_digits for v in values)


def test_flat_consumption_stays_in_the_household_range() -> None:
    rng = random.Random(3)
    low, high = sim.ANNUAL_CONSUMPTION["water"]
    for _ in range(200):
        current = Decimal("900.000")
        history, _ = sim.simulate_history(rng, WATER, current, TODAY, with_history=True)
        points = [*history, (TODAY, current)]
        for (start, before), (end, after) in itertools.pairwise(points):
            per_year = float(after - before) * 365 / (end - start).days
            assert low * 0.84 <= per_year <= high * 1.16


def test_a_counter_too_low_for_one_period_is_a_new_meter() -> None:
    history, installed = sim.simulate_history(
        random.Random(1), WATER, Decimal("0.500"), TODAY, with_history=True
    )
    assert installed is not None and installed < TODAY
    assert history == ((installed, Decimal("0.000")),)


def test_meters_without_history_and_a_zero_counter_get_no_reading() -> None:
    rng = random.Random(1)
    assert sim.simulate_history(rng, WATER, Decimal("5"), TODAY, with_history=False) == ((), None)
    assert sim.simulate_history(rng, WATER, Decimal("0"), TODAY, with_history=True) == ((), None)


def test_gas_is_used_in_winter() -> None:
    january = sim.period_consumption("gas", 1200, dt.date(2026, 1, 1), dt.date(2026, 2, 1))
    july = sim.period_consumption("gas", 1200, dt.date(2026, 7, 1), dt.date(2026, 8, 1))
    year = sim.period_consumption("gas", 1200, dt.date(2025, 1, 1), dt.date(2026, 1, 1))
    assert january > 5 * july
    assert year == pytest.approx(1200)


def test_the_photographed_meter_has_the_photos_digits() -> None:
    assert sim.photo_profile(photo("28", "979"), "water") == WATER
    assert sim.photo_profile(photo("11970", "0215"), "water") == sim.Profile("water", "drum", 5, 4)
    # the displays show decimals their labels do not carry
    assert sim.photo_profile(photo("120", group="lcd"), "electricity") == sim.Profile(
        "electricity", "lcd", 3, 2
    )
    assert sim.photo_profile(photo("7137", "", "emic"), "water") == sim.Profile(
        "electricity", "drum", 5, 1
    )


def customers(several: float, no_history: float = 0.0) -> list[sim.SimCustomer]:
    photos = [photo(str(10 + i), "250") for i in range(20)] + [
        photo(str(40 + i), group="lcd") for i in range(20)
    ]
    shares = sim.Shares(several, no_history, "water")
    return sim.build_customers(photos, seed=5, shares=shares, today=TODAY)


def test_further_meters_are_other_media() -> None:
    built = customers(several=1.0)
    assert built == customers(several=1.0), "deterministic for a seed"
    for customer in built:
        assert 2 <= len(customer.meters) <= 3
        first = customer.meters[0]
        assert first.current == customer.photo.value
        media = [sim.MEDIUM.get(m.profile.kind, m.profile.kind) for m in customer.meters]
        assert len(set(media)) == len(media), "gas and district heat never together"
        for extra in customer.meters[1:]:
            assert extra.profile != first.profile
            assert extra.current < 10**extra.profile.integer_digits
    assert len({m.number for c in built for m in c.meters}) == sum(len(c.meters) for c in built)


def test_shares_of_one_meter_and_no_history() -> None:
    assert all(len(c.meters) == 1 for c in customers(several=0.0))
    assert all(not c.meters[0].history for c in customers(several=0.0, no_history=1.0))


def test_import_files_carry_each_history_oldest_first(tmp_path: Path) -> None:
    built = customers(several=0.5)
    paths = sim.write_master_data(built, tmp_path)
    assert len(paths) == sim.history_rounds(built)
    seen: dict[str, list[tuple[str, str]]] = {}
    for path in paths:
        with path.open(encoding="utf-8") as handle:
            for row in csv.DictReader(handle, delimiter=";"):
                if row["letzter_stand"]:
                    seen.setdefault(row["zaehlernummer"], []).append(
                        (row["letzter_stand_datum"], row["letzter_stand"])
                    )
    for meter in (m for c in built for m in c.meters):
        expected = [
            (d.strftime("%d.%m.%Y"), sim.german_number(v, meter.profile.decimal_digits))
            for d, v in meter.history
        ]
        assert seen.get(meter.number, []) == expected


def test_a_customer_mail_carries_the_photo_from_the_customer() -> None:
    customer = customers(several=0.0)[0]
    message = sim.customer_mail(
        customer, b"\xff\xd8jpeg", rng=random.Random(2), now=dt.datetime(2026, 12, 6, 9, 0)
    )
    parsed: EmailMessage = email.message_from_bytes(bytes(message), _class=EmailMessage)
    assert customer.email in parsed["From"]
    attachments = list(parsed.iter_attachments())
    assert [a.get_content_type() for a in attachments] == ["image/jpeg"]
    assert attachments[0].get_payload(decode=True) == b"\xff\xd8jpeg"


@pytest.mark.parametrize(
    ("booked", "reading", "fraction", "right"),
    [
        ("28.979", "28", "979", True),
        ("28.979", "28", "97", True),  # the label leaves the last drum open
        ("31.020", "31", "029", True),  # 9 litres: the last drum between two digits
        ("31.310", "31", "315", True),  # the OCR saw two of the three red drums
        ("31.019", "31", "029", False),  # ten litres: the second red drum differs
        ("46.120", "46", "15", False),
        ("7137.0", "7137", "", True),
        ("92.000", "92", "000", True),
        ("1092.000", "92", "000", False),
    ],
)
def test_a_booking_is_right_within_a_step_of_the_second_to_last_drum(
    booked: str, reading: str, fraction: str, right: bool
) -> None:
    assert bench.label_matches(Decimal(booked), photo(reading, fraction), 3) is right


def test_the_only_red_drum_of_a_meter_may_be_one_step_off() -> None:
    assert bench.label_matches(Decimal("7137.4"), photo("7137", "4"), 1)
    assert bench.label_matches(Decimal("7137.5"), photo("7137", "4"), 1)  # between 4 and 5
    assert not bench.label_matches(Decimal("7137.6"), photo("7137", "4"), 1)


def test_a_booking_on_another_meter_of_the_customer_is_wrong() -> None:
    customer = customers(several=1.0)[0]
    value = customer.photo.value
    assert bench.classify(customer, "accepted", [(customer.meters[0].number, value)]) == "booked"
    assert bench.classify(customer, "accepted", [(customer.meters[1].number, value)]) == "wrong"
    next_litre = value + Decimal("0.001")
    assert bench.classify(customer, "accepted", [(customer.meters[0].number, next_litre)]) == (
        "booked"
    )
    tens = value + Decimal("0.02")
    assert bench.classify(customer, "accepted", [(customer.meters[0].number, tens)]) == "off"
    next_m3 = value + 1
    assert bench.classify(customer, "accepted", [(customer.meters[0].number, next_m3)]) == "wrong"
    assert bench.classify(customer, "review", []) == "clerk"
    assert bench.classify(customer, "rejected", []) == "rejected"
    assert bench.classify(customer, "new", []) == "failed"


def test_a_display_booking_is_right_below_a_label_that_rounded_its_decimals_up() -> None:
    customer = next(c for c in customers(several=0.0) if c.photo.group == "lcd")
    meter, label = customer.meters[0].number, int(customer.photo.reading)
    assert bench.booking_error(customer, meter, Decimal(label - 1) + Decimal("0.27")) is None
    assert bench.booking_error(customer, meter, Decimal(label)) is None
    # nothing shown after the point: the label cannot have rounded it up
    assert bench.booking_error(customer, meter, Decimal(label - 1)) == "wrong"
    assert bench.booking_error(customer, meter, Decimal(label + 1) + Decimal("0.5")) == "wrong"


def test_summary_rows_add_up() -> None:
    outcomes = [
        MailOutcome("a", "water", False, "booked", "accepted"),
        MailOutcome("b", "water", True, "wrong", "accepted"),
        MailOutcome("e", "water", True, "off", "accepted"),
        MailOutcome("c", "lcd", True, "clerk", "review", ["low_confidence"]),
        MailOutcome("d", "lcd", False, "failed", "failed"),
    ]
    seconds = {("water", False): 1.0, ("water", True): 2.0, ("lcd", True): 3.0, ("lcd", False): 2}
    rows = summarize(outcomes, seconds, {"water": "w", "lcd": "l"})
    total = rows[-1]
    assert (total.group, total.mails, total.seconds) == ("all", 5, 8.0)
    shares = total.shares()
    assert shares["booked"] == pytest.approx(3 / 5)
    assert shares["wrong_integer_of_booked"] == pytest.approx(1 / 3)
    assert shares["wrong_decimals_of_booked"] == pytest.approx(1 / 3)
    water = next(r for r in rows if (r.group, r.meters) == ("water", "all"))
    assert water.counts == {
        "booked": 1, "off": 1, "wrong": 1, "clerk": 0, "rejected": 0, "failed": 0
    }  # fmt: skip


def test_without_the_corpus_the_bench_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert bench.main(["--corpus", str(tmp_path)]) == 2
    assert "corpus not found" in capsys.readouterr().err


def test_the_whole_pipeline_on_a_few_photos(capsys: pytest.CaptureFixture[str]) -> None:
    labels = bench.corpus_dir(None) / "meter-photos" / "labels.csv"
    if not labels.is_file():
        pytest.skip(f"corpus not found: {labels}")
    argv = ["--group", "water", "lcd", "--limit", "2", "--several-share", "0.5", "--seed", "4"]
    assert bench.main([*argv, "--json", "--no-progress"]) == 0
    summary = json.loads(capsys.readouterr().out)
    rows = {(r["group"], r["meters"]): r for r in summary["rows"]}
    assert rows[("all", "all")]["mails"] == 4
    for row in rows.values():
        assert sum(row["counts"].values()) == row["mails"]
        assert row["seconds_per_mail"] > 0
    for group in ("water", "lcd"):
        parts = [rows[(group, m)]["mails"] for m in ("one", "several") if (group, m) in rows]
        assert sum(parts) == rows[(group, "all")]["mails"] == 2
    clerk_mails = rows[("all", "all")]["counts"]["clerk"]
    assert clerk_mails == 0 or summary["reasons"], "mails sent to clerks carry reason codes"


def test_photos_are_mailed_as_if_taken_an_hour_ago() -> None:
    image = Image.new("RGB", (32, 24), (90, 90, 90))
    exif = Image.Exif()
    exif[306] = "2019:05:12 14:22:01"  # DateTime
    exif[274] = 6  # Orientation: keeps its value
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", exif=exif)
    old = buffer.getvalue()
    new = sim.taken_recently(old, dt.datetime(2026, 12, 6, 12, 0))
    assert len(new) == len(old) and new[-200:] == old[-200:]  # the image data is untouched
    tags = Image.open(io.BytesIO(new)).getexif()
    assert (tags[306], tags[274]) == ("2026:12:06 11:00:00", 6)
    assert sim.taken_recently(b"\xff\xd8\xff\xdbno exif", dt.datetime(2026, 12, 6)) == (
        b"\xff\xd8\xff\xdbno exif"
    )
