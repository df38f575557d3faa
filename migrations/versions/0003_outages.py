"""outages: reports and outages, with the partial unique indexes that keep them single

Revision ID: 0003
Revises: 0001
Create Date: 2026-11-25 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import core.db

revision = "0003"
down_revision = "0001"
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
OPEN_REPORT = "cancelled_at IS NULL AND closed_at IS NULL"
ACTIVE_OUTAGE = "status <> 'restored' AND merged_into_id IS NULL"


def upgrade() -> None:
    op.create_table(
        "outages",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("device_kind", sa.String(length=16), nullable=False),
        sa.Column("device_id", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("cause", sa.String(length=80), nullable=True),
        sa.Column("crew", sa.String(length=40), nullable=True),
        sa.Column("customers_affected", sa.Integer(), nullable=False),
        sa.Column("etr", core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("etr_version", sa.Integer(), nullable=False),
        sa.Column("started_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("confirmed_at", core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("restored_at", core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("updated_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("merged_into_id", BIG_ID, nullable=True),
        sa.ForeignKeyConstraint(
            ["merged_into_id"], ["outages.id"], name=op.f("fk_outages_merged_into_id_outages")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outages")),
    )
    with op.batch_alter_table("outages", schema=None) as batch_op:
        batch_op.create_index("ix_outages_status", ["status"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_outages_merged_into_id"), ["merged_into_id"], unique=False
        )
        batch_op.create_index(
            "uq_outages_active_device",
            ["device_kind", "device_id"],
            unique=True,
            sqlite_where=sa.text(ACTIVE_OUTAGE),
            postgresql_where=sa.text(ACTIVE_OUTAGE),
        )

    op.create_table(
        "outage_reports",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("premise_id", BIG_ID, nullable=False),
        sa.Column("service_point_id", BIG_ID, nullable=True),
        sa.Column("source", sa.String(length=12), nullable=False),
        sa.Column("contact_id", BIG_ID, nullable=True),
        sa.Column("channel", sa.String(length=12), nullable=True),
        sa.Column("hazard", sa.String(length=40), nullable=True),
        sa.Column("outage_id", BIG_ID, nullable=True),
        sa.Column("created_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("cancelled_at", core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("closed_at", core.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["contact_id"], ["contacts.id"], name=op.f("fk_outage_reports_contact_id_contacts")
        ),
        sa.ForeignKeyConstraint(
            ["outage_id"], ["outages.id"], name=op.f("fk_outage_reports_outage_id_outages")
        ),
        sa.ForeignKeyConstraint(
            ["premise_id"], ["premises.id"], name=op.f("fk_outage_reports_premise_id_premises")
        ),
        sa.ForeignKeyConstraint(
            ["service_point_id"],
            ["service_points.id"],
            name=op.f("fk_outage_reports_service_point_id_service_points"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outage_reports")),
    )
    with op.batch_alter_table("outage_reports", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_outage_reports_premise_id"), ["premise_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_outage_reports_service_point_id"), ["service_point_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_outage_reports_outage_id"), ["outage_id"], unique=False
        )
        batch_op.create_index(
            "uq_outage_reports_open_premise",
            ["premise_id"],
            unique=True,
            sqlite_where=sa.text(OPEN_REPORT),
            postgresql_where=sa.text(OPEN_REPORT),
        )


def downgrade() -> None:
    with op.batch_alter_table("outage_reports", schema=None) as batch_op:
        batch_op.drop_index("uq_outage_reports_open_premise")
        batch_op.drop_index(batch_op.f("ix_outage_reports_outage_id"))
        batch_op.drop_index(batch_op.f("ix_outage_reports_service_point_id"))
        batch_op.drop_index(batch_op.f("ix_outage_reports_premise_id"))
    op.drop_table("outage_reports")
    with op.batch_alter_table("outages", schema=None) as batch_op:
        batch_op.drop_index("uq_outages_active_device")
        batch_op.drop_index(batch_op.f("ix_outages_merged_into_id"))
        batch_op.drop_index("ix_outages_status")
    op.drop_table("outages")
