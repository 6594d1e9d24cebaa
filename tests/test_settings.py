from __future__ import annotations

import re
from pathlib import Path

import pytest

from core.errors import ConfigError
from core.settings import Settings, load_settings, settings_markdown

DOC = Path(__file__).resolve().parents[1] / "docs" / "settings.md"


def test_every_setting_is_documented() -> None:
    text = DOC.read_text(encoding="utf-8")
    for name, field in Settings.model_fields.items():
        assert f"METER_INTAKE_{name.upper()}" in text, f"{name} missing in docs/settings.md"
        assert field.description, f"{name} has no description"
    assert text == settings_markdown(), "docs/settings.md is stale: run `python -m core.settings`"


def test_environment_overrides_defaults(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("METER_INTAKE_SMTP_PORT", "2525")
    monkeypatch.setenv("METER_INTAKE_VAR_DIR", str(tmp_path))
    settings = load_settings(_env_file=None)
    assert settings.smtp_port == 2525
    assert settings.effective_database_url == f"sqlite:///{tmp_path / 'meter-intake.sqlite3'}"
    assert settings.effective_maildir == tmp_path / "mail"


def test_bad_value_gives_one_readable_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("METER_INTAKE_SMTP_PORT", "siebzig")
    with pytest.raises(ConfigError, match="METER_INTAKE_SMTP_PORT"):
        load_settings(_env_file=None)


def test_cli_reports_bad_setting_without_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from app.cli import main

    monkeypatch.setenv("METER_INTAKE_MAILBOX", "pop3")
    assert main(["worker", "--once"]) == 2
    err = capsys.readouterr().err
    assert "METER_INTAKE_MAILBOX" in err and "Traceback" not in err


def test_empty_ca_file_means_system_cas(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("METER_INTAKE_IMAP_CA_FILE", "")
    monkeypatch.setenv("METER_INTAKE_SMTP_CA_FILE", "")
    settings = load_settings(_env_file=None)
    assert settings.imap_ca_file is None and settings.smtp_ca_file is None


def test_unreadable_ca_file_is_refused_at_start(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    not_pem = tmp_path / "ca.pem"
    not_pem.write_text("kein Zertifikat\n")
    monkeypatch.setenv("METER_INTAKE_SMTP_CA_FILE", str(not_pem))
    named = rf"METER_INTAKE_SMTP_CA_FILE: .*{re.escape(str(not_pem))}"
    with pytest.raises(ConfigError, match=named):
        load_settings(_env_file=None)
    monkeypatch.setenv("METER_INTAKE_SMTP_CA_FILE", str(tmp_path / "fehlt.pem"))
    with pytest.raises(ConfigError, match=r"METER_INTAKE_SMTP_CA_FILE: .*nicht lesbar"):
        load_settings(_env_file=None)


@pytest.mark.parametrize(
    ("overrides", "variable"),
    [
        ({"smtp_host": "mail.example.org", "smtp_user": "u", "smtp_security": "none"},
         "METER_INTAKE_SMTP_SECURITY"),
        ({"mailbox": "imap", "imap_host": "imap.example.org", "imap_security": "none"},
         "METER_INTAKE_IMAP_SECURITY"),
    ],
)  # fmt: skip
def test_passwords_never_go_out_unencrypted(overrides: dict[str, str], variable: str) -> None:
    with pytest.raises(ConfigError, match=variable):
        load_settings(_env_file=None, **overrides)
    loopback = {**overrides, "smtp_host": "127.0.0.1", "imap_host": "localhost"}
    assert load_settings(_env_file=None, **loopback)


@pytest.mark.parametrize(
    "url", ["postgres://nutzer:geheim@db/zaehler", "foo", "mysql://nutzer:geheim@db/zaehler"]
)
def test_a_database_url_we_cannot_use_is_refused_at_start_without_its_password(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], url: str
) -> None:
    from app.cli import main

    monkeypatch.setenv("METER_INTAKE_DATABASE_URL", url)
    assert main(["export", "readings", "--new"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("Fehler: Ungültige Einstellung: METER_INTAKE_DATABASE_URL: keine")
    assert "postgresql+psycopg://" in err and "geheim" not in err and "Traceback" not in err


def test_empty_directories_mean_the_var_dir_defaults(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("METER_INTAKE_VAR_DIR", str(tmp_path))
    monkeypatch.setenv("METER_INTAKE_MAILDIR_PATH", "")
    monkeypatch.setenv("METER_INTAKE_BLOB_DIR", "")
    settings = load_settings(_env_file=None)
    assert settings.effective_maildir == tmp_path / "mail"
    assert settings.effective_blob_dir == tmp_path / "blobs"
