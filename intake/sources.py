"""What the worker needs from a mailbox, whatever kind it is (Maildir, IMAP)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from core.errors import MailboxError

PROCESSED = "Processed"
NEEDS_REVIEW = "Needs-Review"
REJECTED = "Rejected"
FOLDERS = (PROCESSED, NEEDS_REVIEW, REJECTED)


@dataclass(frozen=True)
class RawMailRef:
    """One mail in a source. `source_key` is stable across passes (Maildir key, imap:<vv>:<uid>)."""

    source_key: str
    size: int | None = None
    uidvalidity: int | None = None
    uid: int | None = None


class MessageGone(MailboxError):
    """The mail is no longer where the ledger says it was (moved by hand, or UIDVALIDITY changed).

    Nothing to retry: the caller records the move as done and goes on.
    """


class MailSource(Protocol):
    """A mailbox. `name` identifies it in the ledger (unique with `source_key`)."""

    @property
    def name(self) -> str: ...

    def list_new(self) -> Iterable[RawMailRef]:
        """Mails waiting in the inbox (the ledger filters out those it already holds)."""
        ...

    def fetch(self, ref: RawMailRef) -> bytes:
        """The raw RFC 5322 bytes; the mail stays unseen/unmoved."""
        ...

    def fetch_headers(self, ref: RawMailRef) -> bytes:
        """Only the header block (for mails too large to fetch)."""
        ...

    def move(self, source_key: str, folder: str) -> None:
        """Move the mail to `folder` (created when missing). Idempotent; MessageGone if vanished."""
        ...

    def rescan(self) -> None:
        """Read the whole folder on the next `list_new` (after a failure mid-way)."""
        ...

    def close(self) -> None: ...
