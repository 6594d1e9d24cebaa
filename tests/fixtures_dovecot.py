"""A real Dovecot IMAP server for integration tests, started per test in a temporary directory.

IMAP only, no TLS, plaintext login on 127.0.0.1, one user from a passwd-file, Maildir storage.
Dovecot will not hand mail to root, so as root the mail processes run as the package's `dovecot`
system user; as an ordinary user everything runs as that user.
"""

from __future__ import annotations

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

import pytest

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
ssl = no
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
    port = 0
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


def dovecot_version() -> tuple[int, ...]:
    out = subprocess.run([DOVECOT, "--version"], capture_output=True, text=True, check=True)
    return tuple(int(p) for p in out.stdout.split()[0].split(".")[:2])


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


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


def write_config(tmp: Path, port: int, *, prefix: str = "") -> Path:
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


@pytest.fixture
def dovecot(request: pytest.FixtureRequest) -> Iterator[DovecotServer]:
    """A running Dovecot; yields where to reach it and how to log in.

    Parametrize indirectly with a namespace prefix such as `"INBOX."` to get a Courier-style
    server where every folder lives below INBOX.
    """
    if not DOVECOT.exists():
        pytest.skip("Dovecot is not installed (apt-get install dovecot-imapd)")
    # not under pytest's 0700 basetemp: the mail processes run as another user and must reach it
    tmp = Path(tempfile.mkdtemp(prefix="mi-dovecot-"))
    port = _free_port()
    conf = write_config(tmp, port, prefix=getattr(request, "param", ""))
    log_path = tmp / "dovecot.log"
    proc = subprocess.Popen(
        [DOVECOT, "-F", "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT
    )
    try:
        _wait_for_port(port, proc, log_path)
        yield DovecotServer("127.0.0.1", port, USER, PASSWORD, log_path)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(tmp, ignore_errors=True)
