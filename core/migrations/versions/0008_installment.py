"""tariff and installment from master data: Abschlag per contract account, prices per meter

Revision ID: 0008_installment
Revises: 0007_decision
Create Date: 2026-12-06 22:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_installment"
down_revision = "0007_decision"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("contract_account") as batch:
        batch.add_column(sa.Column("monthly_installment", sa.Numeric(10, 2), nullable=True))
    with op.batch_alter_table("meter") as batch:
        batch.add_column(sa.Column("unit_price", sa.Numeric(12, 5), nullable=True))
        batch.add_column(sa.Column("base_price", sa.Numeric(10, 2), nullable=True))


def downgrade() -> None:
    for table, column in (
        ("meter", "base_price"),
        ("meter", "unit_price"),
        ("contract_account", "monthly_installment"),
    ):
        if op.get_context().dialect.name == "sqlite":  # a batch copy trips the foreign keys
            op.execute(sa.text(f'ALTER TABLE "{table}" DROP COLUMN "{column}"'))
        else:
            op.drop_column(table, column)
