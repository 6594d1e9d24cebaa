"""The command line maps our errors to an exit code and one line for a person, never a traceback."""

from __future__ import annotations

import mailbox
import re
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from app.cli import main
from core.errors import DatabaseError, MailboxError, UsageError
from tests.ports import free_port


def _env(monkeypatch: pytest.MonkeyPatch, var: Path, database_url: str = "") -> None:
    monkeypatch.setenv("METER_INTAKE_VAR_DIR", str(var))
    monkeypatch.setenv("METER_INTAKE_DATABASE_URL", database_url)
    monkeypatch.chdir(var.parent)  # no .env of the developer's


def _error_lines(stderr: str) -> list[str]:
    """What the person sees besides the log: the lines that are not log records."""
    assert "Traceback" not in stderr
    return [line for line in stderr.splitlines() if not re.match(r"\d{4}-\d\d-\d\d ", line)]


def test_an_unwritable_export_file_is_a_usage_error_in_one_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _env(monkeypatch, tmp_path / "var")
    target = tmp_path / "fehlt" / "zaehlerstaende.csv"
    assert main(["export", "readings", "--since", "01.01.2026", "-o", str(target)]) == 2
    assert UsageError.exit_code == 2
    (message,) = _error_lines(capsys.readouterr().err)
    assert message == (
        f"Fehler: Datei kann nicht geschrieben werden: {target} "
        "(Datei oder Verzeichnis nicht gefunden)"
    )


def test_an_unreachable_database_gives_its_exit_code_in_one_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    nobody_listens = free_port()
    closed = make_url("postgresql+psycopg://postgres@127.0.0.1/x").set(port=nobody_listens)
    _env(monkeypatch, tmp_path / "var", closed.render_as_string())
    assert main(["worker", "--once"]) == DatabaseError.exit_code
    (message,) = _error_lines(capsys.readouterr().err)
    assert message.startswith("Fehler: Datenbank nicht erreichbar")


