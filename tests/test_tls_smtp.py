"""SMTP with STARTTLS and implicit TLS plus AUTH, against a real aiosmtpd server.

Every test that takes `smtp_tls_server` runs once per mode ("starttls", "ssl").
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlalchemy import select

from core.context import AppContext
from core.db import transaction
from core.models import Outbox
from core.settings import Settings, load_settings
from notifications.dispatch import send_due
from notifications.errors import TemporarySendError
from notifications.outbox import enqueue
from notifications.smtp import SmtpSender
from tests.conftest import FrozenClock
from tests.fixtures_smtp import SmtpTestServer
from tests.fixtures_tls import Security, SmtpTlsServer, TlsCerts, serve_smtp_tls

WINDOW = {
    "meters": [{"number": "M1", "kind": "water"}],
    "due_from": dt.date(2026, 11, 1),
    "due_to": dt.date(2026, 11, 30),
}


def _settings(tmp_path: Path) -> Settings:
    return load_settings(var_dir=tmp_path, _env_file=None)


def _message() -> EmailMessage:
    message = EmailMessage()
    message["From"] = "zaehlerstand@stadtwerke.example"
    message["To"] = "erika@example.org"
    message["Subject"] = "Ihr Zählerstand"
    message["Message-ID"] = "<tls-test@stadtwerke.example>"
    message.set_content("Danke für Ihren Zählerstand.")
    return message


def _queue_reminder(ctx: AppContext, key: str) -> None:
    with transaction(ctx.sessions) as session:
        assert enqueue(session, kind="reminder", recipient="erika@example.org", language="de",
                       context=WINDOW, idempotency_key=key, now=ctx.clock())  # fmt: skip


def _row(ctx: AppContext, key: str) -> Outbox:
    with ctx.sessions() as session:
        return session.scalars(select(Outbox).where(Outbox.idempotency_key == key)).one()


def test_sender_authenticates_and_delivers(smtp_tls_server: SmtpTlsServer, tmp_path: Path) -> None:
    SmtpSender(smtp_tls_server.settings_for(_settings(tmp_path))).send(_message())
    [mail] = smtp_tls_server.wait_for(1)
    assert mail["Message-ID"] == "<tls-test@stadtwerke.example>"
    assert smtp_tls_server.received[0].rcpt_tos == ("erika@example.org",)
    assert smtp_tls_server.logins == ["zaehlerstand"]


def test_send_due_delivers_and_marks_the_row_sent(
    ctx: AppContext, smtp_tls_server: SmtpTlsServer
) -> None:
    tls_ctx = dataclasses.replace(ctx, settings=smtp_tls_server.settings_for(ctx.settings))
    _queue_reminder(tls_ctx, "reminder:tls")
    report = send_due(tls_ctx)
    assert (report.sent, report.retried, report.failed) == (1, 0, 0)
    [mail] = smtp_tls_server.wait_for(1)
    row = _row(tls_ctx, "reminder:tls")
    assert row.status == "sent" and row.message_id == mail["Message-ID"]


def test_wrong_password_is_retried_then_failed(
    ctx: AppContext, smtp_tls_server: SmtpTlsServer, clock: FrozenClock
) -> None:
    """AUTH refused (535) is a configuration problem: temporary, retried until the limit."""
    settings = smtp_tls_server.settings_for(ctx.settings, password="falsch")
    tls_ctx = dataclasses.replace(
        ctx, settings=settings.model_copy(update={"send_max_attempts": 2})
    )
    _queue_reminder(tls_ctx, "reminder:auth")
    assert send_due(tls_ctx).retried == 1
    row = _row(tls_ctx, "reminder:auth")
    assert row.status == "pending" and row.attempts == 1
    assert row.last_error is not None and "SMTPAuthenticationError: 535" in row.last_error
    clock.advance(seconds=tls_ctx.settings.send_retry_base_seconds)
    assert send_due(tls_ctx).failed == 1
    assert _row(tls_ctx, "reminder:auth").status == "failed"
    assert set(smtp_tls_server.refused_logins) == {"zaehlerstand"}  # smtplib tries PLAIN, LOGIN
    assert smtp_tls_server.logins == []
    assert smtp_tls_server.received == []


def test_untrusted_certificate_is_a_send_error(
    smtp_tls_server: SmtpTlsServer, tmp_path: Path
) -> None:
    settings = smtp_tls_server.settings_for(_settings(tmp_path), trust=False)  # system CAs only
    where = f"{smtp_tls_server.host}:{smtp_tls_server.port}"
    with pytest.raises(
        TemporarySendError, match=rf"{where} fehlgeschlagen: Serverzertifikat nicht"
    ):
        SmtpSender(settings).send(_message())
    assert smtp_tls_server.logins == [] and smtp_tls_server.refused_logins == []  # no password sent
    assert smtp_tls_server.received == []


@pytest.mark.parametrize("security", ["starttls", "ssl"])
def test_certificate_for_another_host_is_refused(
    tls_certs: TlsCerts, security: Security, tmp_path: Path
) -> None:
    """Signed by the trusted CA, but for mail.elsewhere.example: the host name check holds."""
    mismatch = re.escape("certificate is not valid for '127.0.0.1'")
    with serve_smtp_tls(tls_certs, security, other_host=True) as server:
        with pytest.raises(TemporarySendError, match=mismatch):
            SmtpSender(server.settings_for(_settings(tmp_path))).send(_message())
        assert server.logins == [] and server.received == []


def test_starttls_not_offered_is_a_send_error(smtp_server: SmtpTestServer, tmp_path: Path) -> None:
    """No silent fall-back to plaintext when the server lacks STARTTLS."""
    update = {"smtp_security": "starttls", "smtp_user": "zaehlerstand", "smtp_password": "x"}
    settings = smtp_server.settings_for(_settings(tmp_path)).model_copy(update=update)
    with pytest.raises(TemporarySendError, match="STARTTLS"):
        SmtpSender(settings).send(_message())
    assert smtp_server.received == []
