"""Worker and review UI in one process (`meter-intake demo --serve`): both run, and both stop on
SIGTERM, the worker after its current step."""

from __future__ import annotations

import json
import mailbox
import os
import sys
import urllib.request
from dataclasses import replace
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select

from app import wiring
from core.context import AppContext
from core.errors import MailboxError
from core.models import InboundMessage
from tests.ports import free_port
from tests.processes import Service

REPO = Path(__file__).resolve().parents[1]
SERVE_WITH_WORKER = """
from app.context import migrated_context
from app.wiring import serve_with_worker
from core.logging_setup import configure_logging
from core.settings import load_settings

settings = load_settings()
configure_logging("INFO")
serve_with_worker(migrated_context(settings))
"""


def _mail() -> EmailMessage:
    message = EmailMessage()
    message["From"] = "Max Müller <max.mueller@example.org>"
    message["To"] = "zaehlerstand@stadtwerke.example"
    message["Subject"] = "Zählerstand Gas"
    message["Message-ID"] = "<wiring-check@example.org>"
    message.set_content("Hallo,\nder Gaszähler steht bei 4187,236 m³.\nGruß Max Müller")
    return message


def test_worker_and_ui_run_in_one_process_and_stop_together_on_sigterm(tmp_path: Path) -> None:
    var = tmp_path / "var"
    var.mkdir()
    mailbox.Maildir(var / "mail", create=True).add(_mail())
    port = free_port()
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "PYTHONPATH": str(REPO),
        "METER_INTAKE_VAR_DIR": str(var),
        "METER_INTAKE_UI_PORT": str(port),
        "METER_INTAKE_SMTP_ENABLED": "false",
    }
    both = Service([sys.executable, "-c", SERVE_WITH_WORKER], cwd=tmp_path, env=env)
    try:
        both.wait_for("Uvicorn running on", timeout=60)
        both.wait_for("Durchlauf:", timeout=120)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5) as response:
            assert json.load(response)["status"] == "up"
    finally:
        exit_code = both.stop()
    log = "".join(both.log)
    assert exit_code == 0, log
    assert "Finished server process" in log

    engine = create_engine(f"sqlite:///{var / 'meter-intake.sqlite3'}")
    with engine.connect() as conn:
        statuses = conn.scalars(select(InboundMessage.status)).all()
    engine.dispose()
    assert len(statuses) == 1 and statuses[0] not in {"new", "failed"}, statuses


def test_a_configured_maildir_that_does_not_exist_is_refused_before_the_ui_serves(
    ctx: AppContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    served: list[AppContext] = []
    monkeypatch.setattr(wiring, "serve", lambda ctx, **_where: served.append(ctx))
    typo = ctx.settings.var_dir.parent / "mial"
    misconfigured = replace(ctx, settings=ctx.settings.model_copy(update={"maildir_path": typo}))
    with pytest.raises(MailboxError, match="gibt es nicht"):
        wiring.serve_with_worker(misconfigured)
    assert served == [] and not typo.exists()
