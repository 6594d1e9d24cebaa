"""Billing export of accepted readings, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.context import AppContext
from core.db import transaction
from core.models import Meter, Reading
from matching.export import COLUMNS, export_readings, machine_decimal
from matching.masterdata import import_csv
from tests.conftest import FrozenClock
from tests.test_matching_resolve import seed


def test_export_accepted_readings_since_date_and_mark(ctx: AppContext) -> None:
    with transaction(ctx.sessions) as session:
        ids = seed(session)
        rows = [
            (ids.e_meter, "12345", dt.date(2026, 11, 2), "photo", "accepted", "auto"),
            (ids.w_meter, "101.5", dt.date(2026, 11, 3), "clerk", "accepted", "petra"),
            (ids.g_meter, "7.25", dt.date(2026, 10, 31), "photo", "accepted", "auto"),  # too old
            (ids.g_meter, "8", dt.date(2026, 11, 4), "photo", "rejected", None),
            (ids.g_meter, "9", dt.date(2026, 11, 5), "import", "accepted", None),
        ]
        for meter_id, value, day, source, status, by in rows:
            session.add(
                Reading(
                    meter_id=meter_id,
                    value=Decimal(value),
                    read_on=day,
                    source=source,
                    status=status,
                    accepted_by=by,
                )
            )
    out = io.StringIO()
    count = export_readings(ctx, out, since=dt.date(2026, 11, 1), mark=True)
    lines = list(csv.reader(io.StringIO(out.getvalue()), delimiter=";"))
    assert count == 2
    assert tuple(lines[0]) == COLUMNS
    assert [line[:7] for line in lines[1:]] == [
        ["100200300", "1ESY1160123456", "1.8.0", "12345.0", "2026-11-02", "photo", "auto"],
        ["100200301", "W-123", "1.8.0", "101.500", "2026-11-03", "clerk", "petra"],
    ]
    assert [line[8] for line in lines[1:]] == ["kWh", "m3"]
    with ctx.sessions() as session:
        marked = session.scalars(select(Reading.id).where(Reading.exported_at.is_not(None)))
        assert sorted(marked) == sorted(int(line[7]) for line in lines[1:])
        stamp = session.scalars(select(Reading.exported_at).where(Reading.exported_at.is_not(None)))
        assert set(stamp) == {ctx.clock()}


def test_export_without_mark_changes_nothing(ctx: AppContext) -> None:
    with transaction(ctx.sessions) as session:
        ids = seed(session)
        session.add(
            Reading(
                meter_id=ids.e_meter,
                value=Decimal("1"),
                read_on=dt.date(2026, 11, 2),
                source="photo",
            )
        )
    assert export_readings(ctx, io.StringIO(), since=dt.date(2026, 1, 1), mark=False) == 1
    with ctx.sessions() as session:
        assert session.scalars(select(Reading.exported_at)).all() == [None] * 4


def test_a_heat_meter_billed_in_mwh_is_exported_with_its_unit(ctx: AppContext) -> None:
    with transaction(ctx.sessions) as session:
        ids = seed(session)
        meter = session.get(Meter, ids.e_meter)
        assert meter is not None
        meter.kind, meter.unit, meter.decimal_digits = "heat", "MWh", 3
        session.add(
            Reading(meter_id=ids.e_meter, value=Decimal("26.712"), read_on=dt.date(2026, 11, 2),
                    source="photo", status="accepted", accepted_by="auto")
        )  # fmt: skip
    out = io.StringIO()
    assert export_readings(ctx, out, since=dt.date(2026, 11, 1), mark=False) == 1
    [row] = list(csv.DictReader(io.StringIO(out.getvalue()), delimiter=";"))
    assert (row["stand"], row["einheit"]) == ("26.712", "MWh")


def test_machine_decimal_pads_but_never_rounds() -> None:
    assert machine_decimal(Decimal("12345"), 1) == "12345.0"
    assert machine_decimal(Decimal("12345.67"), 1) == "12345.67"
    assert machine_decimal(Decimal("12.0000"), 0) == "12"


def test_a_correction_names_the_reading_it_replaces(ctx: AppContext) -> None:
    with transaction(ctx.sessions) as session:
        ids = seed(session)
        day = dt.date(2026, 11, 2)
        old = Reading(meter_id=ids.w_meter, value=Decimal("101.5"), read_on=day, source="photo",
                      status="superseded", accepted_by="auto", exported_at=ctx.clock())  # fmt: skip
        session.add(old)
        session.flush()
        session.add(
            Reading(
                meter_id=ids.w_meter,
                value=Decimal("110"),
                read_on=day,
                source="typed",
                status="accepted",
                accepted_by="petra",
                corrects_id=old.id,
            )
        )
        session.add(
            Reading(
                meter_id=ids.e_meter,
                value=Decimal("12345"),
                read_on=day,
                source="photo",
                status="accepted",
                accepted_by="auto",
            )
        )
    out = io.StringIO()
    assert export_readings(ctx, out, since=day, mark=False) == 2
    lines = list(csv.reader(io.StringIO(out.getvalue()), delimiter=";"))
    assert lines[0][-1] == "ersetzt_reading_id"
    assert {(line[1], line[3], line[9]) for line in lines[1:]} == {
        ("W-123", "110.000", str(old.id)), ("1ESY1160123456", "12345.0", ""),
    }  # fmt: skip


class FullDisk(io.StringIO):
    """An export file on a full disk: the rows fit in the buffer, writing them out fails."""

    def flush(self) -> None:
        raise OSError(28, "No space left on device")


def _accepted(session: Session, meter_id: int, value: str, day: dt.date) -> None:
    session.add(Reading(meter_id=meter_id, value=Decimal(value), read_on=day, source="photo",
                        status="accepted", accepted_by="auto"))  # fmt: skip


def test_a_file_that_cannot_be_written_out_marks_nothing(ctx: AppContext) -> None:
    with transaction(ctx.sessions) as session:
        _accepted(session, seed(session).e_meter, "12345", dt.date(2026, 11, 2))
    with pytest.raises(OSError):
        export_readings(ctx, FullDisk(), since=dt.date(2026, 11, 1), mark=True)
    with ctx.sessions() as session:
        assert session.scalars(
            select(Reading.exported_at).where(Reading.source == "photo")
        ).all() == [None]


def test_new_only_exports_each_reading_once_also_one_decided_late(ctx: AppContext) -> None:
    with transaction(ctx.sessions) as session:
        ids = seed(session)
        _accepted(session, ids.e_meter, "12345", dt.date(2026, 11, 9))
    first = io.StringIO()
    assert export_readings(ctx, first, since=None, mark=True, new_only=True) == 1
    with transaction(ctx.sessions) as session:  # a clerk decides a mail of the week before
        _accepted(session, ids.w_meter, "101.5", dt.date(2026, 11, 3))
    second = io.StringIO()
    assert export_readings(ctx, second, since=None, mark=True, new_only=True) == 1
    lines = list(csv.reader(io.StringIO(second.getvalue()), delimiter=";"))
    assert [(line[1], line[4]) for line in lines[1:]] == [("W-123", "2026-11-03")]
    assert export_readings(ctx, io.StringIO(), since=None, mark=True, new_only=True) == 0


MOVE_HEADER = "vertragskonto;name;email;zaehlernummer;art;einheit;vorkommastellen"


def _import(ctx: AppContext, path: Path, *lines: str) -> None:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    report = import_csv(ctx, path, progress=False)
    assert report.errors == []


def _book(ctx: AppContext, value: str, day: dt.date) -> int:
    with transaction(ctx.sessions) as session:
        meter_id = session.scalars(select(Meter.id).where(Meter.number == "W123")).one()
        reading = Reading(meter_id=meter_id, value=Decimal(value), read_on=day, source="photo",
                          status="accepted", accepted_by="auto")  # fmt: skip
        session.add(reading)
        session.flush()
        return reading.id


def _accounts(ctx: AppContext) -> dict[int, str]:
    out = io.StringIO()
    export_readings(ctx, out, since=None, mark=False)
    lines = list(csv.reader(io.StringIO(out.getvalue()), delimiter=";"))
    return {int(line[7]): line[0] for line in lines[1:]}


def test_a_reading_before_a_move_is_exported_with_the_account_of_its_day(
    ctx: AppContext, tmp_path: Path, clock: FrozenClock
) -> None:
    """The master-data import moves meter W123 from Erika's account to John's: the reading Erika
    sent before is billed to her account, the one after the move to John's."""
    _import(ctx, tmp_path / "a.csv", MOVE_HEADER,
            "100200301;Erika Mustermann;erika@example.org;W123;Wasser;m3;5")  # fmt: skip
    before = _book(ctx, "101", dt.date(2026, 11, 10))
    clock.advance(days=5)  # imported on 25.11.2026
    _import(ctx, tmp_path / "b.csv", MOVE_HEADER,
            "100200999;John Smith;john@example.org;W123;Wasser;m3;5")  # fmt: skip
    on_move_day = _book(ctx, "105", dt.date(2026, 11, 25))
    after = _book(ctx, "110", dt.date(2026, 11, 30))
    assert _accounts(ctx) == {before: "100200301", on_move_day: "100200999", after: "100200999"}


