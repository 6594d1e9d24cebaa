"""decision: each reading knows the photo it was read from

The review task's details column, which keeps the decision's working, comes with 0006_reuse.

Revision ID: 0007_decision
Revises: 0006_reuse
Create Date: 2026-12-06 21:55:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_decision"
down_revision = "0006_reuse"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("reading") as batch:
        batch.add_column(sa.Column("photo_id", sa.Integer(), nullable=True))
        batch.create_foreign_key("fk_reading_photo_id_photo", "photo", ["photo_id"], ["id"])


def downgrade() -> None:
    with op.batch_alter_table("reading") as batch:
        batch.drop_constraint("fk_reading_photo_id_photo", type_="foreignkey")
        batch.drop_column("photo_id")
