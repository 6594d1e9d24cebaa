"""campaign mails: opt-out per customer, one-click unsubscribe URL, scheduled and paced campaigns

Revision ID: 0004_mail
Revises: 0003
Create Date: 2026-12-06 21:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import core.models

revision = "0004_mail"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("customer") as batch:
        batch.add_column(
            sa.Column("campaign_opt_out_at", core.models.UtcDateTime(timezone=True), nullable=True)
        )
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("unsubscribe_url", sa.String(length=998), nullable=True))
    with op.batch_alter_table("campaign") as batch:
        batch.add_column(
            sa.Column("send_from", core.models.UtcDateTime(timezone=True), nullable=True)
        )
        batch.add_column(sa.Column("max_per_hour", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("campaign") as batch:
        batch.drop_column("max_per_hour")
        batch.drop_column("send_from")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("unsubscribe_url")
    with op.batch_alter_table("customer") as batch:
        batch.drop_column("campaign_opt_out_at")
