"""The utility played by bench/decisions.py: customers, meters and billing histories for labelled
photos, the master-data files that carry the histories in, and the customers' mails.

Pure and deterministic: everything is drawn from one `random.Random`, nothing touches a database.
"""

from __future__ import annotations

import csv
import datetime as dt
import math
import random
import re
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from zoneinfo import ZoneInfo

from bench.ocr import ERRATA

# Household consumption a year, drawn uniformly per meter (water and gas in m³, the rest in kWh).
ANNUAL_CONSUMPTION = {
    "water": (30.0, 150.0),
    "electricity": (1500.0, 6000.0),
    "gas": (500.0, 2000.0),  # 5,000-20,000 kWh of gas
    "heat": (5000.0, 20000.0),
}
UNITS = {"water": "m3", "electricity": "kWh", "gas": "m3", "heat": "kWh"}
KIND_DE = {"water": "Wasser", "electricity": "Strom", "gas": "Gas", "heat": "Wärme"}
# Share of a year's heating consumption per month (Jan..Dec), shaped like a standard load profile.
HEATING_MONTHS = (0.17, 0.15, 0.12, 0.08, 0.04, 0.02, 0.02, 0.02, 0.04, 0.08, 0.12, 0.14)
SEASONAL_KINDS = frozenset({"gas", "heat"})
HALF_YEARLY_SHARE = 0.2  # meters read twice a year; the rest once a year
MAX_PAST_READINGS = 4
PERIOD_SPREAD = 0.15  # one billing period's consumption varies by up to ±15 % from the meter's mean
# A customer's further meters, as a German Stadtwerk's customers have them: one meter per medium
# (a household heats with gas or with district heat, not both), the medium drawn by how many
# households of a Stadtwerk have it beside another (electricity almost always, gas or heat for
# most, water for half), its counter by how common it is: electricity meters half Ferraris drums,
# half displays; gas on drums; heat on a display. A further meter may have the photographed
# meter's counter (water and gas on 5+3 drums): then only the histories tell them apart.
MEDIUM_SHARES = {"electricity": 0.9, "heating": 0.65, "water": 0.5}
EXTRA_PROFILES = (  # (medium, share within the medium, kind, display, integer, decimal digits)
    ("electricity", 0.5, "electricity", "drum", 6, 1),
    ("electricity", 0.5, "electricity", "lcd", 6, 1),
    ("heating", 0.8, "gas", "drum", 5, 3),
    ("heating", 0.2, "heat", "lcd", 6, 0),
    ("water", 1.0, "water", "drum", 5, 3),
)
MEDIUM = {kind: medium for medium, _, kind, *_ in EXTRA_PROFILES}
GROUPS = ("water", "lcd", "emic")
# the fuel-pump displays show one or two decimals; their labels carry none
LCD_DECIMALS = 2
GROUP_PREFIX = {"water": "toloka__", "lcd": "sacha-7seg__", "emic": "anhkhoi-emic__"}
SERVICE_ADDRESS = "zaehlerstand@stadtwerk.example"
BERLIN = ZoneInfo("Europe/Berlin")  # reading dates are Berlin days


@dataclass(frozen=True)
class Profile:
    """What billing knows about a meter's counter."""

    kind: str
    display: str  # drum | lcd
    integer_digits: int
    decimal_digits: int

    @property
    def unit(self) -> str:
        return UNITS[self.kind]

    @property
    def step(self) -> Decimal:
        return Decimal(1).scaleb(-self.decimal_digits)


@dataclass(frozen=True)
class LabelledPhoto:
    file: str
    group: str
    reading: str  # integer part, no leading zeros
    fraction: str  # decimal digits as labelled (may be shorter than the meter's, or empty)

    @property
    def value(self) -> Decimal:
        return Decimal(f"{self.reading}.{self.fraction}" if self.fraction else self.reading)


@dataclass(frozen=True)
class SimMeter:
    number: str
    profile: Profile
    current: Decimal  # the true reading today
    history: tuple[tuple[dt.date, Decimal], ...]  # billing's readings, oldest first
    installed_on: dt.date | None


