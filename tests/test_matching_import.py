"""Master-data import: formats, per-row errors, idempotent re-import; SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select

from core.context import AppContext
from core.errors import ImportRowError
from core.models import ContractAccount, Customer, Meter, Reading, shown_on
from matching.csvinput import canonical, parse_amount, sniff_delimiter
from matching.masterdata import import_csv

GERMAN = (
    "vertragskonto;name;email;sprache;zaehlernummer;art;einheit;vorkommastellen;"
    "nachkommastellen;letzter_stand;letzter_stand_datum\n"
    "100200300;Erika Mustermann;Erika@Example.org;de;1ESY1160123456;Strom;kWh;6;1;"
    "12.345,6;01.11.2025\n"
    "100200300;Erika Mustermann;erika@example.org;de;GAS-0815;Gas;m3;5;3;1234,567;2025-11-01\n"
    "100200301;John Smith;john@example.org;en;W123;Wasser;m3;5;3;123.456;01.10.2025\n"
)
ENGLISH = (
    "contract_account,customer_name,email,language,meter_number,kind,unit,integer_digits,"
    "decimal_digits,last_reading,last_reading_date\n"
    "200300400,Jane Doe,jane@example.org,en,E-1,electricity,kWh,6,1,4711.5,2025-10-31\n"
    '200300400,Jane Doe,jane@example.org,en,G-1,gas,m3,5,3,"1.234,5",31.10.2025\n'
)


def write(tmp_path: Path, text: str, *, encoding: str = "utf-8", name: str = "md.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def counts(ctx: AppContext) -> tuple[int, int, int, int]:
    with ctx.sessions() as session:
        return tuple(  # type: ignore[return-value]
            session.scalar(select(func.count()).select_from(model)) or 0
            for model in (Customer, ContractAccount, Meter, Reading)
        )


def test_german_file_is_imported(ctx: AppContext, tmp_path: Path) -> None:
    report = import_csv(ctx, write(tmp_path, GERMAN), progress=False)
    assert (report.rows, report.created, report.readings_added) == (3, 3, 3)
    assert report.errors == []
    assert counts(ctx) == (2, 2, 3, 3)
    with ctx.sessions() as session:
        meter = session.scalars(select(Meter).where(Meter.number == "GAS-0815")).one()
        assert (meter.kind, meter.unit, meter.integer_digits, meter.decimal_digits) == (
            "gas",
            "m3",
            5,
            3,
        )
        assert meter.account.number == "100200300"
        assert meter.account.customer.email == "erika@example.org"
        water = session.scalars(select(Reading).join(Meter).where(Meter.number == "W123")).one()
        assert water.value == Decimal("123.456")  # three decimals on the meter: not thousands
        assert (water.read_on, water.source) == (dt.date(2025, 10, 1), "import")
        power = session.scalars(select(Reading).where(Reading.meter_id != water.meter_id))
        assert {r.value for r in power} == {Decimal("12345.6"), Decimal("1234.567")}


def test_english_headers_comma_delimiter(ctx: AppContext, tmp_path: Path) -> None:
    report = import_csv(ctx, write(tmp_path, ENGLISH), progress=False)
    assert (report.created, report.errors) == (2, [])
    with ctx.sessions() as session:
        rows = session.execute(select(Meter.number, Reading.value).join(Reading.meter))
        values = {number: value for number, value in rows}
    assert values == {"E-1": Decimal("4711.5"), "G-1": Decimal("1234.5")}


def test_utf8_bom_and_cp1252(ctx: AppContext, tmp_path: Path) -> None:
    umlauts = GERMAN.replace("Erika Mustermann", "Jürgen Müßig")
    bom = import_csv(ctx, write(tmp_path, "\ufeff" + umlauts, name="bom.csv"), progress=False)
    assert (bom.created, bom.errors, bom.encoding) == (3, [], "utf-8")
    latin = umlauts.replace("100200300", "900200300").replace("1ESY", "9ESY").replace("GAS", "GAZ")
    latin = latin.replace("100200301", "900200301").replace("W123", "W999")
    excel = import_csv(ctx, write(tmp_path, latin, encoding="cp1252", name="x.csv"), progress=False)
    assert (excel.created, excel.errors, excel.encoding) == (3, [], "cp1252")
    with ctx.sessions() as session:
        names = set(session.scalars(select(Customer.name)))
    assert names == {"Jürgen Müßig", "John Smith"}


def test_bad_rows_are_reported_by_row_and_field_and_skipped(
    ctx: AppContext, tmp_path: Path
) -> None:
    bad = GERMAN + (
        "100200302;Ohne Mail;nope;de;X1;Strom;kWh;6;1;;\n"
        "100200303;Falsche Einheit;;;X2;Strom;m3;6;1;;\n"
        ";;;;;;;;;;\n"  # blank line from Excel: ignored
        "100200304;Zu groß;;de;X3;Strom;kWh;4;0;123456;01.01.2025\n"
        "100200305;Nur Stand;;de;X4;Wasser;m3;5;3;12,5;\n"
        "100200306;Zukunft;;de;X5;Wärme;kWh;6;0;1;01.01.2030\n"
        "100200307;Digits;;de;X6;Gas;m3;sechs;0;;\n"
    )
    report = import_csv(ctx, write(tmp_path, bad), progress=False)
    found = [(e.row, e.field) for e in report.errors]
    assert found == [
        (5, "email"),
        (6, "einheit"),
        (8, "letzter_stand"),
        (9, "letzter_stand_datum"),
        (10, "letzter_stand_datum"),
        (11, "vorkommastellen"),
    ]
    assert report.created == 3
    assert counts(ctx)[2] == 3
    summary = report.summary()
    assert "6 fehlerhafte Zeilen" in summary
    assert "Zeile 5, Feld 'email'" in summary


def test_missing_required_column_fails_the_file(ctx: AppContext, tmp_path: Path) -> None:
    text = "vertragskonto;name;email\n1;A;a@example.org\n"
    with pytest.raises(ImportRowError) as info:
        import_csv(ctx, write(tmp_path, text), progress=False)
    assert info.value.row == 1 and info.value.field == "zaehlernummer"


def test_rows_contradicting_earlier_rows_are_rejected(ctx: AppContext, tmp_path: Path) -> None:
    text = GERMAN + (
        "100200300;Erika Anders;erika@example.org;de;E-2;Strom;kWh;6;1;;\n"
        "100200301;John Smith;john@example.org;en;1ESY1160123456;Strom;kWh;6;1;;\n"
    )
    report = import_csv(ctx, write(tmp_path, text), progress=False)
    assert [(e.row, e.field) for e in report.errors] == [(5, "name"), (6, "vertragskonto")]
    assert "Zeile 2" in str(report.errors[0])


def test_one_row_per_register(ctx: AppContext, tmp_path: Path) -> None:
    text = (
        "vertragskonto;name;zaehlernummer;art;einheit;vorkommastellen;register;letzter_stand;"
        "letzter_stand_datum\n"
        "1;Max;HTNT;Strom;kWh;6;1.8.1;100;01.10.2025\n"
        "1;Max;HTNT;Strom;kWh;6;1.8.2;50;01.10.2025\n"
    )
    report = import_csv(ctx, write(tmp_path, text), progress=False)
    assert (report.created, report.readings_added, report.errors) == (1, 2, [])
    with ctx.sessions() as session:
        assert session.scalars(select(Meter.registers)).one() == "1.8.1,1.8.2"
        assert set(session.scalars(select(Reading.register))) == {"1.8.1", "1.8.2"}


def test_repeated_rows_bring_a_meters_reading_history(ctx: AppContext, tmp_path: Path) -> None:
    text = (
        "vertragskonto;name;zaehlernummer;art;einheit;vorkommastellen;register;letzter_stand;"
        "letzter_stand_datum\n"
        "1;Max;W-1;Wasser;m3;5;;100;01.11.2024\n"
        "1;Max;W-1;Wasser;m3;5;;150;01.05.2025\n"
        "1;Max;W-1;Wasser;m3;5;;210;01.11.2025\n"
        "1;Max;W-1;Wasser;m3;5;;999;01.11.2025\n"  # a second value for the same day
        "1;Max;W-1;Wasser;m3;5;;;\n"  # a repeated register without a reading
    )
    report = import_csv(ctx, write(tmp_path, text), progress=False)
    assert [(e.row, e.field) for e in report.errors] == [(5, "register"), (6, "register")]
    assert (report.created, report.readings_added) == (1, 3)
    with ctx.sessions() as session:
        assert session.scalars(select(Meter.registers)).one() == "1.8.0"
        history = session.execute(select(Reading.read_on, Reading.value).order_by(Reading.read_on))
        assert [(d.isoformat(), int(v)) for d, v in history] == [
            ("2024-11-01", 100), ("2025-05-01", 150), ("2025-11-01", 210),
        ]  # fmt: skip


def test_display_kind_is_imported_and_rows_of_a_meter_agree_on_it(
    ctx: AppContext, tmp_path: Path
) -> None:
    text = (
        "vertragskonto;name;zaehlernummer;art;einheit;vorkommastellen;register;Anzeige\n"
        "1;Max;E-LCD;Strom;kWh;6;1.8.1;Digital\n"
        "1;Max;E-LCD;Strom;kWh;6;1.8.2;LCD\n"
        "1;Max;E-FERRARIS;Strom;kWh;6;1.8.0;Rollenzählwerk\n"
        "1;Max;E-UNKNOWN;Strom;kWh;6;1.8.0;\n"
        "1;Max;E-BAD;Strom;kWh;6;1.8.0;Zeiger\n"
        "1;Max;E-FERRARIS;Strom;kWh;6;1.8.2;digital\n"
    )
    report = import_csv(ctx, write(tmp_path, text), progress=False)
    assert [(e.row, e.field) for e in report.errors] == [(6, "Anzeige"), (7, "anzeige")]
    assert "erlaubt" in str(report.errors[0]) and "Zeile 4" in str(report.errors[1])
    with ctx.sessions() as session:
        displays = {row.number: row.display for row in session.execute(select(Meter)).scalars()}
    assert displays == {"E-LCD": "lcd", "E-FERRARIS": "drum", "E-UNKNOWN": None}


def test_a_meter_without_display_kind_is_shown_on_its_kinds_usual_counter() -> None:
    assert [shown_on(kind, None) for kind in ("water", "gas", "heat", "electricity")] == [
        "drum", "drum", "lcd", None,
    ]  # fmt: skip
    assert (shown_on("water", "lcd"), shown_on("electricity", "drum")) == ("lcd", "drum")


def test_reimport_is_idempotent_and_updates(ctx: AppContext, tmp_path: Path) -> None:
    import_csv(ctx, write(tmp_path, GERMAN), progress=False)
    again = import_csv(ctx, write(tmp_path, GERMAN), progress=False)
    assert (again.created, again.updated, again.unchanged, again.readings_added) == (0, 0, 3, 0)
    assert counts(ctx) == (2, 2, 3, 3)
    changed = GERMAN.replace("john@example.org", "john@new.example").replace(
        "123.456;01.10.2025", "130.000;01.11.2025"
    )
    report = import_csv(ctx, write(tmp_path, changed), progress=False)
    assert (report.created, report.updated, report.unchanged, report.readings_added) == (0, 1, 2, 1)
    assert counts(ctx) == (2, 2, 3, 4)
    with ctx.sessions() as session:
        emails = set(session.scalars(select(Customer.email)))
    assert emails == {"erika@example.org", "john@new.example"}


def test_many_rows_in_several_chunks(ctx: AppContext, tmp_path: Path) -> None:
    header = GERMAN.split("\n", 1)[0] + "\n"
    lines = [
        f"{300000 + i // 2};Kunde {i // 2};k{i // 2}@example.org;de;Z{i:07d};Strom;kWh;6;1;"
        f"{i},5;01.10.2025\n"
        for i in range(2500)
    ]
    path = write(tmp_path, header + "".join(lines))
    report = import_csv(ctx, path, progress=True)
    assert (report.rows, report.created, report.readings_added) == (2500, 2500, 2500)
    assert counts(ctx) == (1250, 1250, 2500, 2500)
    again = import_csv(ctx, path, progress=False)
    assert (again.unchanged, again.readings_added) == (2500, 0)
    assert counts(ctx) == (1250, 1250, 2500, 2500)


def test_format_helpers() -> None:
    assert sniff_delimiter("a;b;c") == ";" and sniff_delimiter("a,b,c") == ","
    assert canonical(" Zählernummer ") == "zaehlernummer"
    assert canonical("Contract Account") == "vertragskonto"
    assert parse_amount("12.345", 0) == Decimal("12345")
    assert parse_amount("12.345", 3) == Decimal("12.345")
    assert parse_amount("1.234,5", 1) == Decimal("1234.5")


def test_installment_and_tariff_are_imported_and_checked(ctx: AppContext, tmp_path: Path) -> None:
    text = (
        "vertragskonto;name;zaehlernummer;art;einheit;vorkommastellen;abschlag;arbeitspreis;"
        "grundpreis\n"
        "1;Max;E-1;Strom;kWh;6;85,50 €;0,3215;148,80\n"
        "1;Max;G-1;Gas;m3;5;85,50;1,12;\n"
        "2;Eva;E-2;Strom;kWh;6;-5;0,30;\n"
        "3;Udo;E-3;Strom;kWh;6;40;0,123456;\n"
        "1;Max;E-4;Strom;kWh;6;90;0,30;\n"
    )
    report = import_csv(ctx, write(tmp_path, text), progress=False)
    assert report.created == 2
    assert [(error.row, error.field) for error in report.errors] == [
        (4, "abschlag"), (5, "arbeitspreis"), (6, "abschlag")]  # fmt: skip
    with ctx.sessions() as session:
        account = session.scalars(select(ContractAccount)).one()
        assert account.monthly_installment == Decimal("85.50")
        prices = {m.number: (m.unit_price, m.base_price) for m in session.scalars(select(Meter))}
    assert prices == {"E-1": (Decimal("0.3215"), Decimal("148.80")), "G-1": (Decimal("1.12"), None)}


def test_a_heat_meter_counts_in_kwh_mwh_or_gj(ctx: AppContext, tmp_path: Path) -> None:
    heat = (
        "vertragskonto;name;zaehlernummer;art;einheit;vorkommastellen;nachkommastellen\n"
        "1;Max;WMZ-1;Wärme;MWh;5;3\n"
        "1;Max;WMZ-2;Wärme;GJ;4;3\n"
        "1;Max;E-1;Strom;MWh;6;0\n"
        "1;Max;WMZ-3;Wärme;m3;5;3\n"
    )
    report = import_csv(ctx, write(tmp_path, heat), progress=False)
    assert [str(e) for e in report.errors] == [
        "Zeile 4, Feld 'einheit': 'MWh': passt nicht zur Art Strom (erwartet kWh)",
        "Zeile 5, Feld 'einheit': 'm3': passt nicht zur Art Wärme (erwartet kWh, MWh oder GJ)",
    ]
    with ctx.sessions() as session:
        units = {m.number: m.unit for m in session.scalars(select(Meter))}
    assert units == {"WMZ-1": "MWh", "WMZ-2": "GJ"}


def test_a_row_billing_wrote_twice_is_skipped_as_a_duplicate_not_an_error(
    ctx: AppContext, tmp_path: Path
) -> None:
    lines = GERMAN.splitlines(keepends=True)
    text = "".join([*lines, lines[3], lines[1]])  # rows 5 and 6 repeat rows 4 and 2
    report = import_csv(ctx, write(tmp_path, "\ufeff" + text), progress=False)
    assert (report.errors, report.duplicates) == ([], [(5, 4), (6, 2)])
    assert counts(ctx) == (2, 2, 3, 3)
    assert report.summary().splitlines() == [
        "Import: 5 Zeilen gelesen (utf-8); Zähler: 3 neu, 0 geändert, 0 unverändert; "
        "3 Zählerstände übernommen; 2 doppelte Zeilen und 0 fehlerhafte Zeilen übersprungen.",
        "  Zeile 5: gleich wie Zeile 4, übersprungen",
        "  Zeile 6: gleich wie Zeile 2, übersprungen",
    ]
    again = lines[1].replace("12.345,6", "12.345,7")  # same meter and date, another value
    report = import_csv(ctx, write(tmp_path, "".join([*lines, again])), progress=False)
    [error] = report.errors
    assert (error.row, report.duplicates) == (5, [])
    assert "1 fehlerhafte Zeile übersprungen" in report.summary()
    single = import_csv(ctx, write(tmp_path, "".join(lines[:2])), progress=False)
    assert single.summary().startswith("Import: 1 Zeile gelesen (utf-8); Zähler: ")
