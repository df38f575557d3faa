"""notifications and storm mode: notice batches, the notices outbox, the storm state row

Revision ID: 0007
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import core.db

revision = "0007"
down_revision = "0003"  # notice batches point at outages
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
WHEN = core.db.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "notice_batches",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("outage_id", BIG_ID, nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("etr", WHEN, nullable=True),
        sa.Column("urgent", sa.Boolean(), nullable=False),
        sa.Column("planned", sa.Integer(), nullable=False),
        sa.Column("trigger", sa.String(length=40), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.ForeignKeyConstraint(["outage_id"], ["outages.id"],
                                name=op.f("fk_notice_batches_outage_id_outages")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notice_batches")),
        sa.UniqueConstraint("outage_id", "kind", "version",
                            name=op.f("uq_notice_batches_outage_id_kind_version")),
    )
    op.create_table(
        "notices",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("batch_id", BIG_ID, nullable=False),
        sa.Column("outage_id", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("address", sa.String(length=254), nullable=False),
        sa.Column("channel", sa.String(length=12), nullable=False),
        sa.Column("contact_id", sa.BigInteger(), nullable=True),
        sa.Column("customer_id", sa.BigInteger(), nullable=True),
        sa.Column("premise_id", sa.BigInteger(), nullable=True),
        sa.Column("language", sa.String(length=5), nullable=False),
        sa.Column("urgent", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("not_before", WHEN, nullable=False),
        sa.Column("attempts", sa.SmallInteger(), nullable=False),
        sa.Column("sender", sa.String(length=64), nullable=True),
        sa.Column("body", sa.Text(), nullable=True),
        sa.Column("told_etr_version", sa.Integer(), nullable=True),
        sa.Column("provider_id", sa.String(length=64), nullable=True),
        sa.Column("error_code", sa.String(length=32), nullable=True),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("queued_at", WHEN, nullable=True),
        sa.Column("claimed_at", WHEN, nullable=True),
        sa.Column("sent_at", WHEN, nullable=True),
        sa.Column("status_at", WHEN, nullable=True),
        sa.ForeignKeyConstraint(["batch_id"], ["notice_batches.id"],
                                name=op.f("fk_notices_batch_id_notice_batches")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notices")),
        sa.UniqueConstraint("address", "outage_id", "kind", "version", name="uq_notices_key"),
    )
    with op.batch_alter_table("notices", schema=None) as batch_op:
        batch_op.create_index("ix_notices_status_not_before", ["status", "not_before"])
        batch_op.create_index("ix_notices_outage_id_kind_status",
                              ["outage_id", "kind", "status"])
        batch_op.create_index(batch_op.f("ix_notices_batch_id"), ["batch_id"])
    op.create_table(
        "storm_state",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("auto", sa.Boolean(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("changed_by", sa.String(length=80), nullable=True),
        sa.Column("changed_at", WHEN, nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=True),
        sa.Column("calm_since", WHEN, nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_storm_state")),
    )


def downgrade() -> None:
    op.drop_table("storm_state")
    with op.batch_alter_table("notices", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_notices_batch_id"))
        batch_op.drop_index("ix_notices_outage_id_kind_status")
        batch_op.drop_index("ix_notices_status_not_before")
    op.drop_table("notices")
    op.drop_table("notice_batches")
