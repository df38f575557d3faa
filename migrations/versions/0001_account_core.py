"""account core

Revision ID: 0001
Revises: 
Create Date: 2026-11-24 16:22:02.892764
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import core.db

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('api_tokens',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', core.db.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_tokens')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_api_tokens_token_hash'))
    )
    op.create_table('customers',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('first_name', sa.String(length=80), nullable=True),
    sa.Column('last_name', sa.String(length=80), nullable=True),
    sa.Column('business_name', sa.String(length=160), nullable=True),
    sa.Column('mailing_address', sa.String(length=200), nullable=True),
    sa.Column('mailing_city', sa.String(length=80), nullable=True),
    sa.Column('mailing_state', sa.String(length=2), nullable=True),
    sa.Column('mailing_zip', sa.String(length=10), nullable=True),
    sa.Column('language', sa.String(length=5), nullable=False),
    sa.Column('created_at', core.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_customers'))
    )
    with op.batch_alter_table('customers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_customers_mailing_zip'), ['mailing_zip'], unique=False)

    op.create_table('opt_outs',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('address', sa.String(length=254), nullable=False),
    sa.Column('opted_out', sa.Boolean(), nullable=False),
    sa.Column('keyword', sa.String(length=16), nullable=True),
    sa.Column('changed_at', core.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_opt_outs')),
    sa.UniqueConstraint('address', name=op.f('uq_opt_outs_address'))
    )
    op.create_table('substations',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_substations')),
    sa.UniqueConstraint('code', name=op.f('uq_substations_code'))
    )
    op.create_table('accounts',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('number', sa.String(length=20), nullable=False),
    sa.Column('customer_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('opened_on', sa.Date(), nullable=False),
    sa.Column('closed_on', sa.Date(), nullable=True),
    sa.Column('credit_rating', sa.String(length=8), nullable=False),
    sa.Column('cash_only', sa.Boolean(), nullable=False),
    sa.Column('energy_assistance', sa.Boolean(), nullable=False),
    sa.Column('medical_hold_until', sa.Date(), nullable=True),
    sa.Column('bankruptcy_filed_on', sa.Date(), nullable=True),
    sa.Column('bankruptcy_chapter', sa.Integer(), nullable=True),
    sa.Column('collection_stage', sa.String(length=20), nullable=False),
    sa.Column('collection_stage_at', core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('disconnect_pending', sa.Boolean(), nullable=False),
    sa.Column('disconnect_hold_reason', sa.String(length=40), nullable=True),
    sa.Column('created_at', core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_accounts_customer_id_customers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_accounts')),
    sa.UniqueConstraint('number', name=op.f('uq_accounts_number'))
    )
    with op.batch_alter_table('accounts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_accounts_customer_id'), ['customer_id'], unique=False)

    op.create_table('contacts',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('customer_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('value', sa.String(length=254), nullable=False),
    sa.Column('is_primary', sa.Boolean(), nullable=False),
    sa.Column('language', sa.String(length=5), nullable=False),
    sa.Column('preferred_channel', sa.String(length=12), nullable=False),
    sa.Column('outage_alerts', sa.Boolean(), nullable=False),
    sa.Column('consent_at', core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('verified_at', core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_contacts_customer_id_customers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_contacts')),
    sa.UniqueConstraint('customer_id', 'kind', 'value', name=op.f('uq_contacts_customer_id_kind_value'))
    )
    with op.batch_alter_table('contacts', schema=None) as batch_op:
        batch_op.create_index('ix_contacts_value', ['value'], unique=False)

    op.create_table('feeders',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('substation_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.ForeignKeyConstraint(['substation_id'], ['substations.id'], name=op.f('fk_feeders_substation_id_substations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_feeders')),
    sa.UniqueConstraint('code', name=op.f('uq_feeders_code'))
    )
    with op.batch_alter_table('feeders', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_feeders_substation_id'), ['substation_id'], unique=False)

    op.create_table('arrangements',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('account_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('total_cents', sa.BigInteger(), nullable=False),
    sa.Column('down_payment_cents', sa.BigInteger(), nullable=False),
    sa.Column('installment_count', sa.Integer(), nullable=False),
    sa.Column('created_on', sa.Date(), nullable=False),
    sa.Column('ended_on', sa.Date(), nullable=True),
    sa.Column('created_by', sa.String(length=80), nullable=False),
    sa.Column('created_at', core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_arrangements_account_id_accounts')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_arrangements'))
    )
    with op.batch_alter_table('arrangements', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_arrangements_account_id'), ['account_id'], unique=False)

    op.create_table('audit_entries',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('at', core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=80), nullable=False),
    sa.Column('actor_role', sa.String(length=16), nullable=False),
    sa.Column('action', sa.String(length=40), nullable=False),
    sa.Column('entity', sa.String(length=40), nullable=False),
    sa.Column('entity_id', sa.String(length=40), nullable=True),
    sa.Column('account_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('before', sa.JSON(), nullable=True),
    sa.Column('after', sa.JSON(), nullable=True),
    sa.Column('reason', sa.String(length=200), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_audit_entries_account_id_accounts')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_entries'))
    )
    with op.batch_alter_table('audit_entries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_entries_account_id'), ['account_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_entries_at'), ['at'], unique=False)

    op.create_table('bills',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('account_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('period_start', sa.Date(), nullable=False),
    sa.Column('period_end', sa.Date(), nullable=False),
    sa.Column('issued_on', sa.Date(), nullable=False),
    sa.Column('due_on', sa.Date(), nullable=False),
    sa.Column('amount_cents', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_bills_account_id_accounts')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_bills'))
    )
    with op.batch_alter_table('bills', schema=None) as batch_op:
        batch_op.create_index('ix_bills_account_due', ['account_id', 'due_on'], unique=False)

    op.create_table('deposits',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('account_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('required_cents', sa.BigInteger(), nullable=False),
    sa.Column('paid_cents', sa.BigInteger(), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('reason', sa.String(length=120), nullable=False),
    sa.Column('required_on', sa.Date(), nullable=False),
    sa.Column('due_on', sa.Date(), nullable=True),
    sa.Column('refund_review_on', sa.Date(), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_deposits_account_id_accounts')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_deposits'))
    )
    with op.batch_alter_table('deposits', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_deposits_account_id'), ['account_id'], unique=False)

    op.create_table('premises',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('account_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('address', sa.String(length=200), nullable=False),
    sa.Column('unit', sa.String(length=20), nullable=True),
    sa.Column('city', sa.String(length=80), nullable=False),
    sa.Column('state', sa.String(length=2), nullable=False),
    sa.Column('zip', sa.String(length=10), nullable=False),
    sa.Column('nickname', sa.String(length=40), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_premises_account_id_accounts')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_premises'))
    )
    with op.batch_alter_table('premises', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_premises_account_id'), ['account_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_premises_zip'), ['zip'], unique=False)

    op.create_table('transformers',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('feeder_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.ForeignKeyConstraint(['feeder_id'], ['feeders.id'], name=op.f('fk_transformers_feeder_id_feeders')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_transformers')),
    sa.UniqueConstraint('code', name=op.f('uq_transformers_code'))
    )
    with op.batch_alter_table('transformers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_transformers_feeder_id'), ['feeder_id'], unique=False)

    op.create_table('bill_lines',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('bill_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('service_kind', sa.String(length=16), nullable=False),
    sa.Column('usage', sa.Numeric(precision=12, scale=2), nullable=False),
    sa.Column('unit', sa.String(length=8), nullable=False),
    sa.Column('amount_cents', sa.BigInteger(), nullable=False),
    sa.Column('estimated_read', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['bill_id'], ['bills.id'], name=op.f('fk_bill_lines_bill_id_bills'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_bill_lines'))
    )
    with op.batch_alter_table('bill_lines', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_bill_lines_bill_id'), ['bill_id'], unique=False)

    op.create_table('installments',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('arrangement_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('due_on', sa.Date(), nullable=False),
    sa.Column('amount_cents', sa.BigInteger(), nullable=False),
    sa.Column('paid_cents', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['arrangement_id'], ['arrangements.id'], name=op.f('fk_installments_arrangement_id_arrangements'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_installments')),
    sa.UniqueConstraint('arrangement_id', 'seq', name=op.f('uq_installments_arrangement_id_seq'))
    )
    op.create_table('ledger_entries',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('account_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('amount_cents', sa.BigInteger(), nullable=False),
    sa.Column('posted_at', core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('bill_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('reverses_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('method', sa.String(length=12), nullable=True),
    sa.Column('reference', sa.String(length=64), nullable=True),
    sa.Column('memo', sa.String(length=200), nullable=True),
    sa.Column('actor', sa.String(length=80), nullable=False),
    sa.Column('quantity', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_ledger_entries_account_id_accounts')),
    sa.ForeignKeyConstraint(['bill_id'], ['bills.id'], name=op.f('fk_ledger_entries_bill_id_bills')),
    sa.ForeignKeyConstraint(['reverses_id'], ['ledger_entries.id'], name=op.f('fk_ledger_entries_reverses_id_ledger_entries')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ledger_entries')),
    sa.UniqueConstraint('reverses_id', name=op.f('uq_ledger_entries_reverses_id'))
    )
    with op.batch_alter_table('ledger_entries', schema=None) as batch_op:
        batch_op.create_index('ix_ledger_account_posted', ['account_id', 'posted_at'], unique=False)

    op.create_table('service_orders',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('account_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('premise_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('requested_for', sa.Date(), nullable=True),
    sa.Column('fee_cents', sa.BigInteger(), nullable=False),
    sa.Column('details', sa.JSON(), nullable=False),
    sa.Column('created_by', sa.String(length=80), nullable=False),
    sa.Column('created_at', core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('completed_at', core.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_service_orders_account_id_accounts')),
    sa.ForeignKeyConstraint(['premise_id'], ['premises.id'], name=op.f('fk_service_orders_premise_id_premises')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_service_orders'))
    )
    with op.batch_alter_table('service_orders', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_service_orders_account_id'), ['account_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_service_orders_premise_id'), ['premise_id'], unique=False)

    op.create_table('service_points',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('premise_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('service_kind', sa.String(length=16), nullable=False),
    sa.Column('meter_number', sa.String(length=32), nullable=False),
    sa.Column('smart_meter', sa.Boolean(), nullable=False),
    sa.Column('transformer_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.ForeignKeyConstraint(['premise_id'], ['premises.id'], name=op.f('fk_service_points_premise_id_premises')),
    sa.ForeignKeyConstraint(['transformer_id'], ['transformers.id'], name=op.f('fk_service_points_transformer_id_transformers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_service_points')),
    sa.UniqueConstraint('meter_number', name=op.f('uq_service_points_meter_number'))
    )
    with op.batch_alter_table('service_points', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_service_points_premise_id'), ['premise_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_service_points_transformer_id'), ['transformer_id'], unique=False)

    op.create_table('services',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('premise_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('account_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('rate_code', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('started_on', sa.Date(), nullable=True),
    sa.Column('stopped_on', sa.Date(), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_services_account_id_accounts')),
    sa.ForeignKeyConstraint(['premise_id'], ['premises.id'], name=op.f('fk_services_premise_id_premises')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_services'))
    )
    with op.batch_alter_table('services', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_services_account_id'), ['account_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_services_premise_id'), ['premise_id'], unique=False)

    op.create_table('adjustment_requests',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('account_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('amount_cents', sa.BigInteger(), nullable=False),
    sa.Column('reason', sa.String(length=200), nullable=False),
    sa.Column('requested_by', sa.String(length=80), nullable=False),
    sa.Column('requested_role', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('decided_by', sa.String(length=80), nullable=True),
    sa.Column('decided_at', core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('ledger_entry_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('created_at', core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_adjustment_requests_account_id_accounts')),
    sa.ForeignKeyConstraint(['ledger_entry_id'], ['ledger_entries.id'], name=op.f('fk_adjustment_requests_ledger_entry_id_ledger_entries')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_adjustment_requests'))
    )
    with op.batch_alter_table('adjustment_requests', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_adjustment_requests_account_id'), ['account_id'], unique=False)


    _append_only_audit()


def _append_only_audit() -> None:
    """The audit trail is evidence: refuse UPDATE and DELETE in the database itself."""
    if op.get_bind().dialect.name == "sqlite":
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER audit_entries_no_{verb.lower()} BEFORE {verb} ON audit_entries "
                "BEGIN SELECT RAISE(ABORT, 'audit_entries is append-only'); END"
            )
    else:
        op.execute(
            "CREATE FUNCTION audit_entries_append_only() RETURNS trigger AS $$ "
            "BEGIN RAISE EXCEPTION 'audit_entries is append-only'; END $$ LANGUAGE plpgsql"
        )
        op.execute(
            "CREATE TRIGGER audit_entries_append_only BEFORE UPDATE OR DELETE ON audit_entries "
            "FOR EACH ROW EXECUTE FUNCTION audit_entries_append_only()"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        op.execute("DROP TRIGGER IF EXISTS audit_entries_append_only ON audit_entries")
        op.execute("DROP FUNCTION IF EXISTS audit_entries_append_only()")
    with op.batch_alter_table('adjustment_requests', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_adjustment_requests_account_id'))

    op.drop_table('adjustment_requests')
    with op.batch_alter_table('services', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_services_premise_id'))
        batch_op.drop_index(batch_op.f('ix_services_account_id'))

    op.drop_table('services')
    with op.batch_alter_table('service_points', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_service_points_transformer_id'))
        batch_op.drop_index(batch_op.f('ix_service_points_premise_id'))

    op.drop_table('service_points')
    with op.batch_alter_table('service_orders', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_service_orders_premise_id'))
        batch_op.drop_index(batch_op.f('ix_service_orders_account_id'))

    op.drop_table('service_orders')
    with op.batch_alter_table('ledger_entries', schema=None) as batch_op:
        batch_op.drop_index('ix_ledger_account_posted')

    op.drop_table('ledger_entries')
    op.drop_table('installments')
    with op.batch_alter_table('bill_lines', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_bill_lines_bill_id'))

    op.drop_table('bill_lines')
    with op.batch_alter_table('transformers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_transformers_feeder_id'))

    op.drop_table('transformers')
    with op.batch_alter_table('premises', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_premises_zip'))
        batch_op.drop_index(batch_op.f('ix_premises_account_id'))

    op.drop_table('premises')
    with op.batch_alter_table('deposits', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_deposits_account_id'))

    op.drop_table('deposits')
    with op.batch_alter_table('bills', schema=None) as batch_op:
        batch_op.drop_index('ix_bills_account_due')

    op.drop_table('bills')
    with op.batch_alter_table('audit_entries', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_entries_at'))
        batch_op.drop_index(batch_op.f('ix_audit_entries_account_id'))

    op.drop_table('audit_entries')
    with op.batch_alter_table('arrangements', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_arrangements_account_id'))

    op.drop_table('arrangements')
    with op.batch_alter_table('feeders', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_feeders_substation_id'))

    op.drop_table('feeders')
    with op.batch_alter_table('contacts', schema=None) as batch_op:
        batch_op.drop_index('ix_contacts_value')

    op.drop_table('contacts')
    with op.batch_alter_table('accounts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_accounts_customer_id'))

    op.drop_table('accounts')
    op.drop_table('substations')
    op.drop_table('opt_outs')
    with op.batch_alter_table('customers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_customers_mailing_zip'))

    op.drop_table('customers')
    op.drop_table('api_tokens')