@dataclass(frozen=True)
class SimCustomer:
    account: str
    name: str
    email: str
    photo: LabelledPhoto
    meters: tuple[SimMeter, ...]  # meters[0] is the photographed one

    @property
    def several(self) -> bool:
        return len(self.meters) > 1


def photo_group(file: str) -> str | None:
    return next((g for g, prefix in GROUP_PREFIX.items() if file.startswith(prefix)), None)


def read_labels(labels_csv: Path, groups: tuple[str, ...]) -> list[LabelledPhoto]:
    photos = []
    with labels_csv.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            group = photo_group(row["file"])
            if group in groups and row["reading"].strip():
                reading = ERRATA.get(row["file"], row["reading"].strip())
                photos.append(LabelledPhoto(row["file"], group, reading, row["fraction"].strip()))
    return photos


def photo_profile(photo: LabelledPhoto, lcd_kind: str) -> Profile:
    """The photographed meter's counter, with the digits the photo shows."""
    integers, decimals = len(photo.reading), len(photo.fraction)
    if photo.group == "water":  # 5 black and 3 red drums, a few meters with more
        return Profile("water", "drum", max(5, integers), max(3, decimals))
    if photo.group == "emic":  # 5 black drums and one red tenth drum
        return Profile("electricity", "drum", max(5, integers), 1)
    return Profile(lcd_kind, "lcd", integers, max(LCD_DECIMALS, decimals))


def period_consumption(kind: str, annual: float, start: dt.date, end: dt.date) -> float:
    """Expected consumption between two dates; gas and heat follow the heating season."""
    days = (end - start).days
    if kind not in SEASONAL_KINDS:
        return annual * days / 365.0
    total, day = 0.0, start
    while day < end:
        month_days = _days_in_month(day)
        total += annual * HEATING_MONTHS[day.month - 1] / month_days
        day += dt.timedelta(days=1)
    return total


def _days_in_month(day: dt.date) -> int:
    following = (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return (following - dt.timedelta(days=1)).day


def simulate_history(
    rng: random.Random, profile: Profile, current: Decimal, today: dt.date, *, with_history: bool
) -> tuple[tuple[tuple[dt.date, Decimal], ...], dt.date | None]:
    """Billing's readings before `today` that end at `current`: yearly or half-yearly read dates,
    each period's consumption from the kind's household range. Never below zero (no rollover); a
    counter too low for even one period belongs to a meter installed since (reading 0)."""
    low, high = ANNUAL_CONSUMPTION[profile.kind]
    annual = rng.uniform(low, high)
    interval = 182 if rng.random() < HALF_YEARLY_SHARE else 365
    last_read = today - dt.timedelta(days=rng.randint(20, interval - 10))
    count = rng.randint(1, MAX_PAST_READINGS)
    if not with_history or current <= 0:
        return (), None
    readings: list[tuple[dt.date, Decimal]] = []
    value, later = current, today
    for k in range(count):
        date = last_read - dt.timedelta(days=k * interval)
        used = period_consumption(profile.kind, annual, date, later)
        used *= rng.uniform(1 - PERIOD_SPREAD, 1 + PERIOD_SPREAD)
        value -= Decimal(str(used)).quantize(profile.step, rounding=ROUND_DOWN)
        if value < 0:
            break
        readings.append((date, value))
        later = date
    if readings:
        return tuple(reversed(readings)), None
    days = max(1, math.ceil(float(current) * 365.0 / annual))
    installed = today - dt.timedelta(days=days)
    return ((installed, Decimal(0).quantize(profile.step)),), installed


def _extra_current(rng: random.Random, profile: Profile) -> Decimal:
    low, high = ANNUAL_CONSUMPTION[profile.kind]
    years = rng.uniform(0.5, 15.0)
    capacity = 10**profile.integer_digits
    value = min(rng.uniform(low, high) * years, capacity * 0.95)
    return Decimal(str(value)).quantize(profile.step, rounding=ROUND_DOWN)


def extra_profiles(rng: random.Random, photographed: Profile, count: int) -> list[Profile]:
    """Further meters of other media than the photographed meter's (`MEDIUM_SHARES`), drawn
    without replacement by share, each with a counter drawn by its share within the medium."""
    own = MEDIUM.get(photographed.kind, photographed.kind)
    media = [m for m in MEDIUM_SHARES if m != own]
    # weighted sampling without replacement: the largest rng ** (1 / share) first
    media.sort(key=lambda m: -(rng.random() ** (1 / MEDIUM_SHARES[m])))
    chosen = []
    for medium in media[:count]:
        options = [p for p in EXTRA_PROFILES if p[0] == medium]
        _, _, kind, display, integers, decimals = rng.choices(options, [p[1] for p in options])[0]
        chosen.append(Profile(kind, display, integers, decimals))
    return chosen


FIRST_NAMES = (
    "Erika", "Max", "Anna", "Jürgen", "Fatma", "Lukas", "Sabine", "Mehmet", "Ursula", "Jonas",
    "Katarzyna", "Thomas", "Leonie", "Dieter", "Aylin", "Klaus", "Marie", "Stefan", "Olga", "Paul",
)  # fmt: skip
LAST_NAMES = (
    "Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Schulz",
    "Hoffmann", "Yılmaz", "Nowak", "Koch", "Richter", "Klein", "Wolf", "Schröder", "Neumann",
)  # fmt: skip
METER_NUMBER = {
    "water": "WZ{:08d}",
    "electricity": "1ESY11{:08d}",
    "gas": "7GAS{:08d}",
    "heat": "WMZ{:07d}",
}


@dataclass(frozen=True)
class Shares:
    several: float  # customers with two or three meters
    no_history: float  # meters without any reading in billing
    lcd_kind: str  # the kind the LCD photos' meters are simulated as


def _ascii(text: str) -> str:
    table = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "ı": "i"})
    return text.lower().translate(table)


