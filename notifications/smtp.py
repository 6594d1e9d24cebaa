"""The one SMTP client wrapper, and how an outbox row becomes an RFC 5322 message.

`SmtpSender.send` opens one connection per mail (plain, STARTTLS or implicit TLS, the server's
certificate verified against `smtp_ca_file` or the system CAs; AUTH when a user is configured)
and sorts every failure into `PermanentSendError` (a 5xx for the recipient or the data: retrying
cannot help) or `TemporarySendError` (4xx, network, TLS, authentication, sender refused: a
configuration or server problem that retrying, perhaps after a fix, can cure; `SmtpUnreachable`
when the server could not be reached at all; a refused login or certificate is a configuration
problem and counts as a failed try). Two hooks narrow the window in which a crash can send a
mail twice: `before_data` runs once the server took sender and recipient, right before DATA (the
caller records "sending"), `accepted` right after the server's 250 to DATA, before QUIT (the caller
records "sent").
"""

from __future__ import annotations

import datetime as dt
import logging
import smtplib
import ssl
from collections.abc import Callable
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime, getaddresses

from core.errors import SendError
from core.models import Outbox
from core.settings import Settings
from core.tls import client_context, describe_failure
from notifications.errors import PermanentSendError, TemporarySendError
from notifications.headers import (
    check_recipient,
    clean_header_text,
    clean_message_id,
    make_message_id,
    verp_address,
)

log = logging.getLogger(__name__)

REMINDER_KINDS = frozenset({"reminder", "reminder_followup"})
MAX_SUBJECT_CHARS = 200
# Python 3.11's header folder drops the space between two RFC 2047 encoded words where it folds
# ("mit – Zähler" arrives as "mit –Zähler"). So headers are written unfolded (RFC 5322 allows
# 998 characters a line); the bodies are encoded before that with the default 78-column policy.
HEADER_POLICY = policy.default.clone(max_line_length=998)
Hook = Callable[[], None]


class SmtpUnreachable(TemporarySendError):
    """The server could not be reached (connection refused or dropped, timeout)."""


def _nothing() -> None:
    return None


class SmtpSender:
    """Hands messages to the configured SMTP server (`smtp_*` settings)."""

    def __init__(self, settings: Settings, *, ssl_context: ssl.SSLContext | None = None) -> None:
        """`ssl_context` replaces the one built from `smtp_ca_file` (a seam for tests)."""
        self.host = settings.smtp_host
        self.port = settings.smtp_port
        self.security = settings.smtp_security
        self.user = settings.smtp_user
        self.password = settings.smtp_password
        self.timeout = settings.smtp_timeout_seconds
        self.ca_file = settings.smtp_ca_file
        self.ssl_context = ssl_context
        self.mail_from = settings.mail_from
        self.verp = settings.verp_bounces

    def send(self, message: EmailMessage) -> None:
        """Deliver `message` to the server or raise a `SendError` subclass."""
        self._transfer_mail(message, _nothing, _nothing)

    def deliver(self, message: EmailMessage, *, before_data: Hook, accepted: Hook) -> None:
        """`send` with the two hooks. A subclass that replaces `send` (a recording double) gets
        `before_data` before and `accepted` after its own `send`."""
        if type(self).send is not SmtpSender.send:
            before_data()
            self.send(message)
            accepted()
            return
        self._transfer_mail(message, before_data, accepted)

    def _transfer_mail(self, message: EmailMessage, before_data: Hook, accepted: Hook) -> None:
        try:
            client = self._connect()
        except (smtplib.SMTPException, OSError) as exc:
            raise self._failure(exc, stage="Verbindung", unreachable=True) from exc
        try:
            self._prepare(client)
        except (smtplib.SMTPException, OSError) as exc:
            _close_quietly(client)
            unreachable = isinstance(exc, (smtplib.SMTPServerDisconnected, ConnectionError))
            raise self._failure(exc, stage="Verbindung", unreachable=unreachable) from exc
        try:
            _transfer(client, message, before_data, envelope=self._envelope_sender(message))
            accepted()
        except (smtplib.SMTPException, OSError) as exc:
            raise self._failure(exc, stage="Versand") from exc
        finally:
            _close_quietly(client)
        log.info("SMTP accepted %s for %s", message["Message-ID"], message["To"])

    def _envelope_sender(self, message: EmailMessage) -> str | None:
        """VERP (`local+bounce-<id>@domain`) when enabled; else the From address."""
        if not self.verp:
            return None
        return verp_address(self.mail_from, str(message["Message-ID"] or ""))

    def _connect(self) -> smtplib.SMTP:
        if self.security == "ssl":
            return smtplib.SMTP_SSL(
                self.host, self.port, timeout=self.timeout, context=self._context()
            )
        return smtplib.SMTP(self.host, self.port, timeout=self.timeout)

    def _prepare(self, client: smtplib.SMTP) -> None:
        client.ehlo()
        if self.security == "starttls":
            client.starttls(context=self._context())
            client.ehlo()
        if self.user:
            client.login(self.user, self.password)

    def _context(self) -> ssl.SSLContext:
        if self.ssl_context is None:
            self.ssl_context = client_context(self.ca_file)
        return self.ssl_context

    def _failure(
        self, exc: smtplib.SMTPException | OSError, *, stage: str, unreachable: bool = False
    ) -> SendError:
        if isinstance(exc, ssl.SSLError):  # an untrusted certificate is a configuration problem
            reason = describe_failure(exc, ca_file=self.ca_file)
            return TemporarySendError(
                f"SMTP-{stage} zu {self.host}:{self.port} fehlgeschlagen: {reason}"
            )
        failure = _translate(exc, stage=stage)
        if unreachable and isinstance(failure, TemporarySendError):
            return SmtpUnreachable(f"{failure} ({self.host}:{self.port})", code=failure.code)
        return failure


