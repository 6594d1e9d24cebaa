"""SMTP fixture (aiosmtpd) — filled in by the notifications work."""
