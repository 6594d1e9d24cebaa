"""An IMAP folder as mail source, through imapclient.

Source keys are `imap:<UIDVALIDITY>:<UID>`; a new UIDVALIDITY makes every mail look new, and the
ledger's duplicate check (same bytes / Message-ID + content) recognises the ones it already has.
A UID is acted on only under the UIDVALIDITY it was listed under: every fetch and move first
selects the folder again and compares; on a change the mail counts as gone (`MessageGone`, nothing
is touched) and the next listing reads the whole folder afresh.

Listing is incremental: `UID SEARCH <last seen + 1>:*`, with a full `SEARCH ALL` at the start,
every `full_reconcile_seconds`, after a UIDVALIDITY change and after a failure (`rescan`).
Mails are fetched with BODY.PEEK[] (no \\Seen), sizes checked first. Every library or socket error
becomes a `MailboxError`; the connection is dropped and made again on the next call.
"""

from __future__ import annotations

import contextlib
import logging
import ssl
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError, LoginError

from core.errors import MailboxError
from core.settings import Settings
from core.tls import client_context, describe_failure
from intake.sources import MessageGone, RawMailRef

log = logging.getLogger(__name__)
ClientFactory = Callable[[Settings], Any]
T = TypeVar("T")
_FAILURES = (IMAPClientError, OSError, EOFError)
SIZE_CHUNK = 500


def connect(settings: Settings) -> IMAPClient:
    """A connected, not yet logged-in client, with the transport security from the settings.

    With "ssl" or "starttls" the server's certificate is verified against `imap_ca_file` (or the
    system CAs) and must name `imap_host`; "starttls" fails if the server does not offer it.
    """
    implicit = settings.imap_security == "ssl"
    context = client_context(settings.imap_ca_file) if settings.imap_security != "none" else None
    client = IMAPClient(
        settings.imap_host,
        port=settings.imap_port,
        ssl=implicit,
        ssl_context=context if implicit else None,
        timeout=settings.imap_timeout_seconds,
    )
    if settings.imap_security == "starttls":
        try:
            client.starttls(context)
        except BaseException:
            with contextlib.suppress(OSError):  # the caller never sees this half-open client
                client.shutdown()
            raise
    return client


