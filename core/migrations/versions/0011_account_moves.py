"""account moves: which contract account a meter belonged to before the import moved it

Revision ID: 0011_account_moves
Revises: 0010_faults
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import core.models

revision = "0011_account_moves"
down_revision = "0010_faults"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "meter_account_move",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("meter_id", sa.Integer(), nullable=False),
        sa.Column("from_account_id", sa.Integer(), nullable=False),
        sa.Column("to_account_id", sa.Integer(), nullable=False),
        sa.Column("moved_on", sa.Date(), nullable=False),
        sa.Column("recorded_at", core.models.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["meter_id"], ["meter.id"], name=op.f("fk_meter_account_move_meter_id_meter")
        ),
        sa.ForeignKeyConstraint(
            ["from_account_id"], ["contract_account.id"],
            name=op.f("fk_meter_account_move_from_account_id_contract_account"),
        ),
        sa.ForeignKeyConstraint(
            ["to_account_id"], ["contract_account.id"],
            name=op.f("fk_meter_account_move_to_account_id_contract_account"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_meter_account_move")),
    )  # fmt: skip
    op.create_index(
        "ix_meter_account_move_meter_moved", "meter_account_move", ["meter_id", "moved_on"]
    )


def downgrade() -> None:
    op.drop_index("ix_meter_account_move_meter_moved", table_name="meter_account_move")
    op.drop_table("meter_account_move")
