"""A real Dovecot IMAP server for integration tests, started per test in a temporary directory.

IMAP only, plaintext login on 127.0.0.1, one user from a passwd-file, Maildir storage.
`dovecot`: no TLS. `dovecot_tls`: `ssl = required`, STARTTLS on `port`, implicit TLS on
`imaps_port`, a certificate for 127.0.0.1/localhost signed by the session's test CA (`ca_file`).
Dovecot counts a loopback connection as secured and still allows a plaintext login there, so a
test that must prove TLS checks the client's socket, not the server's refusal.
Dovecot will not hand mail to root, so as root the mail processes run as the package's `dovecot`
system user; as an ordinary user everything runs as that user.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.ports import free_port

if TYPE_CHECKING:  # a runtime import would load the plugin module before pytest can rewrite it
    from tests.fixtures_tls import TlsCerts

DOVECOT = Path("/usr/sbin/dovecot")
USER = "kundenpost"
PASSWORD = "geheim-123"  # test server only
START_TIMEOUT = 15.0

CONF = """\
protocols = imap
listen = 127.0.0.1
base_dir = {tmp}/run
state_dir = {tmp}/state
log_path = {tmp}/dovecot.log
info_log_path = {tmp}/dovecot.log
{ssl}
{cleartext}
auth_mechanisms = plain login
default_internal_user = {internal}
default_internal_group = {internal_group}
default_login_user = {login}
first_valid_uid = {uid}
last_valid_uid = 0
mail_location = maildir:{tmp}/mail/%u
mail_uid = {uid}
mail_gid = {gid}
namespace inbox {{
  inbox = yes
  prefix = {prefix}
  separator = {separator}
}}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {tmp}/passwd
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={tmp}/home/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {imaps_port}
  }}
  chroot =
}}
service anvil {{
  chroot =
}}
"""


@dataclass(frozen=True)
class DovecotServer:
    host: str
    port: int
    user: str
    password: str
    log_path: Path
    imaps_port: int | None = None  # implicit TLS; only `dovecot_tls`
    ca_file: Path | None = None  # the CA that signed the server's certificate; only `dovecot_tls`


def dovecot_version() -> tuple[int, ...]:
    out = subprocess.run([DOVECOT, "--version"], capture_output=True, text=True, check=True)
    return tuple(int(p) for p in out.stdout.split()[0].split(".")[:2])


def _accounts() -> tuple[str, str, str, int, int]:
    """(internal user, its group, login user, mail uid, mail gid) for this process."""
    if os.geteuid() != 0:
        me = pwd.getpwuid(os.getuid())
        return me.pw_name, me.pw_name, me.pw_name, os.getuid(), os.getgid()
    mail = pwd.getpwnam("dovecot")
    login = "dovenull" if _has_user("dovenull") else "dovecot"
    return "dovecot", "dovecot", login, mail.pw_uid, mail.pw_gid


def _has_user(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def _ssl_lines(tls: TlsCerts | None) -> str:
    if tls is None:
        return "ssl = no"
    if dovecot_version() >= (2, 4):
        files = f"ssl_server_cert_file = {tls.cert_file}\nssl_server_key_file = {tls.key_file}"
    else:
        files = f"ssl_cert = <{tls.cert_file}\nssl_key = <{tls.key_file}"
    return f"ssl = required\n{files}"


def write_config(
    tmp: Path, port: int, *, prefix: str = "", tls: TlsCerts | None = None, imaps_port: int = 0
) -> Path:
    internal, group, login, uid, gid = _accounts()
    for sub in ("run", "state", "mail", "home"):
        (tmp / sub).mkdir(parents=True, exist_ok=True)
    for sub in ("mail", "home"):
        os.chown(tmp / sub, uid, gid)
    tmp.chmod(0o755)
    (tmp / "passwd").write_text(f"{USER}:{{PLAIN}}{PASSWORD}::::::\n")
    cleartext = (
        "auth_allow_cleartext = yes"
        if dovecot_version() >= (2, 4)
        else "disable_plaintext_auth = no"
    )
    conf = CONF.format(
        tmp=tmp, port=port, uid=uid, gid=gid, internal=internal, internal_group=group,
        login=login, cleartext=cleartext, prefix=prefix, separator=prefix[-1:] or "/",
        ssl=_ssl_lines(tls), imaps_port=imaps_port,
    )  # fmt: skip
    path = tmp / "dovecot.conf"
    path.write_text(conf)
    return path


def _wait_for_port(port: int, proc: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            log = log_path.read_text() if log_path.exists() else ""
            raise RuntimeError(f"dovecot exited with {proc.returncode}:\n{log}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
                if sock.recv(64).startswith(b"* OK"):
                    return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"dovecot did not accept connections on port {port}")


@contextlib.contextmanager
def _running(tmp: Path, conf: Path, port: int) -> Iterator[Path]:
    """Run Dovecot with `conf` until the block ends; yields its log file."""
    log_path = tmp / "dovecot.log"
    proc = subprocess.Popen(
        [DOVECOT, "-F", "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT
    )
    try:
        _wait_for_port(port, proc, log_path)
        yield log_path
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(tmp, ignore_errors=True)


def _server_dir() -> Path:
    if not DOVECOT.exists():
        pytest.skip("Dovecot is not installed (apt-get install dovecot-imapd)")
    # not under pytest's 0700 basetemp: the mail processes run as another user and must reach it
    return Path(tempfile.mkdtemp(prefix="mi-dovecot-"))


@pytest.fixture
def dovecot(request: pytest.FixtureRequest) -> Iterator[DovecotServer]:
    """A running Dovecot; yields where to reach it and how to log in.

    Parametrize indirectly with a namespace prefix such as `"INBOX."` to get a Courier-style
    server where every folder lives below INBOX.
    """
    tmp = _server_dir()
    port = free_port()
    conf = write_config(tmp, port, prefix=getattr(request, "param", ""))
    with _running(tmp, conf, port) as log_path:
        yield DovecotServer("127.0.0.1", port, USER, PASSWORD, log_path)


@pytest.fixture
def dovecot_tls(tls_certs: TlsCerts) -> Iterator[DovecotServer]:
    """A running Dovecot that demands TLS: STARTTLS on `port`, implicit TLS on `imaps_port`."""
    tmp = _server_dir()
    port, imaps_port = free_port(), free_port()
    conf = write_config(tmp, port, tls=tls_certs, imaps_port=imaps_port)
    with _running(tmp, conf, port) as log_path:
        yield DovecotServer("127.0.0.1", port, USER, PASSWORD, log_path,
                            imaps_port=imaps_port, ca_file=tls_certs.ca_file)  # fmt: skip