def _transfer(
    client: smtplib.SMTP, message: EmailMessage, before_data: Hook, *, envelope: str | None
) -> None:
    """MAIL, RCPT, `before_data`, DATA: smtplib's send_message, split where the hook goes.
    `envelope`: the envelope sender (VERP); None: the From address."""
    sender = envelope or getaddresses([str(message["Sender"] or message["From"])])[0][1]
    recipients = [address for _, address in getaddresses(message.get_all("To", []))]
    data = message.as_bytes(policy=message.policy.clone(linesep="\r\n"))
    code, reply = client.mail(sender)
    if code != 250:
        client.rset()
        raise smtplib.SMTPSenderRefused(code, reply, sender)
    refused = {}
    for address in recipients:
        code, reply = client.rcpt(address)
        if code not in (250, 251):
            refused[address] = (code, reply)
    if len(refused) == len(recipients):
        client.rset()
        raise smtplib.SMTPRecipientsRefused(refused)
    before_data()
    code, reply = client.data(data)
    if code != 250:
        client.rset()
        raise smtplib.SMTPDataError(code, reply)


def _close_quietly(client: smtplib.SMTP) -> None:
    """QUIT after the server accepted the mail must not turn a success into a failure."""
    try:
        client.quit()
    except (smtplib.SMTPException, OSError):
        client.close()


def _translate(exc: BaseException, *, stage: str) -> SendError:
    where = f"SMTP-{stage} fehlgeschlagen"
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _msg in exc.recipients.values()]
        detail = "; ".join(
            f"{rcpt}: {code} {_text(msg)}" for rcpt, (code, msg) in exc.recipients.items()
        )
        if codes and all(500 <= code < 600 for code in codes):
            return PermanentSendError(f"{where}: Empfänger abgelehnt: {detail}", code=codes[0])
        return TemporarySendError(f"{where}: Empfänger vorläufig abgelehnt: {detail}",
                                  code=codes[0] if codes else None)  # fmt: skip
    if isinstance(exc, smtplib.SMTPResponseException):
        code, detail = exc.smtp_code, f"{exc.smtp_code} {_text(exc.smtp_error)}"
        permanent = isinstance(exc, smtplib.SMTPDataError) and 500 <= code < 600
        if permanent:
            return PermanentSendError(f"{where}: Nachricht abgelehnt: {detail}", code=code)
        return TemporarySendError(f"{where}: {type(exc).__name__}: {detail}", code=code)
    return TemporarySendError(f"{where} ({type(exc).__name__}): {exc}")


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


def build_message(row: Outbox, *, mail_from: str, now: dt.datetime) -> EmailMessage:
    """multipart/alternative (text + HTML) with loop-safe headers and a deterministic Message-ID.

    Raises `InvalidRecipientError` if the row's recipient is not a plain address.
    """
    message = EmailMessage()
    message["From"] = mail_from
    message["To"] = check_recipient(row.recipient)
    message["Subject"] = clean_header_text(row.subject)[:MAX_SUBJECT_CHARS]
    message["Date"] = format_datetime(now.astimezone(dt.UTC))
    message["Message-ID"] = make_message_id(row.idempotency_key, mail_from)
    parent = clean_message_id(row.in_reply_to)
    if parent is not None:
        message["In-Reply-To"] = parent
        message["References"] = parent
    if row.unsubscribe_url:  # campaign mails only (RFC 2369, RFC 8058 one-click)
        message["List-Unsubscribe"] = f"<{row.unsubscribe_url}>"
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message["Auto-Submitted"] = auto_submitted_value(row.kind)
    message["X-Auto-Response-Suppress"] = "All"
    message.set_content(row.body_text, charset="utf-8", cte="quoted-printable")
    if row.body_html:
        message.add_alternative(
            row.body_html, subtype="html", charset="utf-8", cte="quoted-printable"
        )
        if row.inline_png:  # multipart/related: the HTML and the chart it shows as cid:chart
            html_part = message.get_body(preferencelist=("html",))
            assert isinstance(html_part, EmailMessage)
            html_part.add_related(
                row.inline_png, "image", "png", cid="<chart>", filename="verbrauch.png",
                disposition="inline",
            )  # fmt: skip
    message["Content-Language"] = row.language or "de"  # after set_content, which drops it
    message.policy = HEADER_POLICY
    return message


def auto_submitted_value(kind: str) -> str:
    """RFC 3834: reminders are generated by us, everything else answers a customer's mail."""
    return "auto-generated" if kind in REMINDER_KINDS else "auto-replied"
