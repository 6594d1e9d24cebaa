"""decision: each reading knows its photo; a review task keeps the decision's working

Revision ID: 0004_decision
Revises: 0003
Create Date: 2026-12-06 21:55:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_decision"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("reading") as batch:
        batch.add_column(sa.Column("photo_id", sa.Integer(), nullable=True))
        batch.create_foreign_key("fk_reading_photo_id_photo", "photo", ["photo_id"], ["id"])
    with op.batch_alter_table("review_task") as batch:
        batch.add_column(sa.Column("details", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("review_task") as batch:
        batch.drop_column("details")
    with op.batch_alter_table("reading") as batch:
        batch.drop_constraint("fk_reading_photo_id_photo", type_="foreignkey")
        batch.drop_column("photo_id")
