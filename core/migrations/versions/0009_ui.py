"""review UI: task claims (lease), correction rows for exported readings, queue and dashboard indexes

Revision ID: 0009_ui
Revises: 0008_installment
Create Date: 2026-12-06 21:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import core.models

revision = "0009_ui"
down_revision = "0008_installment"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("review_task") as batch:
        batch.add_column(sa.Column("claimed_by", sa.String(length=100), nullable=True))
        batch.add_column(
            sa.Column("claimed_until", core.models.UtcDateTime(timezone=True), nullable=True)
        )
        batch.create_index("ix_review_task_status_created", ["status", "created_at"])
    with op.batch_alter_table("reading") as batch:
        batch.add_column(sa.Column("corrects_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            "fk_reading_corrects_id_reading", "reading", ["corrects_id"], ["id"]
        )
        batch.create_index("ix_reading_created_at", ["created_at"])


def downgrade() -> None:
    with op.batch_alter_table("reading") as batch:
        batch.drop_index("ix_reading_created_at")
        batch.drop_constraint("fk_reading_corrects_id_reading", type_="foreignkey")
        batch.drop_column("corrects_id")
    with op.batch_alter_table("review_task") as batch:
        batch.drop_index("ix_review_task_status_created")
        batch.drop_column("claimed_until")
        batch.drop_column("claimed_by")
