"""customer lookup: indexes for a customer's mails, readings, tasks and sent mails (DSGVO)

Export and erasure on a large database found these rows by whole-table reads; the worker's look-up
of a mail's reading uses reading.inbound_message_id too.

Revision ID: 0012_customer_lookup
Revises: 0011_account_moves
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012_customer_lookup"
down_revision = "0011_account_moves"
branch_labels = None
depends_on = None

COLUMNS = (
    ("reading", "inbound_message_id"),
    ("reading", "photo_id"),
    ("review_task", "meter_id"),
    ("review_task", "photo_id"),
    ("outbox", "inbound_message_id"),
    ("campaign_recipient", "customer_id"),
    ("meter_account_move", "from_account_id"),
)
LOWERED = (("inbound_message", "sender"), ("outbox", "recipient"))


def upgrade() -> None:
    for table, column in COLUMNS:
        op.create_index(f"ix_{table}_{column}", table, [column])
    for table, column in LOWERED:
        op.create_index(f"ix_{table}_{column}_lower", table, [sa.func.lower(sa.column(column))])


def downgrade() -> None:
    for table, column in (*COLUMNS, *LOWERED):
        suffix = "_lower" if (table, column) in LOWERED else ""
        op.drop_index(f"ix_{table}_{column}{suffix}", table_name=table)
