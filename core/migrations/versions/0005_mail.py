"""customer mails: reminder opt-out, unsubscribe links, paced campaigns, confirmation charts

Revision ID: 0005_mail
Revises: 0004_ops
Create Date: 2026-12-06 21:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import core.models

revision = "0005_mail"
down_revision = "0004_ops"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("customer") as batch:
        batch.add_column(
            sa.Column("campaign_opt_out_at", core.models.UtcDateTime(timezone=True), nullable=True)
        )
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("unsubscribe_url", sa.String(length=998), nullable=True))
        batch.add_column(sa.Column("inline_png", sa.LargeBinary(), nullable=True))
    with op.batch_alter_table("campaign") as batch:
        batch.add_column(
            sa.Column("send_from", core.models.UtcDateTime(timezone=True), nullable=True)
        )
        batch.add_column(sa.Column("max_per_hour", sa.Integer(), nullable=True))


def downgrade() -> None:
    for table, column in (
        ("campaign", "max_per_hour"),
        ("campaign", "send_from"),
        ("outbox", "inline_png"),
        ("outbox", "unsubscribe_url"),
        ("customer", "campaign_opt_out_at"),
    ):
        _drop_column(table, column)


def _drop_column(table: str, column: str) -> None:
    """SQLite drops a plain column in place; a batch copy of `customer` would trip the foreign
    keys that point at it."""
    if op.get_context().dialect.name == "sqlite":
        op.execute(sa.text(f'ALTER TABLE "{table}" DROP COLUMN "{column}"'))
    else:
        op.drop_column(table, column)
