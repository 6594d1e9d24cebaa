"""meter display: the kind of counter (drums or a display) from master data

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 16:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("meter") as batch:
        batch.add_column(sa.Column("display", sa.String(length=8), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("meter") as batch:
        batch.drop_column("display")
