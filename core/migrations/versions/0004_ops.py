"""operations: worker heartbeats, retention purge and erasure marks

Revision ID: 0004_ops
Revises: 0003
Create Date: 2026-12-06 21:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from core.models import UtcDateTime

revision = "0004_ops"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "worker_heartbeat",
        sa.Column("worker", sa.String(length=200), nullable=False),
        sa.Column("host", sa.String(length=200), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("started_at", UtcDateTime(), nullable=False),
        sa.Column("beat_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("worker", name=op.f("pk_worker_heartbeat")),
    )
    op.create_index(op.f("ix_worker_heartbeat_beat_at"), "worker_heartbeat", ["beat_at"])
    with op.batch_alter_table("inbound_message") as batch:
        batch.add_column(sa.Column("purged_at", UtcDateTime(), nullable=True))
    with op.batch_alter_table("customer") as batch:
        batch.add_column(sa.Column("erased_at", UtcDateTime(), nullable=True))


def downgrade() -> None:
    # plain DROP COLUMN (SQLite >= 3.35): a batch copy of these tables would trip the foreign
    # keys that point at them
    op.execute("ALTER TABLE customer DROP COLUMN erased_at")
    op.execute("ALTER TABLE inbound_message DROP COLUMN purged_at")
    op.drop_index(op.f("ix_worker_heartbeat_beat_at"), table_name="worker_heartbeat")
    op.drop_table("worker_heartbeat")