class ImapSource:
    def __init__(self, settings: Settings, *, client_factory: ClientFactory = connect) -> None:
        self.settings = settings
        self._factory = client_factory
        self._client: Any = None
        self._uidvalidity: int | None = None
        self._prefix = ""
        self._folders: set[str] = set()
        self._last_uid: int | None = None  # None: the next listing reads the whole folder
        self._next_full = 0.0

    @property
    def name(self) -> str:
        s = self.settings
        return f"imap://{s.imap_user}@{s.imap_host}:{s.imap_port}/{s.imap_folder}"[:200]

    # -- connection ---------------------------------------------------------------------------

    def _open(self) -> Any:
        if self._client is not None:
            return self._client
        s = self.settings
        try:
            self._client = self._factory(s)
            self._client.login(s.imap_user, s.imap_password)
        except LoginError as exc:
            raise MailboxError(f"IMAP-Anmeldung als {s.imap_user!r} abgelehnt: {exc}") from exc
        except ssl.SSLError as exc:  # before _FAILURES: an SSLError is an OSError
            reason = describe_failure(exc, ca_file=s.imap_ca_file)
            raise MailboxError(f"IMAP-Server {s.imap_host}:{s.imap_port}: {reason}") from exc
        except _FAILURES as exc:
            raise MailboxError(f"IMAP-Server {s.imap_host}:{s.imap_port}: {exc}") from exc
        self._select(self._client)
        return self._client

    def _select(self, client: Any) -> None:
        self._reselect(client)
        personal = client.namespace().personal if client.has_capability("NAMESPACE") else None
        self._prefix = personal[0][0] if personal else ""
        if isinstance(self._prefix, bytes):
            self._prefix = self._prefix.decode()
        self._folders.clear()

    def _reselect(self, client: Any) -> int:
        """SELECT the service folder afresh; on a new UIDVALIDITY forget what was listed."""
        info = client.select_folder(self.settings.imap_folder)
        current = int(info[b"UIDVALIDITY"])
        if self._uidvalidity is not None and current != self._uidvalidity:
            log.warning("IMAP-Ordner %s: UIDVALIDITY %s → %s (Ordner neu angelegt?); "
                        "er wird vollständig neu abgeglichen", self.settings.imap_folder,
                        self._uidvalidity, current)  # fmt: skip
            self._last_uid = None
        self._uidvalidity = current
        return current

    def _checked_uid(self, client: Any, uidvalidity: int | None, uid: int | None, key: str) -> int:
        """The UID, after a fresh SELECT shows the folder still has the UIDVALIDITY it had."""
        current = self._reselect(client)
        if uid is None or uidvalidity != current:
            raise MessageGone(f"{key}: UIDVALIDITY ist jetzt {current}; Mail nicht angefasst")
        return uid

    def _call(self, action: Callable[[Any], T], what: str) -> T:
        """Run one action on a live connection; drop the connection on any failure."""
        try:
            client = self._open()
            return action(client)
        except MailboxError:
            self.close()
            raise
        except _FAILURES as exc:
            self.close()
            raise MailboxError(f"IMAP {what} fehlgeschlagen: {exc}") from exc

    def rescan(self) -> None:
        self._last_uid = None

    def close(self) -> None:
        self._last_uid = None
        client, self._client = self._client, None
        if client is None:
            return
        with contextlib.suppress(Exception):  # the connection is gone either way
            client.logout()

    @property
    def uidvalidity(self) -> int | None:
        return self._uidvalidity

    # -- MailSource ---------------------------------------------------------------------------

    def list_new(self) -> Iterator[RawMailRef]:
        refs = self._call(self._list, "Abfrage")
        return iter(refs)

    def _list(self, client: Any) -> list[RawMailRef]:
        self._select(client)  # fresh UIDVALIDITY and message list every pass
        uids = self._search(client)
        refs: list[RawMailRef] = []
        for start in range(0, len(uids), SIZE_CHUNK):
            sizes = client.fetch(uids[start : start + SIZE_CHUNK], ["RFC822.SIZE"])
            for uid in uids[start : start + SIZE_CHUNK]:
                size = sizes.get(uid, {}).get(b"RFC822.SIZE")
                refs.append(self._ref(uid, int(size) if size is not None else None))
        return refs

    def _search(self, client: Any) -> list[int]:
        since = self._last_uid
        if since is None or time.monotonic() >= self._next_full:
            uids = sorted(client.search(["ALL"]))
            self._next_full = time.monotonic() + self.settings.full_reconcile_seconds
        else:  # "n:*" names the highest UID even when it is below n
            uids = sorted(u for u in client.search(["UID", f"{since + 1}:*"]) if u > since)
        self._last_uid = max(uids, default=since or 0)
        return uids

    def _ref(self, uid: int, size: int | None) -> RawMailRef:
        key = f"imap:{self._uidvalidity}:{uid}"
        return RawMailRef(source_key=key, size=size, uidvalidity=self._uidvalidity, uid=uid)

    def _fetch_item(self, ref: RawMailRef, item: str, key: bytes) -> bytes:
        def run(client: Any) -> bytes:
            uid = self._checked_uid(client, ref.uidvalidity, ref.uid, ref.source_key)
            data = client.fetch([uid], [item]).get(uid, {})
            if key not in data:
                raise MessageGone(f"{ref.source_key} ist nicht mehr im Postfach")
            return bytes(data[key] or b"")

        return self._call(run, "Abruf")

    def fetch(self, ref: RawMailRef) -> bytes:
        return self._fetch_item(ref, "BODY.PEEK[]", b"BODY[]")

    def fetch_headers(self, ref: RawMailRef) -> bytes:
        return self._fetch_item(ref, "BODY.PEEK[HEADER]", b"BODY[HEADER]")

    def move(self, source_key: str, folder: str) -> None:
        try:
            _, vv, uid = source_key.split(":")
            uidvalidity, number = int(vv), int(uid)
        except ValueError as exc:
            raise MessageGone(f"kein IMAP-Schlüssel: {source_key!r}") from exc

        def run(client: Any) -> None:
            self._checked_uid(client, uidvalidity, number, source_key)
            target = self._ensure_folder(client, folder)
            if client.has_capability("MOVE"):
                try:
                    client.move([number], target)
                except IMAPClientError as exc:
                    if "EXPUNGEISSUED" not in str(exc):
                        raise
                    log.info("%s: schon verschoben (anderer Worker)", source_key)
                return
            client.copy([number], target)
            client.add_flags([number], [b"\\Deleted"])
            if client.has_capability("UIDPLUS"):
                client.uid_expunge([number])
            else:
                client.expunge()

        self._call(run, "Verschieben")

    def _ensure_folder(self, client: Any, folder: str) -> str:
        name = f"{self._prefix}{folder}" if self._prefix else folder
        if name not in self._folders:
            if not client.folder_exists(name):
                client.create_folder(name)
                log.info("IMAP-Ordner %s angelegt", name)
            self._folders.add(name)
        return name
