"""The SMTP wrapper against a real aiosmtpd server, and the headers of what we send."""

from __future__ import annotations

import datetime as dt
import socket
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import pytest

from core.models import Outbox
from core.settings import Settings, load_settings
from notifications.errors import InvalidRecipientError, PermanentSendError, TemporarySendError
from notifications.headers import make_message_id
from notifications.render import render
from notifications.smtp import SmtpSender, build_message
from tests.fixtures_smtp import SmtpTestServer

NOW = dt.datetime(2026, 11, 20, 9, 30, tzinfo=dt.UTC)
MAIL_FROM = "Zählerstand <zaehlerstand@stadtwerke.example>"


def _row(kind: str = "resend_request", **overrides: object) -> Outbox:
    mail = render("resend_request", "de", {"reason": "unreadable", "customer_name": "Jörg"})
    values: dict[str, object] = {
        "kind": kind, "recipient": "joerg@example.org", "language": "de",
        "subject": mail.subject, "body_text": mail.text, "body_html": mail.html,
        "idempotency_key": "resend_request:42", "in_reply_to": "<abc@customer.example>",
    }  # fmt: skip
    values.update(overrides)
    return Outbox(**values)


@pytest.fixture
def smtp_settings(tmp_path: Path, smtp_server: SmtpTestServer) -> Settings:
    return smtp_server.settings_for(load_settings(var_dir=tmp_path, _env_file=None))


def _message(to: str = "joerg@example.org") -> EmailMessage:
    return build_message(_row(recipient=to), mail_from=MAIL_FROM, now=NOW)


def test_reply_carries_threading_and_loop_headers() -> None:
    message = build_message(_row(), mail_from=MAIL_FROM, now=NOW)
    assert message["To"] == "joerg@example.org"
    assert message["Auto-Submitted"] == "auto-replied"
    assert message["X-Auto-Response-Suppress"] == "All"
    assert message["In-Reply-To"] == "<abc@customer.example>"
    assert message["References"] == "<abc@customer.example>"
    assert message["Date"] == "Fri, 20 Nov 2026 09:30:00 +0000"
    assert message["Content-Language"] == "de"
    assert message.get_content_type() == "multipart/alternative"
    types = [part.get_content_type() for part in message.iter_parts()]
    assert types == ["text/plain", "text/html"]


def test_reminder_is_auto_generated_and_not_threaded() -> None:
    message = build_message(_row(kind="reminder", in_reply_to=None), mail_from=MAIL_FROM, now=NOW)
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["In-Reply-To"] is None and message["References"] is None


def test_message_id_is_derived_from_the_idempotency_key() -> None:
    first = build_message(_row(), mail_from=MAIL_FROM, now=NOW)
    again = build_message(_row(), mail_from=MAIL_FROM, now=NOW + dt.timedelta(hours=1))
    other = build_message(_row(idempotency_key="resend_request:43"), mail_from=MAIL_FROM, now=NOW)
    assert first["Message-ID"] == again["Message-ID"] != other["Message-ID"]
    assert first["Message-ID"] == make_message_id("resend_request:42", MAIL_FROM)
    assert str(first["Message-ID"]).endswith("@stadtwerke.example>")


def test_umlaut_subject_and_sender_are_rfc2047_encoded() -> None:
    raw = build_message(_row(), mail_from=MAIL_FROM, now=NOW).as_bytes()
    headers = raw.split(b"\r\n\r\n", 1)[0] if b"\r\n\r\n" in raw else raw.split(b"\n\n", 1)[0]
    headers.decode("ascii")  # every header line is plain ASCII
    assert b"=?utf-8?" in headers


def test_stored_subject_with_line_breaks_cannot_inject_headers() -> None:
    row = _row(subject="Hallo\r\nBcc: victim@example.org\nX-Evil: 1")
    message = build_message(row, mail_from=MAIL_FROM, now=NOW)
    assert message["Bcc"] is None and message["X-Evil"] is None
    assert message["Subject"] == "Hallo Bcc: victim@example.org X-Evil: 1"


@pytest.mark.parametrize("recipient", ["a@example.org\r\nBcc: x@evil.example", "Jörg <j@x.de>"])
def test_bad_stored_recipient_is_refused(recipient: str) -> None:
    with pytest.raises(InvalidRecipientError):
        build_message(_row(recipient=recipient), mail_from=MAIL_FROM, now=NOW)


def test_sender_delivers_to_a_real_server(
    smtp_settings: Settings, smtp_server: SmtpTestServer
) -> None:
    SmtpSender(smtp_settings).send(_message())
    [received] = smtp_server.wait_for(1)
    assert received["Subject"] == "Bitte senden Sie uns ein deutlicheres Foto Ihres Zählers"
    assert smtp_server.received[0].rcpt_tos == ("joerg@example.org",)
    # the envelope sender names the mail (VERP), so a bounce can be attributed
    assert smtp_server.received[0].mail_from.startswith("zaehlerstand+bounce-")
    text = received.get_body(preferencelist=("plain",))
    html = received.get_body(preferencelist=("html",))
    assert text is not None and "Guten Tag Jörg," in text.get_content()
    assert html is not None and "<li>" in html.get_content()


def test_temporary_rejection_is_distinguishable(
    smtp_settings: Settings, smtp_server: SmtpTestServer
) -> None:
    smtp_server.script("451 4.3.0 Mailbox busy, try later")
    with pytest.raises(TemporarySendError) as caught:
        SmtpSender(smtp_settings).send(_message())
    assert caught.value.code == 451 and not caught.value.permanent
    assert smtp_server.messages == []


def test_permanent_rejections_of_data_and_recipient(
    smtp_settings: Settings, smtp_server: SmtpTestServer
) -> None:
    smtp_server.script("550 5.7.1 Content rejected")
    with pytest.raises(PermanentSendError) as data:
        SmtpSender(smtp_settings).send(_message())
    smtp_server.refuse_recipient("gone@example.org")
    with pytest.raises(PermanentSendError) as rcpt:
        SmtpSender(smtp_settings).send(_message("gone@example.org"))
    assert (data.value.code, rcpt.value.code) == (550, 550)
    assert rcpt.value.permanent
    assert smtp_server.messages == []


def test_unreachable_server_is_temporary(smtp_settings: Settings) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound but not listening: connection refused
        settings = smtp_settings.model_copy(update={"smtp_port": port})
        with pytest.raises(TemporarySendError, match="Verbindung"):
            SmtpSender(settings).send(_message())


@pytest.mark.parametrize(
    "subject",
    [
        "Bitte teilen Sie uns Ihren Zählerstand mit – Zähler 1ESY1160123456",
        "Erinnerung: Ihr Zählerstand fehlt uns noch – Zähler 1ESY1160123456 " + "ä ö ü ß " * 12,
    ],
)
def test_encoded_subject_decodes_to_exactly_what_was_rendered(subject: str) -> None:
    """Guards against the stdlib folder eating the space between two encoded words."""
    raw = build_message(_row(subject=subject), mail_from=MAIL_FROM, now=NOW).as_bytes()
    parsed = message_from_bytes(raw, policy=policy.default)
    assert parsed["Subject"] == subject.strip()
    assert parsed["From"] == MAIL_FROM
