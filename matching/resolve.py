"""Which customer and meter a submission belongs to, which value it carries, and whether that fits.

Evidence, strongest first: a meter number (read from the photo or typed in the mail), a contract
account number typed in the mail, the sender's address. The sender's meters are the pool; hints
narrow it. From an unknown sender a meter number (or an account with a single meter) can still
identify the meter, flagged `unknown_sender` so a clerk confirms it.

Accounts are those of the mail's day (`today`): a meter that moved to another account after that
day (`core.account_moves`) is still the sender's before the move, named with the account it had.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from email.utils import parseaddr
from typing import Literal

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import Session, joinedload

from core.account_moves import accounts_on, meters_ever_on
from core.models import ContractAccount, Customer, Meter
from core.types import MatchResult, MeterCandidate, MeterRead, Submission, TextHints
from matching import reasons
from matching.plausibility import DEFAULT_MAX_DAILY_CONSUMPTION, check_meter
from matching.units import quantity
from matching.values import agrees, normalize_meter_number, photo_value

MAX_CANDIDATES = 8
_Selector = Callable[[Meter], bool]


@dataclass
class _Accounts:
    """The contract account each meter seen had on the mail's day."""

    session: Session
    day: dt.date
    known: dict[int, ContractAccount] = field(default_factory=dict)

    def learn(self, meters: Iterable[Meter]) -> None:
        missing = [m for m in meters if m.id not in self.known]
        if missing:
            self.known.update(accounts_on(self.session, missing, self.day))

    def of(self, meter: Meter) -> ContractAccount:
        self.learn([meter])
        return self.known[meter.id]


@dataclass
class _Evidence:
    """Meters seen so far and why each one is a candidate."""

    accounts: _Accounts
    meters: dict[int, Meter] = field(default_factory=dict)
    why: dict[int, list[str]] = field(default_factory=dict)

    def add(self, meters: Iterable[Meter], why: str) -> None:
        meters = list(meters)
        self.accounts.learn(meters)
        for meter in meters:
            self.meters[meter.id] = meter
            self.why.setdefault(meter.id, [])
            if why not in self.why[meter.id]:
                self.why[meter.id].append(why)

    def candidate(self, meter: Meter) -> MeterCandidate:
        return MeterCandidate(
            meter_id=meter.id,
            meter_number=meter.number,
            account_number=self.accounts.of(meter).number,
            why=tuple(self.why.get(meter.id, ())),
        )

    def ranked(self, first: list[Meter]) -> tuple[MeterCandidate, ...]:
        rest = sorted(
            (m for m in self.meters.values() if m not in first),
            key=lambda m: (-len(self.why[m.id]), m.number),
        )
        return tuple(self.candidate(m) for m in [*first, *rest][:MAX_CANDIDATES])


@dataclass(frozen=True)
class _Hints:
    accounts: frozenset[str]
    text_numbers: frozenset[str]
    photo_numbers: frozenset[str]

    @property
    def numbers(self) -> frozenset[str]:
        return self.text_numbers | self.photo_numbers


@dataclass(frozen=True)
class MeterPool:
    """The meters a submission (or one of its photos) may be about, and why."""

    customer_id: int | None
    meters: tuple[Meter, ...]  # still in question, by number
    candidates: tuple[MeterCandidate, ...]  # best first, for the clerk
    codes: tuple[str, ...]
    evidence: dict[int, tuple[str, ...]]  # meter id -> why it is a candidate


def resolve_pool(
    session: Session,
    submission: Submission,
    photo_numbers: Iterable[str],
    *,
    today: dt.date,
) -> MeterPool:
    """The meters in question after the sender, the typed numbers and `photo_numbers` (the meter
    numbers read on one photo) are applied; meters active on `today` only, on the accounts they
    had that day."""
    hints = _hints(submission, photo_numbers)
    customers = sender_customers(session, submission.sender)
    accounts = _Accounts(session, today)
    evidence = _Evidence(accounts)
    own = _active(_meters_of_customers(accounts, [c.id for c in customers]), today)
    evidence.add(own, "sender")
    named = _own_numbers_in_text(submission, own)
    if named - hints.text_numbers:
        hints = _Hints(hints.accounts, hints.text_numbers | named, hints.photo_numbers)
    codes = _gather_hinted(session, evidence, hints, today)
    pool, pool_codes = _narrow(evidence, own, hints, sender_known=bool(customers))
    return MeterPool(
        customer_id=(accounts.of(pool[0]).customer_id if len(pool) == 1 else _single_id(customers)),
        meters=tuple(pool),
        candidates=evidence.ranked(pool),
        codes=tuple(dict.fromkeys([*pool_codes, *codes])),
        evidence={m.id: tuple(evidence.why.get(m.id, ())) for m in pool},
    )


