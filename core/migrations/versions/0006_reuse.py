"""review task details: the facts a clerk needs beside the reason codes

Structured details such as the earlier mail of a reused photo or the reading a correction would
replace.

Revision ID: 0006_reuse
Revises: 0005_mail
Create Date: 2026-12-06 21:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_reuse"
down_revision = "0005_mail"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("review_task") as batch:
        batch.add_column(sa.Column("details", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("review_task") as batch:
        batch.drop_column("details")