def _meter(
    rng: random.Random,
    serial: int,
    profile: Profile,
    current: Decimal,
    today: dt.date,
    shares: Shares,
) -> SimMeter:
    with_history = rng.random() >= shares.no_history
    history, installed = simulate_history(rng, profile, current, today, with_history=with_history)
    number = METER_NUMBER[profile.kind].format(serial)
    return SimMeter(number, profile, current, history, installed)


def build_customers(
    photos: list[LabelledPhoto], *, seed: int, shares: Shares, today: dt.date
) -> list[SimCustomer]:
    """One customer per photo; a share of them with further meters of other kinds."""
    rng = random.Random(seed)
    customers = []
    for index, photo in enumerate(photos):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        profile = photo_profile(photo, shares.lcd_kind)
        meters = [_meter(rng, 3 * index, profile, photo.value, today, shares)]
        if rng.random() < shares.several:
            for offset, extra in enumerate(
                extra_profiles(rng, profile, rng.randint(1, 2)), start=1
            ):
                current = _extra_current(rng, extra)
                meters.append(_meter(rng, 3 * index + offset, extra, current, today, shares))
        email = f"{_ascii(first)}.{_ascii(last)}{index}@example.org"
        account = f"41{index:07d}"
        customers.append(SimCustomer(account, f"{first} {last}", email, photo, tuple(meters)))
    return customers


MASTER_HEADER = (
    "vertragskonto", "name", "email", "sprache", "zaehlernummer", "art", "einheit", "anzeige",
    "vorkommastellen", "nachkommastellen", "letzter_stand", "letzter_stand_datum", "einbaudatum",
)  # fmt: skip


def german_number(value: Decimal, decimals: int) -> str:
    text = f"{value:.{decimals}f}"
    return text.replace(".", ",")


def history_rounds(customers: list[SimCustomer]) -> int:
    return max([len(m.history) for c in customers for m in c.meters] + [1])


