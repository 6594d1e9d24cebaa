"""IMAP over TLS against a real Dovecot: implicit TLS and STARTTLS, trusted and untrusted CA."""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

import pytest
from imapclient import IMAPClient

from core.errors import MailboxError
from core.settings import Settings, load_settings
from intake.imap import ImapSource, connect
from tests.fixtures_dovecot import DovecotServer
from tests.samples import customer_mail

pytestmark = pytest.mark.imap
SECURITIES = ["ssl", "starttls"]


def tls_settings(
    tmp_path: Path, server: DovecotServer, security: str, *, trust: bool = True
) -> Settings:
    port = server.imaps_port if security == "ssl" else server.port
    return load_settings(
        var_dir=tmp_path, mailbox="imap", imap_host=server.host, imap_port=port,
        imap_security=security, imap_ca_file=server.ca_file if trust else None,
        imap_user=server.user, imap_password=server.password, imap_timeout_seconds=10.0,
        _env_file=None,
    )  # fmt: skip


def tls_client(server: DovecotServer) -> IMAPClient:
    """The test's own look into the mailbox, over implicit TLS."""
    context = ssl.create_default_context(cafile=str(server.ca_file))
    imap = IMAPClient(server.host, port=server.imaps_port, ssl_context=context, timeout=10)
    imap.login(server.user, server.password)
    return imap


def folder_uids(server: DovecotServer, folder: str) -> list[int]:
    with tls_client(server) as imap:
        if not imap.folder_exists(folder):
            return []
        imap.select_folder(folder, readonly=True)
        return sorted(imap.search(["ALL"]))


class Recording:
    """Client factory seam: the real `connect`, keeping the clients it made."""

    def __init__(self) -> None:
        self.clients: list[Any] = []

    def __call__(self, settings: Settings) -> Any:
        client = connect(settings)
        self.clients.append(client)
        return client


@pytest.mark.parametrize("security", SECURITIES)
def test_fetch_and_move_over_tls(dovecot_tls: DovecotServer, security: str, tmp_path: Path) -> None:
    with tls_client(dovecot_tls) as imap:
        for n in (1, 2):
            imap.append("INBOX", customer_mail(sender="erika@example.de", message_id=f"<m{n}@k>"))
    factory = Recording()
    source = ImapSource(tls_settings(tmp_path, dovecot_tls, security), client_factory=factory)
    try:
        refs = list(source.list_new())
        bodies = [source.fetch(ref) for ref in refs]
        source.move(refs[0].source_key, "Processed")
        [client] = factory.clients
        version = client.socket().version()
    finally:
        source.close()
    assert [b"<m1@k>" in body for body in bodies] == [True, False]
    assert b"<m2@k>" in bodies[1]
    assert version in {"TLSv1.2", "TLSv1.3"}  # the conversation really ran inside TLS
    assert len(folder_uids(dovecot_tls, "INBOX")) == 1
    assert len(folder_uids(dovecot_tls, "Processed")) == 1


@pytest.mark.parametrize("security", SECURITIES)
def test_untrusted_certificate_is_a_mailbox_error(
    dovecot_tls: DovecotServer, security: str, tmp_path: Path
) -> None:
    with tls_client(dovecot_tls) as imap:
        imap.append("INBOX", customer_mail(sender="erika@example.de"))
    settings = tls_settings(tmp_path, dovecot_tls, security, trust=False)  # system CAs only
    source = ImapSource(settings)
    where = f"{settings.imap_host}:{settings.imap_port}"
    with pytest.raises(MailboxError, match=rf"{where}: Serverzertifikat nicht vertrauenswürdig"):
        source.list_new()
    with pytest.raises(MailboxError, match="System-CAs"):  # and the next pass fails the same way
        source.list_new()
    assert len(folder_uids(dovecot_tls, "INBOX")) == 1
    assert folder_uids(dovecot_tls, "Processed") == []


def test_starttls_not_offered_is_a_mailbox_error(dovecot: DovecotServer, tmp_path: Path) -> None:
    """No silent fall-back to plaintext when the server lacks STARTTLS."""
    settings = load_settings(
        var_dir=tmp_path, mailbox="imap", imap_host=dovecot.host, imap_port=dovecot.port,
        imap_security="starttls", imap_user=dovecot.user, imap_password=dovecot.password,
        _env_file=None,
    )  # fmt: skip
    with pytest.raises(MailboxError, match=rf"{dovecot.port}: .*STARTTLS"):
        ImapSource(settings).list_new()
