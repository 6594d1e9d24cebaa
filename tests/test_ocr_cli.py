"""`meter-intake read`: one JSON line per image, in order, also for files nobody can read."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from ocr.cli import run_read
from ocr.synth import encode_jpeg, render_drum_meter, render_lcd_meter

KEYS = {"file", "reading", "fraction", "confidence", "accepted", "meter_number", "seconds"}


@pytest.fixture(scope="module")
def photos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("photos")
    good = folder / "zaehler.jpg"
    good.write_bytes(encode_jpeg(render_drum_meter("00472", "315", seed=1, meter_number="1234567")))
    broken = folder / "kaputt.jpg"
    broken.write_bytes(b"\xff\xd8\xff\xe0 definitely not a jpeg")
    return {"good": good, "broken": broken, "missing": folder / "fehlt.jpg"}


def test_json_lines_in_argument_order(photos: dict[str, Path]) -> None:
    out = io.StringIO()
    paths = [str(photos["missing"]), str(photos["good"]), str(photos["broken"])]
    code = run_read(paths, integer_digits=5, as_json=True, out=out)
    records = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [r["file"] for r in records] == paths
    assert all(set(r) >= KEYS for r in records)
    missing, good, broken = records
    assert (missing["reading"], missing["reason"]) == (None, "file_not_found")
    assert (good["reading"], good["fraction"], good["accepted"]) == ("00472", "315", True)
    assert "reason" not in good
    assert (broken["reading"], broken["reason"]) == (None, "image_corrupt")
    assert code == 1  # not every image gave a reading


def test_exit_code_zero_when_everything_was_read(photos: dict[str, Path]) -> None:
    out = io.StringIO()
    assert run_read([str(photos["good"])], integer_digits=5, as_json=True, out=out) == 0
    assert len(out.getvalue().splitlines()) == 1


def test_table_lines_for_people(photos: dict[str, Path]) -> None:
    out = io.StringIO()
    run_read([str(photos["good"]), str(photos["broken"])], integer_digits=5, as_json=False, out=out)
    good, broken = out.getvalue().splitlines()
    assert "Stand 00472,315" in good and "akzeptiert" in good
    assert "nicht lesbar" in broken and "image_corrupt" in broken


def test_cli_entry_point_prints_json(
    photos: dict[str, Path], capsys: pytest.CaptureFixture
) -> None:
    from app.cli import main

    try:
        code = main(["read", "--json", "--integer-digits", "5", str(photos["good"])])
    except SystemExit as exc:  # argparse-style entry points may exit
        code = int(exc.code or 0)
    assert code == 0
    [line] = capsys.readouterr().out.splitlines()
    assert json.loads(line)["reading"] == "00472"


def test_the_display_kind_is_passed_from_the_command_line(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    from app.cli import main

    photo = tmp_path / "strom.jpg"
    photo.write_bytes(encode_jpeg(render_lcd_meter("18342", "7", seed=11, angle=-6)))
    shown = {}
    for display in ("drum", "lcd"):
        main(["read", "--json", "--integer-digits", "6", "--display", display, str(photo)])
        record = json.loads(capsys.readouterr().out)
        shown[display] = (record["reading"], record["fraction"])
    assert shown["lcd"] == ("18342", "7")
    assert shown["drum"] != shown["lcd"]  # the decimal read as a sixth drum


def test_hypotheses_are_listed_as_candidates_surest_first(
    photos: dict[str, Path], capsys: pytest.CaptureFixture
) -> None:
    from app.cli import main

    args = ["read", "--json", "--hypothesis", "6:lcd", "--hypothesis", "5:drum"]
    assert main([*args, "--hypothesis", "-", str(photos["good"]), str(photos["missing"])]) == 1
    good, missing = (json.loads(line) for line in capsys.readouterr().out.splitlines())
    first, *others = good["candidates"]
    assert (first["integer_digits"], first["display"], first["reading"]) == (5, "drum", "00472")
    assert first["accepted"] and good["reading"] == "00472" and good["accepted"]
    assert {(c["integer_digits"], c["display"]) for c in others} == {(6, "lcd"), (None, None)}
    assert all(c["confidence"] <= first["confidence"] for c in others)
    assert (missing["reason"], missing["candidates"]) == ("file_not_found", [])


def test_a_malformed_hypothesis_is_refused_with_a_message(
    photos: dict[str, Path], capsys: pytest.CaptureFixture
) -> None:
    from app.cli import main

    with pytest.raises(SystemExit) as exited:
        main(["read", "--hypothesis", "5:gas", str(photos["good"])])
    assert exited.value.code == 2
    assert "keine Annahme" in capsys.readouterr().err


def test_without_a_digit_count_the_reads_under_each_count_are_listed(
    photos: dict[str, Path],
) -> None:
    out = io.StringIO()
    run_read([str(photos["good"])], integer_digits=None, as_json=True, out=out)
    record = json.loads(out.getvalue())
    first, *others = record["candidates"]
    assert (record["reading"], record["fraction"]) == ("00472", "315")
    assert (first["integer_digits"], first["reading"], first["display"]) == (5, "00472", "drum")
    assert first["evidence"] > 0.5 > max(c["evidence"] for c in others)
    assert sorted(c["integer_digits"] for c in record["candidates"]) == [4, 5, 6, 7, 8]