def write_master_data(customers: list[SimCustomer], folder: Path) -> list[Path]:
    """One import file per round of billing history, oldest first: file k carries each meter's
    k-th reading counted back from its last one, so the last file holds every last reading."""
    rounds = history_rounds(customers)
    paths = []
    for round_index in range(rounds):
        path = folder / f"stammdaten-{round_index + 1:02d}.csv"
        with path.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle, delimiter=";")
            writer.writerow(MASTER_HEADER)
            for customer in customers:
                for meter in customer.meters:
                    writer.writerow(_master_row(customer, meter, round_index - rounds))
        paths.append(path)
    return paths


def _master_row(customer: SimCustomer, meter: SimMeter, back: int) -> list[str]:
    p = meter.profile
    reading = meter.history[back] if -back <= len(meter.history) else None
    return [
        customer.account,
        customer.name,
        customer.email,
        "de",
        meter.number,
        p.kind,
        p.unit,
        p.display,
        str(p.integer_digits),
        str(p.decimal_digits),
        german_number(reading[1], p.decimal_digits) if reading else "",
        reading[0].strftime("%d.%m.%Y") if reading else "",
        meter.installed_on.strftime("%d.%m.%Y") if meter.installed_on else "",
    ]


SUBJECTS = (
    "Zählerstand",
    "Zählerstand {art}",
    "Ablesung {art}zähler",
    "Mein Zählerstand",
    "Zählerstand Vertragskonto {konto}",
    "Foto Zähler",
    "",
)
BODIES = (
    "Guten Tag,\n\nanbei das Foto meines {art}zählers.\n\nMit freundlichen Grüßen\n{name}",
    "Hallo,\nhier mein aktueller Zählerstand als Foto.\nViele Grüße\n{name}",
    "Sehr geehrte Damen und Herren,\n\nim Anhang finden Sie das Foto vom Zähler "
    "(Vertragskonto {konto}).\n\nFreundliche Grüße\n{name}",
    "Foto anbei\n\nGesendet von meinem iPhone",
    "",
)


def customer_mail(
    customer: SimCustomer, jpeg: bytes, *, rng: random.Random, now: dt.datetime
) -> EmailMessage:
    """A customer's mail with the meter photo, written as customers write them."""
    fields = {
        "art": KIND_DE[customer.meters[0].profile.kind],
        "konto": customer.account,
        "name": customer.name,
    }
    message = EmailMessage()
    message["From"] = f"{customer.name} <{customer.email}>"
    message["To"] = SERVICE_ADDRESS
    message["Subject"] = rng.choice(SUBJECTS).format(**fields)
    message["Date"] = format_datetime(now)
    message["Message-ID"] = make_msgid(idstring=customer.account, domain="kunde.example")
    message.set_content(rng.choice(BODIES).format(**fields) + "\n")
    name = f"IMG_{rng.randint(1000, 9999)}.jpg"
    message.add_attachment(jpeg, maintype="image", subtype="jpeg", filename=name)
    return message


_EXIF_TIME = re.compile(rb"\d{4}:\d\d:\d\d \d\d:\d\d:\d\d")


def taken_recently(jpeg: bytes, now: dt.datetime) -> bytes:
    """The photo as a customer would take it today: the EXIF times (the corpus photos are years
    old) set to an hour before `now`, in place and byte for byte the same length, so the image
    data stays untouched. A photo without an EXIF block is returned as it is."""
    stamp = (now - dt.timedelta(hours=1)).strftime("%Y:%m:%d %H:%M:%S").encode("ascii")
    out, at = bytearray(jpeg), 2
    while jpeg[:2] == b"\xff\xd8" and at + 4 <= len(jpeg) and jpeg[at] == 0xFF:
        marker, length = jpeg[at + 1], int.from_bytes(jpeg[at + 2 : at + 4], "big")
        if marker == 0xDA:  # start of scan: no header segments after it
            break
        end = at + 2 + length
        if marker == 0xE1 and jpeg[at + 4 : at + 10] == b"Exif\0\0":
            out[at:end] = _EXIF_TIME.sub(stamp, jpeg[at:end])
        at = end
    return bytes(out)