def test_export_new_writes_a_whole_file_and_counts_in_german(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _env(monkeypatch, tmp_path / "var")
    target = tmp_path / "zaehlerstaende.csv"
    assert main(["export", "readings", "-o", str(target)]) == 2
    assert _error_lines(capsys.readouterr().err) == ["Fehler: --since DATUM oder --new angeben"]
    assert main(["export", "readings", "--new", "--mark", "-o", str(target)]) == 0
    assert _error_lines(capsys.readouterr().err) == ["0 Zählerstände exportiert."]
    assert target.read_text(encoding="utf-8").startswith("vertragskonto;")
    assert sorted(path.name for path in tmp_path.iterdir()) == ["var", "zaehlerstaende.csv"]


def test_a_var_dir_that_cannot_be_made_is_one_line_not_a_traceback(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "datei").write_text("kein Verzeichnis")
    _env(monkeypatch, tmp_path / "var")
    monkeypatch.setenv("METER_INTAKE_VAR_DIR", str(tmp_path / "datei" / "var"))
    assert main(["db", "upgrade"]) == 1
    (message,) = _error_lines(capsys.readouterr().err)
    assert message.startswith(
        f"Fehler: {tmp_path / 'datei' / 'var'}: Ist kein Verzeichnis – Rechte"
    )


def test_a_campaign_start_shows_its_progress_not_a_line_per_mail(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _env(monkeypatch, tmp_path / "var")
    rows = [f"{700000 + i};Kunde {i};k{i}@example.org;Z-{i};Wasser;m3;5\n" for i in range(3)]
    master = tmp_path / "stammdaten.csv"
    master.write_text("vertragskonto;name;email;zaehlernummer;art;einheit;vorkommastellen\n"
                      + "".join(rows), encoding="utf-8")  # fmt: skip
    assert main(["import", str(master), "--quiet"]) == 0
    capsys.readouterr()
    window = ["--due-from", "01.01.2030", "--due-to", "31.01.2030"]
    assert main(["campaign", "start", "Jahresablesung", *window]) == 0
    out, err = capsys.readouterr()
    assert "3 Erinnerungen für 3 Zähler eingeplant" in out
    assert "Kampagne: 100%" in err and "3/3" in err
    assert "queued reminder" not in err


def test_worker_once_exits_non_zero_in_one_line_when_the_imap_server_is_down(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _env(monkeypatch, tmp_path / "var")
    monkeypatch.setenv("METER_INTAKE_MAILBOX", "imap")
    monkeypatch.setenv("METER_INTAKE_IMAP_HOST", "127.0.0.1")
    monkeypatch.setenv("METER_INTAKE_IMAP_PORT", str(free_port()))
    monkeypatch.setenv("METER_INTAKE_IMAP_SECURITY", "none")
    monkeypatch.setenv("METER_INTAKE_IMAP_TIMEOUT_SECONDS", "2")
    assert main(["worker", "--once"]) == MailboxError.exit_code == 5
    (message,) = _error_lines(capsys.readouterr().err)
    assert message.startswith("Fehler: Postfach nicht abgeholt: MailboxError: ")


def test_worker_once_exits_non_zero_when_the_maildir_cannot_be_read(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _env(monkeypatch, tmp_path / "var")
    maildir = tmp_path / "mail"
    for sub in ("cur", "tmp"):
        (maildir / sub).mkdir(parents=True)
    (maildir / "new").write_text("kein Ordner")  # unreadable as a folder, also for root
    monkeypatch.setenv("METER_INTAKE_MAILDIR_PATH", str(maildir))
    assert main(["worker", "--once"]) == MailboxError.exit_code
    (message,) = _error_lines(capsys.readouterr().err)
    assert message == (
        f"Fehler: Postfach nicht abgeholt: MailboxError: Maildir {maildir} nicht lesbar: "
        f"{maildir / 'new'}: Ist kein Verzeichnis"
    )


def test_worker_once_exits_zero_after_a_pass_that_fetched(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _env(monkeypatch, tmp_path / "var")
    assert main(["worker", "--once"]) == 0
    assert _error_lines(capsys.readouterr().err) == []


@pytest.mark.parametrize(
    ("argv", "shown"),
    [
        (["--help"], "Aufruf: meter-intake [-h] BEFEHL ..."),
        (
            ["campaign", "start", "--help"],
            "--due-from DATE   fällig ab (TT.MM.JJJJ oder JJJJ-MM-TT)",
        ),
        (["serve", "--help"], "-h, --help   diese Hilfe zeigen und beenden"),
    ],
)
def test_help_is_german(argv: list[str], shown: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        main(argv)
    out = capsys.readouterr().out
    assert stop.value.code == 0 and shown in out
    assert "usage:" not in out and "options:" not in out and "show this help" not in out


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        ([], "meter-intake: Fehler: diese Angaben fehlen: BEFEHL"),
        (["campaign", "stop", "X"], "Fehler: BEFEHL: 'stop' gibt es nicht ('start', 'pause'"),
        (["campaign", "start", "X"], "Fehler: diese Angaben fehlen: --due-from, --due-to"),
        (["worker", "--bogus"], "meter-intake: Fehler: unbekannte Angaben: --bogus"),
        (["read", "--integer-digits", "x", "a.jpg"], "Fehler: --integer-digits: 'x' ist keine"),
        (["export", "readings", "--since", "gestern"], "Fehler: --since: kein Datum: 'gestern'"),
    ],
)
def test_a_wrong_command_line_is_answered_in_german(
    argv: list[str], said: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as stop:
        main(argv)
    err = capsys.readouterr().err
    assert stop.value.code == 2 and said in err and err.startswith("Aufruf: meter-intake")


def _deliver_text_mail(maildir: Path) -> None:
    message = EmailMessage()
    message["From"] = "Max Müller <max.mueller@example.org>"
    message["To"] = "zaehlerstand@stadtwerke.example"
    message["Subject"] = "Zählerstand Gas"
    message.set_content("Hallo,\nder Gaszähler steht bei 4187,236 m³.\nGruß Max Müller")
    maildir.parent.mkdir(parents=True, exist_ok=True)
    mailbox.Maildir(maildir, create=True).add(message)


def test_worker_refuses_a_configured_maildir_that_does_not_exist(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    database_url: str,
) -> None:
    _env(monkeypatch, tmp_path / "var", database_url)
    typo = tmp_path / "srv" / "mial"
    monkeypatch.setenv("METER_INTAKE_MAILDIR_PATH", str(typo))
    assert main(["worker", "--once"]) == MailboxError.exit_code
    out, err = capsys.readouterr()
    (message,) = _error_lines(err)
    assert message == (
        f"Fehler: Maildir {typo} gibt es nicht (METER_INTAKE_MAILDIR_PATH): Pfad prüfen "
        f"oder das Maildir anlegen (mkdir -p {typo}/new {typo}/cur {typo}/tmp)"
    )
    assert out == "" and not (tmp_path / "srv").exists()


def test_worker_once_makes_the_default_maildir_and_one_named_like_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _env(monkeypatch, tmp_path / "var")
    monkeypatch.setenv("METER_INTAKE_MAILDIR_PATH", str(tmp_path / "var" / "." / "mail"))
    assert main(["worker", "--once", "--quiet"]) == 0
    assert (tmp_path / "var" / "mail" / "new").is_dir()
    assert _error_lines(capsys.readouterr().err) == []


def test_worker_once_prints_one_summary_line_unless_quiet(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    database_url: str,
) -> None:
    _env(monkeypatch, tmp_path / "var", database_url)
    _deliver_text_mail(tmp_path / "var" / "mail")
    assert main(["worker", "--once"]) == 0
    out, err = capsys.readouterr()
    assert re.fullmatch(r"1 Mail verarbeitet: 0 angenommen, 1 zur Prüfung, 0 abgelehnt\n", out), out
    assert _error_lines(err) == []
    _deliver_text_mail(tmp_path / "var" / "mail")
    assert main(["worker", "--once", "--quiet"]) == 0
    assert capsys.readouterr().out == ""


def test_a_missing_import_file_is_named_in_german(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _env(monkeypatch, tmp_path / "var")
    missing = tmp_path / "stammdatn.csv"
    assert main(["import", str(missing), "--quiet"]) == UsageError.exit_code
    (message,) = _error_lines(capsys.readouterr().err)
    assert message == (
        f"Fehler: Datei kann nicht gelesen werden: {missing} "
        "(Datei oder Verzeichnis nicht gefunden)"
    )