def match_submission(
    session: Session,
    submission: Submission,
    read: MeterRead | None,
    *,
    today: dt.date,
    max_daily_consumption: float = DEFAULT_MAX_DAILY_CONSUMPTION,
) -> MatchResult:
    """Resolve customer and meter for a single value (the typed one, or one photo's), pick the
    value, and run the plausibility checks on it.

    `today` is the reading date used for plausibility and for which meters are active; pass
    `ctx.settings.max_daily_consumption` as `max_daily_consumption`.
    """
    pool = resolve_pool(session, submission, photo_numbers(read), today=today)
    codes = list(pool.codes)
    meter = pool.meters[0] if len(pool.meters) == 1 else None
    value, source, value_codes = _value(submission.hints.readings, read)
    codes.extend(value_codes)
    candidates = pool.candidates
    if meter is None and source == "typed":
        meter = meter_by_typed_unit(pool.meters, submission.hints)
        chosen = meter.id if meter is not None else None
        if any(c.meter_id == chosen for c in candidates):  # a proposal for the clerk only:
            codes = [c for c in codes if c != reasons.AMBIGUOUS_METER]  # a typed value is never
            codes.append(reasons.METER_BY_TYPED_UNIT)  # booked without a photo (`decide`)
            candidates = tuple(sorted(candidates, key=lambda c: c.meter_id != chosen))
        else:
            meter = None
    if meter is not None:
        codes.extend(_meter_codes(session, meter, value, today, max_daily_consumption))
    return MatchResult(
        customer_id=pool.customer_id,
        meter=candidates[0] if meter else None,
        candidates=candidates,
        value=value,
        value_source=source,
        reason_codes=tuple(dict.fromkeys(codes)),
    )


def meter_by_typed_unit(meters: Sequence[Meter], hints: TextHints) -> Meter | None:
    """The only one of `meters` that counts what the typed values' units count (energy: kWh,
    MWh, GJ; volume: m3); None unless every typed value has a unit, all of one quantity."""
    units = [*hints.reading_units, *[None] * (len(hints.readings) - len(hints.reading_units))]
    quantities = {quantity(unit) for unit in units}
    if len(quantities) != 1 or None in quantities:
        return None
    fitting = [m for m in meters if quantity(m.unit) in quantities]
    return fitting[0] if len(fitting) == 1 else None


def photo_numbers(read: MeterRead | None) -> tuple[str, ...]:
    """The meter numbers OCR read on a photo (best first)."""
    if read is None:
        return ()
    return tuple(n for n in (read.meter_number, *read.meter_number_candidates) if n)


def _hints(submission: Submission, photo: Iterable[str]) -> _Hints:
    return _Hints(
        accounts=frozenset(_clean_account(a) for a in submission.hints.account_numbers),
        text_numbers=frozenset(normalize_meter_number(n) for n in submission.hints.meter_numbers),
        photo_numbers=frozenset(normalize_meter_number(n) for n in photo if n),
    )


_SEPARATOR = r"[\s\-./_]?"
MIN_NAMED_LENGTH = 4  # shorter numbers ("W12") occur in text by chance


def _own_numbers_in_text(submission: Submission, own: Iterable[Meter]) -> frozenset[str]:
    """The sender's meter numbers the mail names in its own words, in any spelling master data
    allows ("Zähler GAS-0815", "gas 0815", "W123"): numbers of letters and digits in any shape,
    which the text hints' patterns (`intake.hints`) cannot know. Quoted lines ('>') are not read."""
    text = "\n".join(
        line
        for line in f"{submission.subject}\n{submission.body_text}".splitlines()
        if not line.lstrip().startswith(">")
    )
    found = set()
    for meter in own:
        number = normalize_meter_number(meter.number)
        if len(number) < MIN_NAMED_LENGTH or number.isdigit() or number.isalpha():
            continue  # digits alone may be a reading: those need a keyword (intake.hints)
        spelled = _SEPARATOR.join(re.escape(ch) for ch in number)
        if re.search(rf"(?<![0-9A-Za-z]){spelled}(?![0-9A-Za-z])", text, re.IGNORECASE):
            found.add(number)
    return frozenset(found)


def _clean_account(number: str) -> str:
    return "".join(number.split())


def sender_customers(session: Session, sender: str | None) -> list[Customer]:
    """The customers with the sender's address (case-insensitive), oldest first."""
    address = parseaddr(sender or "")[1].strip().lower()
    if not address or "@" not in address:
        return []
    query = select(Customer).where(func.lower(Customer.email) == address).order_by(Customer.id)
    return list(session.scalars(query))


def _meters_of_customers(accounts: _Accounts, customer_ids: list[int]) -> list[Meter]:
    """The meters on the customers' accounts on the day (before a later move, too)."""
    if not customer_ids:
        return []
    theirs = select(ContractAccount.id).where(ContractAccount.customer_id.in_(customer_ids))
    query = (
        select(Meter)
        .where(meters_ever_on(theirs))
        .options(joinedload(Meter.account))
        .order_by(Meter.number)
    )
    meters = list(accounts.session.scalars(query))
    accounts.learn(meters)
    return [m for m in meters if accounts.of(m).customer_id in customer_ids]


