"""TLS for the tests: a throw-away CA per session, and an SMTP server with TLS and AUTH.

The certificates are made with the `openssl` command line tool: the `cryptography` package is not
installed, and a test-only dependency for a few certificates is not worth it.

Fixtures (registered for every test through `pytest_plugins` in conftest.py):

`tls_certs` (session) -> `TlsCerts`, files in a temporary directory:
    ca_file                 the CA certificate; point imap_ca_file / smtp_ca_file here
    cert_file, key_file     server certificate for 127.0.0.1 and localhost, signed by the CA
    other_host_cert_file, other_host_key_file   signed by the same CA, but for another host name
    server_context(other_host=False)  an `ssl.SSLContext` for a test server

`smtp_tls_server` -> `SmtpTlsServer`, parametrized: every test runs once with "starttls"
    (`tls_context`, `require_starttls=True`, `auth_require_tls=True`) and once with "ssl"
    (implicit TLS, `Controller(..., ssl_context=...)`, `auth_require_tls=False` because aiosmtpd
    never counts implicit TLS as TLS there). Both demand AUTH before MAIL FROM.
    Everything of `SmtpTestServer` (fixtures_smtp.py), plus:
    security, user, password    the mode and the one account the server accepts
    logins / refused_logins     snapshot lists of login names that passed / failed AUTH
    settings_for(settings, *, password=None, trust=True)  smtp_* pointing here, with AUTH and
                                smtp_ca_file = the test CA (trust=False: no CA file)

`serve_smtp_tls(certs, security, *, other_host=False)` starts such a server as a context manager,
for a test that needs a certificate other than the fixture's.
"""

from __future__ import annotations

import contextlib
import hmac
import ssl
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from core.settings import Settings
from tests.fixtures_smtp import SmtpTestServer, _Handler
from tests.ports import free_port

OPENSSL = "openssl"
SMTP_USER = "zaehlerstand"
SMTP_PASSWORD = "smtp-geheim-456"  # test server only
Security = Literal["starttls", "ssl"]

CA_EXTENSIONS = """\
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
"""
SERVER_EXTENSIONS = """\
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = {names}
"""


@dataclass(frozen=True)
class TlsCerts:
    ca_file: Path
    cert_file: Path
    key_file: Path
    other_host_cert_file: Path
    other_host_key_file: Path

    def server_context(self, *, other_host: bool = False) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        if other_host:
            context.load_cert_chain(self.other_host_cert_file, self.other_host_key_file)
        else:
            context.load_cert_chain(self.cert_file, self.key_file)
        return context


def _openssl(*args: str | Path) -> None:
    result = subprocess.run([OPENSSL, *map(str, args)], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"openssl {args[0]} failed: {result.stderr.strip()}")


def _new_key(path: Path) -> None:
    _openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", path)
    path.chmod(0o600)


def make_ca(directory: Path) -> tuple[Path, Path]:
    """A self-signed CA (certificate, key), valid for two days."""
    cert, key, ext = directory / "ca.pem", directory / "ca.key", directory / "ca.ext"
    _new_key(key)
    ext.write_text(CA_EXTENSIONS)
    csr = directory / "ca.csr"
    _openssl("req", "-new", "-key", key, "-subj", "/O=meter-intake tests/CN=Test CA", "-out", csr)
    _openssl("x509", "-req", "-in", csr, "-signkey", key, "-days", "2",
             "-extfile", ext, "-out", cert)  # fmt: skip
    return cert, key


def make_server_cert(
    directory: Path, name: str, ca: tuple[Path, Path], *, names: str, serial: int
) -> tuple[Path, Path]:
    """A server certificate (certificate, key) for the subjectAltName `names`, signed by `ca`."""
    cert, key = directory / f"{name}.pem", directory / f"{name}.key"
    csr, ext = directory / f"{name}.csr", directory / f"{name}.ext"
    _new_key(key)
    ext.write_text(SERVER_EXTENSIONS.format(names=names))
    _openssl("req", "-new", "-key", key, "-subj", f"/CN={name}", "-out", csr)
    _openssl("x509", "-req", "-in", csr, "-CA", ca[0], "-CAkey", ca[1], "-set_serial", str(serial),
             "-days", "2", "-extfile", ext, "-out", cert)  # fmt: skip
    return cert, key


