"""account notes left by agents

Revision ID: 0006a
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import core.db

revision = "0006a"
down_revision = "0006"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "account_notes",
        sa.Column("id", _ID, nullable=False),
        sa.Column("account_id", _ID, nullable=False),
        sa.Column("agent_id", _ID, nullable=False),
        sa.Column("conversation_id", sa.BigInteger(), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"],
                                name=op.f("fk_account_notes_account_id_accounts")),
        sa.ForeignKeyConstraint(["agent_id"], ["agents.id"],
                                name=op.f("fk_account_notes_agent_id_agents")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_account_notes")),
    )
    op.create_index(op.f("ix_account_notes_account_id"), "account_notes", ["account_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_account_notes_account_id"), table_name="account_notes")
    op.drop_table("account_notes")
