"""The Dovecot fixture itself: a real server that imapclient can APPEND to, SELECT and MOVE in."""

from __future__ import annotations

import pytest
from imapclient import IMAPClient

from tests.fixtures_dovecot import DovecotServer

pytestmark = pytest.mark.imap

MAIL = b"From: kunde@example.de\r\nSubject: Test\r\nMessage-ID: <t1@example.de>\r\n\r\nHallo\r\n"


def test_dovecot_append_select_move(dovecot: DovecotServer) -> None:
    with IMAPClient(dovecot.host, port=dovecot.port, ssl=False, timeout=10) as client:
        client.login(dovecot.user, dovecot.password)
        client.append("INBOX", MAIL)
        info = client.select_folder("INBOX")
        assert int(info[b"UIDVALIDITY"]) > 0
        uids = client.search(["ALL"])
        assert len(uids) == 1
        assert client.has_capability("MOVE")
        client.create_folder("Processed")
        client.move(uids, "Processed")
        assert client.search(["ALL"]) == []
        client.select_folder("Processed")
        fetched = client.fetch(client.search(["ALL"]), ["BODY.PEEK[]"])
        assert [d[b"BODY[]"] for d in fetched.values()] == [MAIL]
