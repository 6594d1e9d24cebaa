"""All configuration in one validated object, read from `METER_INTAKE_*` variables and `.env`."""

from __future__ import annotations

import ipaddress
import re
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError

from core.errors import ConfigError
from core.tls import client_context


class Settings(BaseSettings):
    """Every field is documented in docs/settings.md; a test checks that none is missing there."""

    model_config = SettingsConfigDict(
        env_prefix="METER_INTAKE_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    var_dir: Path = Field(default=Path("var"), description="Working directory for embedded data.")
    database_url: str = Field(
        default="",
        description="SQLAlchemy URL of PostgreSQL (postgresql+psycopg://USER:PASSWORD@HOST/DB) "
        "or SQLite (sqlite:////path/file.sqlite3), refused at start otherwise; empty = SQLite "
        "in var_dir.",
    )
    blob_dir: Path | None = Field(default=None, description="Blob store; empty = var_dir/blobs.")

    mailbox: Literal["maildir", "imap"] = Field(default="maildir", description="Mail source.")
    maildir_path: Path | None = Field(
        default=None,
        description="Maildir; empty = var_dir/mail (made on first use). A path set here must "
        "exist: otherwise the worker refuses to start (exit code 5).",
    )
    imap_host: str = Field(default="localhost", description="IMAP server host.")
    imap_port: int = Field(default=993, ge=1, le=65535, description="IMAP server port.")
    imap_security: Literal["ssl", "starttls", "none"] = Field(
        default="ssl", description="Transport security towards the IMAP server."
    )
    imap_ca_file: Path | None = Field(
        default=None,
        description="CA bundle to verify the IMAP server's certificate; empty = system CAs.",
    )
    imap_user: str = Field(default="", description="IMAP login name.")
    imap_password: str = Field(default="", description="IMAP password.")
    imap_folder: str = Field(default="INBOX", description="Folder polled for new mails.")
    imap_timeout_seconds: float = Field(default=30.0, gt=0, description="IMAP socket timeout.")

    smtp_host: str = Field(default="localhost", description="SMTP server host.")
    smtp_port: int = Field(default=25, ge=1, le=65535, description="SMTP server port.")
    smtp_security: Literal["none", "starttls", "ssl"] = Field(
        default="none", description="Transport security towards the SMTP server."
    )
    smtp_ca_file: Path | None = Field(
        default=None,
        description="CA bundle to verify the SMTP server's certificate; empty = system CAs.",
    )
    smtp_user: str = Field(default="", description="SMTP login name (empty = no AUTH).")
    smtp_password: str = Field(default="", description="SMTP password.")
    smtp_timeout_seconds: float = Field(default=30.0, gt=0, description="SMTP socket timeout.")
    smtp_enabled: bool = Field(default=True, description="Send outbox mails; off = keep queued.")
    mail_from: str = Field(
        default="Zählerstand <zaehlerstand@stadtwerke.example>",
        description="From address of every mail we send.",
    )
    send_max_attempts: int = Field(default=8, ge=1, description="Send tries before giving up.")
    send_retry_base_seconds: float = Field(
        default=60.0, gt=0, description="First retry delay; doubles per attempt."
    )

    max_message_bytes: int = Field(
        default=40 * 1024 * 1024,
        gt=0,
        description="Larger mails are not processed; the sender is asked for a smaller photo.",
    )
    max_image_pixels: int = Field(
        default=60_000_000,
        gt=0,
        description="Larger images are refused (decompression bombs); a larger JPEG is read at "
        "1/2, 1/4 or 1/8 of its size where that fits.",
    )
    max_attempts: int = Field(
        default=3,
        ge=1,
        description="Processing tries per mail (an outage of disk or database uses none up).",
    )
    tesseract_data_dir: str = Field(
        default="",
        description="Tesseract's language data folder (empty: TESSDATA_PREFIX or the system's).",
    )
    tesseract_timeout_seconds: float = Field(default=10.0, gt=0, description="Per call.")
    ocr_threads: int = Field(
        default=1,
        ge=0,
        description=(
            "Threads a worker process's OCR may use (OpenCV, Tesseract's OpenMP, BLAS). 1 = one "
            "core per worker: run as many workers as cores. 0 = the libraries' own defaults "
            "(each uses every core)."
        ),
    )

    auto_accept_min_confidence: float = Field(
        default=0.9, ge=0, le=1, description="OCR confidence needed for auto-accept."
    )
    max_daily_consumption: float = Field(
        default=500.0,
        gt=0,
        description=(
            "Hard ceiling in kWh per day (m³ meters: a tenth): above it a reading always goes"
            " to review. The main check is the meter's own history band (docs/decisions.md)."
        ),
    )
    photo_max_age_days: int = Field(
        default=30,
        ge=1,
        description=(
            "A photo whose EXIF capture time lies more days before the mail goes to a clerk "
            "(`photo_old`), as does one taken before the meter's last reading."
        ),
    )
    photo_similar_max_bits: int = Field(
        default=6,
        ge=0,
        le=32,
        description=(
            "Perceptual-hash distance (of 64 bits) up to which a photo counts as a copy of one "
            "of the customer's or meter's earlier photos (`photo_similar`); see "
            "bench/photo_reuse.py."
        ),
    )
    reply_to_unknown_senders: bool = Field(
        default=False,
        description=(
            "Answer mails from addresses that belong to no customer automatically; off = no "
            "automatic reply, a clerk sees the mail and may answer."
        ),
    )
    trusted_authserv_ids: str = Field(
        default="",
        description=(
            "Authserv-ids (comma-separated) of our own mail server's Authentication-Results "
            "headers (RFC 8601), e.g. mx.stadtwerke.example; a mail whose sender fails "
            "DMARC (or, without DMARC, SPF with no DKIM pass for the From domain) or that carries "
            "no such header is never booked automatically (sender_not_verified). Empty = the "
            "sender is not checked."
        ),
    )
    poll_interval_seconds: float = Field(
        default=30.0, gt=0, description="Worker loop pause; with IMAP IDLE the incremental check."
    )
    imap_idle: bool = Field(
        default=True,
        description="Wait for new mails with IMAP IDLE (Maildir: inotify) instead of only polling.",
    )
    full_reconcile_seconds: float = Field(
        default=600.0, gt=0, description="Period of a full re-read of the service folder."
    )
    claim_lease_seconds: float = Field(
        default=60.0,
        ge=5,
        description="Lease on a mail or outbox row being worked on; renewed while working.",
    )
    public_base_url: str = Field(
        default="http://127.0.0.1:8000", description="Address of the review UI, for links."
    )
    ui_host: str = Field(default="127.0.0.1", description="Review UI bind address.")
    ui_port: int = Field(default=8000, ge=1, le=65535, description="Review UI port.")
    session_hours: float = Field(default=12.0, gt=0, description="Clerk session lifetime.")
    cookie_secure: bool = Field(default=False, description="Mark the session cookie Secure.")
    forwarded_allow_ips: str = Field(
        default="",
        description=(
            "Reverse proxies (addresses or networks, comma-separated) whose X-Forwarded-For and "
            "X-Forwarded-Proto the review UI believes; empty = none (behind a proxy, the login "
            "backoff then counts every clerk's failures under the proxy's address)."
        ),
    )
    metrics_token: str = Field(
        default="",
        description="Bearer token for /metrics (Prometheus); empty = a clerk session is needed.",
    )
    worker_metrics_host: str = Field(
        default="127.0.0.1", description="Address the worker serves its own /metrics on."
    )
    worker_metrics_port: int = Field(
        default=0,
        ge=0,
        le=65535,
        description=(
            "Port of the worker's own /metrics (counters and histograms of that process; "
            "the metrics token applies); 0 = not served."
        ),
    )
    worker_heartbeat_max_age_seconds: float = Field(
        default=30.0,
        gt=0,
        description=(
            "A worker counts as live (/health, meter_intake_workers_live) while its newest "
            "heartbeat is younger than this; it beats every 10 s from a thread of its own, also "
            "while reading a slow photo: keep it at three beats or more. A worker on the same "
            "host as serve whose process is gone stops counting at once."
        ),
    )
    worker_stall_seconds: float = Field(
        default=300.0,
        gt=0,
        description=(
            "A worker whose loop has not moved on for this long (no pass begun, no mail "
            "decided) is taken to hang and stops beating; keep it above the longest mail."
        ),
    )
    blob_backend: Literal["directory", "s3"] = Field(
        default="directory",
        description="Where raw mails and photos are stored: a directory (blob_dir) or S3.",
    )
    s3_endpoint_url: str = Field(
        default="", description="S3-compatible endpoint (MinIO, Ceph RGW); empty = AWS S3."
    )
    s3_bucket: str = Field(default="", description="S3 bucket for blobs (must exist).")
    s3_prefix: str = Field(default="blobs/", description="Key prefix of the blobs in the bucket.")
    s3_region: str = Field(default="eu-central-1", description="S3 region.")
    s3_access_key_id: str = Field(
        default="", description="S3 access key; empty = boto3's usual credential chain."
    )
    s3_secret_access_key: str = Field(default="", description="S3 secret key (password).")
    retain_raw_mail_days: int = Field(
        default=90,
        ge=0,
        description=(
            "Days a raw mail is kept after its reading was booked or rejected (0 = forever)."
        ),
    )
    retain_photo_days: int = Field(
        default=400,
        ge=0,
        description=(
            "Days photos are kept after the reading was booked or rejected, as evidence for "
            "objections to the annual bill (0 = forever)."
        ),
    )
    retain_ocr_days: int = Field(
        default=400,
        ge=0,
        description=(
            "Days OCR results are kept after booking or rejection (0 = forever); they go with "
            "their photo at the latest."
        ),
    )
    purge_interval_hours: float = Field(
        default=24.0, ge=0, description="The worker runs the retention purge this often; 0 = never."
    )
    verp_bounces: bool = Field(
        default=True,
        description=(
            "Send with the envelope sender local+bounce-<id>@domain, so a bounce names the mail "
            "it is about even when it quotes nothing (the mailbox must accept +suffixes)."
        ),
    )
    campaign_max_per_hour: int = Field(
        default=600, ge=1, description="Reminder mails a campaign hands to SMTP per hour at most."
    )
    unsubscribe_secret: str = Field(
        default="",
        description=(
            "Key that signs the unsubscribe links in reminder mails; empty = a random key kept in "
            "var_dir/unsubscribe.key (set it when several hosts serve the review UI)."
        ),
    )
    log_level: str = Field(default="INFO", description="Logging level.")
    log_json: bool = Field(
        default=False,
        description="Log one JSON object per line (with the mail's ledger id as `mail`).",
    )

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        upper = value.upper()
        if upper not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ValueError("must be DEBUG, INFO, WARNING or ERROR")
        return upper

    @property
    def authserv_ids(self) -> frozenset[str]:
        return frozenset(
            part.lower() for part in re.split(r"[,\s]+", self.trusted_authserv_ids) if part
        )

    @field_validator("database_url")
    @classmethod
    def _usable_database_url(cls, value: str) -> str:
        """A URL SQLAlchemy can open with a backend we run on, checked at start-up (the value
        may hold a password: it is never repeated in the message)."""
        if not value:
            return value
        try:
            backend = make_url(value).get_dialect().name
        except (ArgumentError, NoSuchModuleError):
            backend = ""
        if backend not in ("sqlite", "postgresql"):
            raise ValueError(
                "keine Datenbank-URL für PostgreSQL oder SQLite (z. B. "
                "postgresql+psycopg://BENUTZER:PASSWORT@HOST:5432/DATENBANK oder "
                "sqlite:////pfad/zur/datei.sqlite3; leer = SQLite im Datenverzeichnis)"
            )
        return value

    @field_validator("forwarded_allow_ips")
    @classmethod
    def _proxy_networks(cls, value: str) -> str:
        hosts = [h.strip() for h in value.split(",") if h.strip()]
        for host in hosts:
            try:
                ipaddress.ip_network(host, strict=False)
            except ValueError:
                raise ValueError(f"{host!r} is no IP address or network") from None
        return ",".join(hosts)

    @field_validator("imap_ca_file", "smtp_ca_file", "blob_dir", "maildir_path", mode="before")
    @classmethod
    def _empty_means_default(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("imap_ca_file", "smtp_ca_file")
    @classmethod
    def _readable_ca_file(cls, value: Path | None) -> Path | None:
        if value is not None:
            try:
                client_context(value)  # fail at start-up, not at the first connection
            except OSError as exc:
                raise ValueError(str(exc)) from exc
        return value

    @model_validator(mode="after")
    def _no_cleartext_passwords(self) -> Settings:
        """A password goes over the network only encrypted (loopback servers excepted)."""
        if self.smtp_user and self.smtp_security == "none" and not _loopback(self.smtp_host):
            raise ValueError(
                "METER_INTAKE_SMTP_SECURITY=none with METER_INTAKE_SMTP_USER set would send the "
                "password unencrypted; use starttls or ssl"
            )
        if (
            self.mailbox == "imap"
            and self.imap_security == "none"
            and not _loopback(self.imap_host)
        ):
            raise ValueError(
                "METER_INTAKE_IMAP_SECURITY=none would send the IMAP password unencrypted; "
                "use ssl or starttls"
            )
        return self

    @model_validator(mode="after")
    def _s3_needs_a_bucket(self) -> Settings:
        if self.blob_backend == "s3" and not self.s3_bucket:
            raise ValueError("METER_INTAKE_BLOB_BACKEND=s3 needs METER_INTAKE_S3_BUCKET")
        return self

    @cached_property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.var_dir / 'meter-intake.sqlite3').resolve()}"

    @property
    def effective_blob_dir(self) -> Path:
        return self.blob_dir or self.var_dir / "blobs"

    @property
    def site_model_dir(self) -> Path:
        """Site models (`meter-intake train`): var_dir/models, never the repository."""
        return self.var_dir / "models"

    @property
    def effective_maildir(self) -> Path:
        return self.maildir_path or self.var_dir / "mail"

    @property
    def maildir_may_be_made(self) -> bool:
        """The default Maildir (var_dir/mail) is made on first use; one named otherwise must
        exist, so that a typo in the path is refused instead of polling an empty new folder."""
        return self.effective_maildir.resolve() == (self.var_dir / "mail").resolve()


