"""Errors of the notifications stage, all part of the one tree in `core.errors`."""

from __future__ import annotations

from core.errors import MeterIntakeError, SendError


class InvalidRecipientError(MeterIntakeError, ValueError):
    """A recipient address is malformed or carries line breaks (header injection); not queued."""


class TemplateContextError(MeterIntakeError, ValueError):
    """A mail kind is unknown or its template context lacks a required value."""


class TemporarySendError(SendError):
    """The SMTP server could not take the mail right now (4xx, network, TLS, auth): retry later."""

    permanent = False

    def __init__(self, message: str, *, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code


class PermanentSendError(SendError):
    """The SMTP server refused the mail for good (5xx on recipient or data): do not retry."""

    permanent = True

    def __init__(self, message: str, *, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code
