"""One exception tree for meter-intake. Each error carries the CLI exit code it maps to."""

from __future__ import annotations


class MeterIntakeError(Exception):
    """Base of every error we raise on purpose. The message is meant for a person."""

    exit_code = 1


class ConfigError(MeterIntakeError):
    """A setting is missing or invalid; fix the environment or `.env`."""

    exit_code = 2


class UsageError(MeterIntakeError):
    """The command was called wrongly (bad argument, missing file)."""

    exit_code = 2


class ToolMissingError(MeterIntakeError):
    """An external program (Tesseract, its language data) is not installed."""

    exit_code = 3


class DatabaseError(MeterIntakeError):
    """The database cannot be reached or is not migrated."""

    exit_code = 4


class MailboxError(MeterIntakeError):
    """The mailbox cannot be reached, logged into or read."""

    exit_code = 5


class ImportRowError(MeterIntakeError):
    """One row of a master-data import is invalid; names the row and the field."""

    def __init__(self, row: int, field: str, message: str) -> None:
        super().__init__(f"Zeile {row}, Feld {field!r}: {message}")
        self.row = row
        self.field = field


class ImageError(MeterIntakeError):
    """An image cannot be decoded, is too large, or is otherwise unusable."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class OcrToolError(MeterIntakeError):
    """Tesseract failed on one image (crash, timeout, garbage); the read degrades to review."""


class SendError(MeterIntakeError):
    """An outgoing mail could not be handed to the SMTP server (will be retried)."""


class NotFoundError(MeterIntakeError):
    """The record asked for (a review task, a meter) does not exist."""


class ConflictError(MeterIntakeError):
    """The action clashes with the current state, e.g. a review task that was already decided."""


class InvalidInputError(MeterIntakeError):
    """A value given by a person cannot be used (e.g. more digits than the meter has)."""


class BlobStoreError(MeterIntakeError):
    """The blob store (directory or S3) cannot be reached or refused an operation."""

    exit_code = 6


class BackupError(MeterIntakeError):
    """A backup cannot be written, or a backup to restore is incomplete or damaged."""

    exit_code = 7