def _is_active(meter: Meter, today: dt.date) -> bool:
    installed = meter.installed_on is None or meter.installed_on <= today
    return installed and (meter.removed_on is None or meter.removed_on > today)


def _active(meters: Iterable[Meter], today: dt.date) -> list[Meter]:
    return [m for m in meters if _is_active(m, today)]


def _normalized_number() -> ColumnElement[str]:
    column: ColumnElement[str] = Meter.number.expression
    for noise in (" ", "-", ".", "/", "_"):
        column = func.replace(column, noise, "")
    return func.upper(column)


def _gather_hinted(
    session: Session, evidence: _Evidence, hints: _Hints, today: dt.date
) -> list[str]:
    """Add the meters that hints point at; codes for hints that point at removed meters."""
    conditions: list[ColumnElement[bool]] = []
    if hints.numbers:
        conditions.append(_normalized_number().in_(sorted(hints.numbers)))
    if hints.accounts:
        named = select(ContractAccount.id).where(ContractAccount.number.in_(sorted(hints.accounts)))
        conditions.append(meters_ever_on(named))
    if not conditions:
        return []
    query = select(Meter).where(or_(*conditions))
    found = list(session.scalars(query.options(joinedload(Meter.account))))
    evidence.accounts.learn(found)
    by_number = [m for m in found if normalize_meter_number(m.number) in hints.numbers]
    for meter in _active(by_number, today):
        in_text = normalize_meter_number(meter.number) in hints.text_numbers
        evidence.add([meter], "meter_number_text" if in_text else "meter_number_photo")
    by_account = (m for m in found if evidence.accounts.of(m).number in hints.accounts)
    evidence.add(_active(by_account, today), "account")
    if by_number and not _active(by_number, today):
        return [reasons.METER_REMOVED]
    return []


def _narrow(
    evidence: _Evidence, own: list[Meter], hints: _Hints, *, sender_known: bool
) -> tuple[list[Meter], list[str]]:
    """The meters still in question after applying the hints, and codes for hints that clash."""
    codes: list[str] = [] if sender_known else [reasons.UNKNOWN_SENDER]
    if sender_known:
        pool = own
    else:
        hinted = [m for m in evidence.meters.values() if _has_number(evidence, m)]
        pool = hinted or list(evidence.meters.values())
    foreign = [m for m in evidence.meters.values() if m not in pool]
    by_account = _by_account(hints, evidence.accounts)
    for kind, selector in (("account", by_account), ("number", _by_number(hints))):
        if selector is None:
            continue
        chosen = [m for m in pool if selector(m)]
        if chosen:
            pool = chosen
        elif any(selector(m) for m in foreign):
            codes.append(
                reasons.ACCOUNT_MISMATCH if kind == "account" else reasons.METER_NUMBER_MISMATCH
            )
    if not pool:
        codes.append(reasons.NO_METER)
    elif len(pool) > 1:
        codes.append(reasons.AMBIGUOUS_METER)
    return sorted(pool, key=lambda m: m.number), codes


def _has_number(evidence: _Evidence, meter: Meter) -> bool:
    return any(why.startswith("meter_number") for why in evidence.why[meter.id])


def _by_account(hints: _Hints, accounts: _Accounts) -> _Selector | None:
    return (lambda m: accounts.of(m).number in hints.accounts) if hints.accounts else None


def _by_number(hints: _Hints) -> _Selector | None:
    if not hints.numbers:
        return None
    return lambda m: normalize_meter_number(m.number) in hints.numbers


def _value(
    typed: tuple[Decimal, ...], read: MeterRead | None
) -> tuple[Decimal | None, Literal["photo", "typed"] | None, list[str]]:
    """The value to book: the photo's, else a typed one; codes on how they relate."""
    photo = photo_value(read)
    distinct = list(dict.fromkeys(typed))
    if photo is not None:
        if not distinct:
            return photo, "photo", []
        if any(agrees(value, photo) for value in distinct):
            return photo, "photo", [reasons.TYPED_MATCHES_PHOTO]
        return photo, "photo", [reasons.TYPED_PHOTO_MISMATCH]
    if distinct:
        return distinct[0], "typed", [reasons.AMBIGUOUS_TYPED_VALUE] if len(distinct) > 1 else []
    return None, None, []


def _meter_codes(
    session: Session,
    meter: Meter,
    value: Decimal | None,
    today: dt.date,
    max_daily_consumption: float,
) -> list[str]:
    codes = [reasons.MULTIPLE_REGISTERS] if "," in meter.registers else []
    if value is not None:
        codes.extend(
            check_meter(session, meter, value, today, max_daily_consumption=max_daily_consumption)
        )
    return codes


def _single_id(customers: list[Customer]) -> int | None:
    return customers[0].id if len(customers) == 1 else None