def _loopback(host: str) -> bool:
    return host in {"localhost", "::1"} or host.startswith("127.")


def load_settings(**overrides: object) -> Settings:
    """Read the settings; turn validation errors into one readable `ConfigError`."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = "; ".join(
            f"METER_INTAKE_{'_'.join(str(p) for p in err['loc']).upper()}: {_message(err['msg'])}"
            if err["loc"]
            else _message(err["msg"])
            for err in exc.errors()
        )
        raise ConfigError(f"Ungültige Einstellung: {problems}") from exc


def _message(text: str) -> str:
    """pydantic's message without its English "Value error, " in front of ours."""
    return text.removeprefix("Value error, ")


def settings_markdown() -> str:
    """The settings reference in docs/settings.md, generated from the field descriptions."""
    lines = [
        "# Settings",
        "",
        "Every setting is an environment variable (or a line in `.env` in the working directory).",
        "Generated from `core/settings.py` by `python -m core.settings`; a test keeps it current.",
        "",
        "| variable | default | meaning |",
        "|---|---|---|",
    ]
    for name, field in Settings.model_fields.items():
        default = "" if field.default is None else str(field.default)
        if "password" in name or "token" in name or "secret" in name:
            default = ""
        lines.append(f"| `METER_INTAKE_{name.upper()}` | `{default}` | {field.description} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    Path("docs/settings.md").write_text(settings_markdown(), encoding="utf-8")
