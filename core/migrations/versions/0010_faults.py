"""faults: who holds the lease on a mail or an outbox row being worked on

`claimed_by` names the worker process (host, PID, process start time), so a lease held by a
process that is provably gone on the same host is taken over at once.

Revision ID: 0010_faults
Revises: 0009_ui
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_faults"
down_revision = "0009_ui"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ("inbound_message", "outbox"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("claimed_by", sa.String(length=200), nullable=True))


def downgrade() -> None:
    for table in ("inbound_message", "outbox"):
        if op.get_context().dialect.name == "sqlite":  # a batch copy trips the foreign keys
            op.execute(sa.text(f'ALTER TABLE "{table}" DROP COLUMN "claimed_by"'))
        else:
            op.drop_column(table, "claimed_by")
