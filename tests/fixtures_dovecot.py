"""Dovecot fixture — filled in by the intake work."""
