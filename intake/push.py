"""Push intake: wake the worker as soon as a mail arrives, instead of waiting for the next poll.

`ImapIdleWatcher` keeps its own IMAP connection in IDLE on the service folder and sets the wake
event on every EXISTS (a new mail) and after every (re)connect, so a pass reconciles what came in
while it was away; on a dropped connection it reconnects with a doubling backoff (1 s … 60 s),
logging one line when the connection is lost and one when it is back. `MaildirWatcher` watches
the Maildir's `new/` and `cur/` through watchdog (inotify on Linux, polling elsewhere).
The worker's periodic pass stays in place behind both: a missed event delays a mail by at most
`poll_interval_seconds`.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any, Protocol

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

from core.settings import Settings
from intake.imap import ClientFactory, connect
from intake.outages import Outages

log = logging.getLogger(__name__)
IDLE_RENEW_SECONDS = 300.0  # servers drop an IDLE after 30 minutes; renew well before
CHECK_SECONDS = 1.0  # how quickly the watcher notices `stop`
MAX_BACKOFF_SECONDS = 60.0


class Watcher(Protocol):
    def stop(self) -> None: ...


class ImapIdleWatcher:
    def __init__(
        self,
        settings: Settings,
        wake: threading.Event,
        *,
        client_factory: ClientFactory = connect,
        outages: Outages | None = None,
    ) -> None:
        self.settings = settings
        self._wake = wake
        self._factory = client_factory
        self._outages = outages or Outages()
        self._stop = threading.Event()
        self.idling = threading.Event()  # set while an IDLE is running (tests wait on it)
        self._thread = threading.Thread(target=self._run, name="imap-idle", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        backoff = 1.0
        while not self._stop.is_set():
            try:
                self._session()
                backoff = 1.0
            except Exception as exc:  # any failure: reconnect after a pause
                self.idling.clear()
                self._outages.failed("IMAP-IDLE", exc)
                self._stop.wait(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)

    def _session(self) -> None:
        s = self.settings
        client = self._factory(s)
        try:
            client.login(s.imap_user, s.imap_password)
            client.select_folder(s.imap_folder, readonly=True)
            self._outages.ok("IMAP-IDLE")
            self._wake.set()  # reconcile what arrived while we were not listening
            while not self._stop.is_set():
                self._idle_once(client)
        finally:
            self.idling.clear()
            try:
                client.logout()
            except Exception:  # the connection is gone either way
                log.debug("IDLE-Verbindung geschlossen")

    def _idle_once(self, client: Any) -> None:
        client.idle()
        self.idling.set()
        waited = 0.0
        try:
            while waited < IDLE_RENEW_SECONDS and not self._stop.is_set():
                responses = client.idle_check(timeout=CHECK_SECONDS)
                waited += CHECK_SECONDS
                if _announces_mail(responses):
                    self._wake.set()
        finally:
            self.idling.clear()
            client.idle_done()


def _announces_mail(responses: list[Any]) -> bool:
    for response in responses:
        if isinstance(response, tuple) and len(response) > 1 and response[1] == b"EXISTS":
            return True
        if isinstance(response, tuple) and b"BYE" in response:
            raise ConnectionError("IMAP-Server beendet die IDLE-Verbindung")
    return False


class _WakeOnMail(FileSystemEventHandler):
    def __init__(self, wake: threading.Event) -> None:
        self._wake = wake

    def on_created(self, event: FileSystemEvent) -> None:
        self._wake.set()

    def on_moved(self, event: FileSystemEvent) -> None:
        self._wake.set()


class MaildirWatcher:
    def __init__(self, path: Path, wake: threading.Event) -> None:
        self._observer = Observer()
        handler = _WakeOnMail(wake)
        for sub in ("new", "cur"):
            (path / sub).mkdir(parents=True, exist_ok=True)
            self._observer.schedule(handler, str(path / sub), recursive=False)
        self._observer.daemon = True
        self._observer.start()

    def stop(self) -> None:
        self._observer.stop()
        self._observer.join(timeout=10)


def start_watcher(settings: Settings, wake: threading.Event, outages: Outages) -> Watcher | None:
    """The watcher for the configured mailbox, or None when push intake is switched off."""
    if not settings.imap_idle:
        return None
    if settings.mailbox == "imap":
        return ImapIdleWatcher(settings, wake, outages=outages)
    return MaildirWatcher(settings.effective_maildir, wake)
