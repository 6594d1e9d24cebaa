"""A real SMTP server for tests: aiosmtpd on 127.0.0.1, a free port, messages kept in memory.

Fixtures (registered for every test through `pytest_plugins` in conftest.py):

`smtp_server` -> `SmtpTestServer`, started before and stopped after the test:
    host, port                  where it listens (plain SMTP, no TLS, no AUTH)
    messages                    snapshot list of received mails (`email.message.EmailMessage`,
                                parsed with `email.policy.default`), in arrival order
    received                    snapshot list of `ReceivedMail(mail_from, rcpt_tos, message)`
    wait_for(count, timeout=10) block until at least `count` mails arrived (threading.Condition,
                                no polling); returns `messages`; AssertionError on timeout
    assert_no_more(count, wait=0.2)  assert that no mail beyond `count` arrives within `wait`
    script(*replies)            next DATA commands answer with these lines in turn, e.g.
                                `script("451 4.3.0 Try again later")`; a reply starting with "2"
                                (or an exhausted script) accepts and stores the mail
    refuse_recipient(address, reply="550 5.1.1 User unknown")  answer RCPT TO for `address`
    clear()                     forget received mails and scripts
    settings_for(settings)      a copy of a `Settings` pointing smtp_* at this server

`smtp_ctx` -> `AppContext`: the `ctx` fixture (same database, engine, sessions, blobs, clock;
    runs on SQLite and PostgreSQL) with settings pointing at `smtp_server`, sending enabled.

Example::

    def test_confirmation_arrives(smtp_ctx, smtp_server):
        ... queue something, then notifications.dispatch.send_due(smtp_ctx)
        [mail] = smtp_server.wait_for(1)
        assert mail["Auto-Submitted"] == "auto-replied"
"""

from __future__ import annotations

import dataclasses
import threading
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any, cast

import pytest
from aiosmtpd.controller import Controller

from core.context import AppContext
from core.settings import Settings
from tests.ports import free_port


@dataclass(frozen=True)
class ReceivedMail:
    mail_from: str
    rcpt_tos: tuple[str, ...]
    message: EmailMessage


class _Handler:
    """aiosmtpd handler: scripted replies, refused recipients, thread-safe storage."""

    def __init__(self) -> None:
        self.condition = threading.Condition()
        self.received: list[ReceivedMail] = []
        self.replies: deque[str] = deque()
        self.refused: dict[str, str] = {}

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        with self.condition:
            refusal = self.refused.get(address.lower())
        if refusal is not None:
            return refusal
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.condition:
            reply = self.replies.popleft() if self.replies else "250 Message accepted"
            if not reply.startswith("2"):
                return reply
            parsed = message_from_bytes(envelope.content, policy=policy.default)
            mail = ReceivedMail(
                envelope.mail_from, tuple(envelope.rcpt_tos), cast(EmailMessage, parsed)
            )
            self.received.append(mail)
            self.condition.notify_all()
        return reply


class SmtpTestServer:
    """A running aiosmtpd server; see the module docstring for the API."""

    def __init__(self, handler: _Handler, host: str, port: int) -> None:
        self._handler = handler
        self.host = host
        self.port = port

    @property
    def received(self) -> list[ReceivedMail]:
        with self._handler.condition:
            return list(self._handler.received)

    @property
    def messages(self) -> list[EmailMessage]:
        return [mail.message for mail in self.received]

    def wait_for(self, count: int, timeout: float = 10.0) -> list[EmailMessage]:
        handler = self._handler
        with handler.condition:
            arrived = handler.condition.wait_for(lambda: len(handler.received) >= count, timeout)
            got = len(handler.received)
        if not arrived:
            raise AssertionError(f"expected {count} mails at {self.host}:{self.port}, got {got}")
        return self.messages

    def assert_no_more(self, count: int, wait: float = 0.2) -> None:
        handler = self._handler
        with handler.condition:
            more = handler.condition.wait_for(lambda: len(handler.received) > count, wait)
        assert not more, f"expected exactly {count} mails, got {len(self.received)}"

    def script(self, *replies: str) -> None:
        with self._handler.condition:
            self._handler.replies.extend(replies)

    def refuse_recipient(self, address: str, reply: str = "550 5.1.1 User unknown") -> None:
        with self._handler.condition:
            self._handler.refused[address.lower()] = reply

    def clear(self) -> None:
        with self._handler.condition:
            self._handler.received.clear()
            self._handler.replies.clear()
            self._handler.refused.clear()

    def settings_for(self, settings: Settings) -> Settings:
        update = {"smtp_host": self.host, "smtp_port": self.port, "smtp_security": "none",
                  "smtp_user": "", "smtp_password": "", "smtp_enabled": True,
                  "smtp_timeout_seconds": 5.0}  # fmt: skip
        return settings.model_copy(update=update)


@pytest.fixture
def smtp_server() -> Iterator[SmtpTestServer]:
    host = "127.0.0.1"
    handler = _Handler()
    controller = Controller(handler, hostname=host, port=free_port(host), ready_timeout=10)
    controller.start()
    try:
        yield SmtpTestServer(handler, host, controller.port)
    finally:
        controller.stop()


@pytest.fixture
def smtp_ctx(ctx: AppContext, smtp_server: SmtpTestServer) -> AppContext:
    return dataclasses.replace(ctx, settings=smtp_server.settings_for(ctx.settings))