@pytest.fixture(scope="session")
def tls_certs(tmp_path_factory: pytest.TempPathFactory) -> TlsCerts:
    directory = tmp_path_factory.mktemp("tls")
    ca = make_ca(directory)
    cert, key = make_server_cert(
        directory, "server", ca, names="IP:127.0.0.1, DNS:localhost", serial=2
    )
    other_cert, other_key = make_server_cert(
        directory, "other-host", ca, names="DNS:mail.elsewhere.example", serial=3
    )
    return TlsCerts(ca[0], cert, key, other_cert, other_key)


class _Accounts:
    """aiosmtpd authenticator: one account; records who passed and who failed."""

    def __init__(self, user: str, password: str) -> None:
        self.user = user
        self.password = password
        self.lock = threading.Lock()
        self.logins: list[str] = []
        self.refused: list[str] = []

    def __call__(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        login = auth_data.login.decode("utf-8", "replace")
        ok = login == self.user and hmac.compare_digest(auth_data.password, self.password.encode())
        with self.lock:
            (self.logins if ok else self.refused).append(login)
        return AuthResult(success=ok, handled=False)


class _AuthHandler(_Handler):
    """Refuses MAIL FROM before AUTH (aiosmtpd's `auth_required` would need `auth_require_tls`,
    which it never counts as met on an implicit-TLS connection: aio-libs/aiosmtpd#281)."""

    async def handle_MAIL(
        self, server: Any, session: Any, envelope: Any, address: str, mail_options: list[str]
    ) -> str:
        if not session.authenticated:
            return "530 5.7.0 Authentication required"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"


class SmtpTlsServer(SmtpTestServer):
    """A running aiosmtpd server with TLS and AUTH; see the module docstring for the API."""

    def __init__(
        self, handler: _Handler, host: str, port: int, *, security: Security,
        accounts: _Accounts, ca_file: Path,
    ) -> None:  # fmt: skip
        super().__init__(handler, host, port)
        self.security = security
        self.user = accounts.user
        self.password = accounts.password
        self.ca_file = ca_file
        self._accounts = accounts

    @property
    def logins(self) -> list[str]:
        with self._accounts.lock:
            return list(self._accounts.logins)

    @property
    def refused_logins(self) -> list[str]:
        with self._accounts.lock:
            return list(self._accounts.refused)

    def settings_for(
        self, settings: Settings, *, password: str | None = None, trust: bool = True
    ) -> Settings:
        update = {"smtp_security": self.security, "smtp_user": self.user,
                  "smtp_password": self.password if password is None else password,
                  "smtp_ca_file": self.ca_file if trust else None}  # fmt: skip
        return super().settings_for(settings).model_copy(update=update)


@contextlib.contextmanager
def serve_smtp_tls(
    certs: TlsCerts, security: Security, *, other_host: bool = False
) -> Iterator[SmtpTlsServer]:
    host = "127.0.0.1"
    handler = _AuthHandler()
    accounts = _Accounts(SMTP_USER, SMTP_PASSWORD)
    context = certs.server_context(other_host=other_host)
    if security == "starttls":
        tls: dict[str, Any] = {"tls_context": context, "require_starttls": True,
                               "auth_require_tls": True}  # fmt: skip
    else:  # aiosmtpd does not see implicit TLS as TLS for `auth_require_tls` (see _AuthHandler)
        tls = {"ssl_context": context, "auth_require_tls": False}
    controller = Controller(
        handler, hostname=host, port=free_port(host), ready_timeout=10,
        authenticator=accounts, **tls,
    )  # fmt: skip
    controller.start()
    try:
        yield SmtpTlsServer(handler, host, controller.port, security=security,
                            accounts=accounts, ca_file=certs.ca_file)  # fmt: skip
    finally:
        controller.stop()


@pytest.fixture(params=["starttls", "ssl"])
def smtp_tls_server(request: pytest.FixtureRequest, tls_certs: TlsCerts) -> Iterator[SmtpTlsServer]:
    with serve_smtp_tls(tls_certs, request.param) as server:
        yield server
