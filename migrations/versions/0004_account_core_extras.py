"""Account-core extras: ledger and adjustment codes, idempotent payment references.

Revision ID: 0004
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0001"
branch_labels = None
depends_on = None

_PAYMENT_WITH_REFERENCE = "kind = 'payment' AND reference IS NOT NULL"


def upgrade() -> None:
    with op.batch_alter_table("ledger_entries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("code", sa.String(length=24), nullable=True))
    with op.batch_alter_table("adjustment_requests", schema=None) as batch_op:
        batch_op.add_column(sa.Column("code", sa.String(length=24), nullable=True))
    op.create_index(
        "uq_ledger_entries_payment_reference",
        "ledger_entries",
        ["reference"],
        unique=True,
        sqlite_where=sa.text(_PAYMENT_WITH_REFERENCE),
        postgresql_where=sa.text(_PAYMENT_WITH_REFERENCE),
    )


def downgrade() -> None:
    op.drop_index("uq_ledger_entries_payment_reference", table_name="ledger_entries")
    with op.batch_alter_table("adjustment_requests", schema=None) as batch_op:
        batch_op.drop_column("code")
    with op.batch_alter_table("ledger_entries", schema=None) as batch_op:
        batch_op.drop_column("code")
