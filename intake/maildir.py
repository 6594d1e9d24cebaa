"""A Maildir as mail source (the embedded default): new/ and cur/ of the top folder = inbox."""

from __future__ import annotations

import mailbox
import os
from collections.abc import Iterator
from pathlib import Path

from core.errors import MailboxError
from core.formatting import os_error_text
from intake.sources import FOLDERS, MessageGone, RawMailRef

HEADER_END = (b"\r\n\r\n", b"\n\n")


def missing_maildir(path: Path) -> str:
    what = "ist kein Verzeichnis" if path.exists() else "gibt es nicht"
    folders = " ".join(str(path / sub) for sub in ("new", "cur", "tmp"))
    return (
        f"Maildir {path} {what} (METER_INTAKE_MAILDIR_PATH): Pfad prüfen oder das Maildir "
        f"anlegen (mkdir -p {folders})"
    )


class MaildirSource:
    """Maildir++ layout: sub-folders `.Processed`, `.Needs-Review`, `.Rejected` (made on demand)."""

    def __init__(self, path: Path, *, create: bool = True) -> None:
        self.path = path.resolve()
        if not create and not self.path.is_dir():
            raise MailboxError(missing_maildir(path))
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._box = mailbox.Maildir(self.path, factory=None, create=True)
        except OSError as exc:
            raise MailboxError(
                f"Maildir {self.path} nicht nutzbar: {os_error_text(exc, named=True)}"
            ) from exc

    @property
    def name(self) -> str:
        return f"maildir:{self.path}"[:200]

    def list_new(self) -> Iterator[RawMailRef]:
        for sub in ("new", "cur"):
            folder = self.path / sub
            try:
                entries = sorted(os.scandir(folder), key=lambda e: e.name)
            except OSError as exc:
                raise MailboxError(
                    f"Maildir {self.path} nicht lesbar: {os_error_text(exc, named=True)}"
                ) from exc
            for entry in entries:
                if entry.is_file() and not entry.name.startswith("."):
                    key = entry.name.split(mailbox.Maildir.colon, 1)[0]
                    yield RawMailRef(source_key=key, size=entry.stat().st_size)

    def _locate(self, root: Path, key: str) -> Path | None:
        for sub in ("new", "cur"):
            folder = root / sub
            if not folder.is_dir():
                continue
            for entry in os.scandir(folder):
                if entry.name.split(mailbox.Maildir.colon, 1)[0] == key:
                    return Path(entry.path)
        return None

    def _inbox_path(self, key: str) -> Path:
        path = self._locate(self.path, key)
        if path is None:
            raise MessageGone(f"Mail {key} ist nicht mehr im Maildir {self.path}")
        return path

    def fetch(self, ref: RawMailRef) -> bytes:
        try:
            return self._inbox_path(ref.source_key).read_bytes()
        except OSError as exc:
            raise MailboxError(
                f"Mail {ref.source_key} nicht lesbar: {os_error_text(exc, named=True)}"
            ) from exc

    def fetch_headers(self, ref: RawMailRef) -> bytes:
        with self._inbox_path(ref.source_key).open("rb") as handle:
            head = handle.read(256 * 1024)
        cut = min((head.find(sep) for sep in HEADER_END if sep in head), default=len(head))
        return head[:cut]

    def _folder(self, folder: str) -> Path:
        if folder not in self._box.list_folders():
            self._box.add_folder(folder)
        return self.path / f".{folder}"

    def move(self, source_key: str, folder: str) -> None:
        try:
            path = self._locate(self.path, source_key)
            if path is None:
                if any(self._locate(self.path / f".{f}", source_key) for f in FOLDERS):
                    return  # moved already (crash after the rename, before the ledger update)
                raise MessageGone(f"Mail {source_key} ist nicht mehr im Maildir {self.path}")
            target = self._folder(folder) / path.parent.name / path.name
            os.replace(path, target)
        except OSError as exc:
            raise MailboxError(
                f"Mail {source_key} nicht verschiebbar: {os_error_text(exc, named=True)}"
            ) from exc

    def rescan(self) -> None:
        """Every `list_new` reads the whole folder already."""

    def close(self) -> None:
        self._box.close()
