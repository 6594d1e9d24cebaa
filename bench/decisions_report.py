"""The tables of bench/decisions.py: mails per outcome for each group and one/several meters."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass, field

from bench import decisions_sim as sim

# booked: booked right; off: booked with the right integer part, the decimals off the label by more
# than the tolerance (bench/decisions.py: decimal_tolerance); wrong: booked with another integer
# part or on another meter of the customer
OUTCOMES = ("booked", "off", "wrong", "clerk", "rejected", "failed")
Cell = tuple[str, bool]  # (group, several meters)


@dataclass(frozen=True)
class MailOutcome:
    file: str
    group: str
    several: bool
    outcome: str  # one of OUTCOMES
    status: str  # the ledger's status of the mail
    reasons: list[str] = field(default_factory=list)  # reason codes of its review tasks
    booked: str = ""  # "meter=value" of automatic bookings


@dataclass
class Row:
    group: str
    meters: str  # one | several | all
    kind: str
    mails: int = 0
    seconds: float = 0.0
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(OUTCOMES, 0))

    def shares(self) -> dict[str, float | None]:
        def share(part: int, whole: int) -> float | None:
            return part / whole if whole else None

        wrong, off = self.counts["wrong"], self.counts["off"]
        booked = self.counts["booked"] + off + wrong
        return {
            "booked": share(booked, self.mails),
            "wrong_integer_of_booked": share(wrong, booked),
            "wrong_decimals_of_booked": share(off, booked),
            "clerk": share(self.counts["clerk"], self.mails),
            "rejected_or_failed": share(
                self.counts["rejected"] + self.counts["failed"], self.mails
            ),
            "seconds_per_mail": share(self.seconds, self.mails),  # type: ignore[arg-type]
        }

    def as_dict(self) -> dict[str, object]:
        return {**asdict(self), **self.shares()}


def summarize(
    outcomes: list[MailOutcome], seconds: dict[Cell, float], kinds: dict[str, str]
) -> list[Row]:
    """Rows per group and one/several meters, a total per group, and the overall total."""
    rows: dict[tuple[str, str], Row] = {}
    for group in sorted({o.group for o in outcomes}, key=sim.GROUPS.index):
        for meters in ("one", "several", "all"):
            rows[(group, meters)] = Row(group, meters, kinds[group])
    rows[("all", "all")] = Row("all", "all", "")
    for outcome in outcomes:
        meters = "several" if outcome.several else "one"
        for key in ((outcome.group, meters), (outcome.group, "all"), ("all", "all")):
            rows[key].mails += 1
            rows[key].counts[outcome.outcome] += 1
    for (group, several), spent in seconds.items():
        for key in ((group, "several" if several else "one"), (group, "all"), ("all", "all")):
            rows[key].seconds += spent
    return [row for row in rows.values() if row.mails]


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def format_table(rows: list[Row]) -> str:
    lines = [
        f"{'group':<6} {'meters':<8} {'kind':<22} {'mails':>5} {'booked':>7} {'int.wr':>6} "
        f"{'dec.wr':>6} {'clerk':>6} {'rej/fail':>8} {'s/mail':>7}"
    ]
    for row in rows:
        s = row.shares()
        per_mail = "-" if s["seconds_per_mail"] is None else f"{s['seconds_per_mail']:.3f}"
        lines.append(
            f"{row.group:<6} {row.meters:<8} {row.kind:<22} {row.mails:>5} "
            f"{_percent(s['booked']):>7} "
            f"{_percent(s['wrong_integer_of_booked']):>6} "
            f"{_percent(s['wrong_decimals_of_booked']):>6} "
            f"{_percent(s['clerk']):>6} "
            f"{_percent(s['rejected_or_failed']):>8} {per_mail:>7}"
        )
    return "\n".join(lines)


def reason_counts(outcomes: list[MailOutcome]) -> dict[str, int]:
    counts: dict[str, int] = defaultdict(int)
    for outcome in outcomes:
        for code in outcome.reasons:
            counts[code] += 1
    return dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))
