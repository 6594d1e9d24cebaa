"""Client-side TLS for IMAP and SMTP: how the SSL context is made, and how a failure reads.

The server's certificate is always verified and must name the host we connect to
(`ssl.create_default_context`). A CA file, when set, replaces the system CAs, e.g. for a
company CA. There is deliberately no switch to turn verification off.
"""

from __future__ import annotations

import ssl
from pathlib import Path


def client_context(ca_file: Path | None) -> ssl.SSLContext:
    """A verifying client context; trusts `ca_file` if given, else the system CAs.

    Raises `OSError` naming the file if the CA file cannot be read or holds no certificate.
    """
    try:
        return ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
    except OSError as exc:  # ssl.SSLError is one, too (a file without a PEM certificate)
        raise OSError(f"CA-Datei {ca_file} nicht lesbar: {exc}") from exc


def describe_failure(exc: ssl.SSLError, *, ca_file: Path | None) -> str:
    """One line for a person: why the handshake failed, what the certificate was checked against."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        against = f"CA-Datei {ca_file}" if ca_file else "System-CAs"
        reason = exc.verify_message or exc.reason
        return f"Serverzertifikat nicht vertrauenswürdig: {reason} (geprüft gegen {against})"
    if exc.reason == "WRONG_VERSION_NUMBER":  # implicit TLS against a plaintext/STARTTLS port
        return "TLS-Aushandlung fehlgeschlagen: der Server spricht auf diesem Port kein TLS"
    return f"TLS-Aushandlung fehlgeschlagen: {exc.reason or exc}"