def test_the_move_date_billing_gives_decides_and_several_moves_chain(
    ctx: AppContext, tmp_path: Path, clock: FrozenClock
) -> None:
    header = MOVE_HEADER + ";konto_ab"
    _import(ctx, tmp_path / "a.csv", header,
            "100200301;Erika Mustermann;erika@example.org;W123;Wasser;m3;5;")  # fmt: skip
    first = _book(ctx, "101", dt.date(2026, 11, 2))
    second = _book(ctx, "102", dt.date(2026, 11, 9))
    third = _book(ctx, "103", dt.date(2026, 11, 16))
    _import(ctx, tmp_path / "b.csv", header,
            "100200999;John Smith;john@example.org;W123;Wasser;m3;5;05.11.2026")  # fmt: skip
    _import(ctx, tmp_path / "c.csv", header,
            "100200500;Ada Lovelace;ada@example.org;W123;Wasser;m3;5;2026-11-12")  # fmt: skip
    assert _accounts(ctx) == {first: "100200301", second: "100200999", third: "100200500"}
    future = tmp_path / "d.csv"  # a move cannot be dated in the future
    future.write_text(f"{header}\n100200301;Erika;erika@example.org;W123;Wasser;m3;5;21.11.2026\n")
    [error] = import_csv(ctx, future, progress=False).errors
    assert "Zeile 2, Feld 'konto_ab'" in str(error) and "Zukunft" in str(error)
    assert _accounts(ctx) == {first: "100200301", second: "100200999", third: "100200500"}
