"""Logging for the CLI entry points only; library code just calls `logging.getLogger`."""

from __future__ import annotations

import contextvars
import json
import logging
import sys

current_mail: contextvars.ContextVar[int | None] = contextvars.ContextVar(
    "current_mail", default=None
)


class _MailTag(logging.Filter):
    """Tag every record with the ledger id of the mail being processed (or '-')."""

    def filter(self, record: logging.LogRecord) -> bool:
        mail = current_mail.get()
        record.mail = f"mail={mail}" if mail is not None else "-"
        return True


class _JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        payload = {
            "time": self.formatTime(record),
            "level": record.levelname,
            "logger": record.name,
            "mail": current_mail.get(),
            "message": record.getMessage(),
        }
        if record.exc_info:
            payload["exception"] = self.formatException(record.exc_info)
        return json.dumps(payload, ensure_ascii=False)


def configure_logging(level: str, *, json_lines: bool = False) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(_MailTag())
    if json_lines:
        handler.setFormatter(_JsonFormatter())
    else:
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)-7s %(name)s [%(mail)s] %(message)s")
        )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
