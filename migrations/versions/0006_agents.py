"""agents, routing, console event log

Revision ID: 0006
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import core.db

revision = "0006"
down_revision = "0001"
branch_labels = None
depends_on = None

# Seed rows as of this revision, copied so later code edits never rewrite history.
DISPOSITIONS = {'resolved': 'Resolved',
 'payment_arrangement': 'Payment arrangement made',
 'adjustment': 'Adjustment posted or requested',
 'outage_info': 'Outage information given',
 'service_order': 'Service order created',
 'callback_scheduled': 'Callback scheduled',
 'escalated': 'Escalated',
 'no_response': 'Customer stopped responding',
 'wrap_up_expired': 'Wrap-up timed out'}
CANNED_RESPONSES = [{'skill': None,
  'shortcut': 'hi',
  'title': 'Greeting',
  'language': 'en',
  'body': 'Hi {customer_name}, this is {agent_name} with {utility_name}. I have the notes from '
          'our assistant. How can I help?'},
 {'skill': None,
  'shortcut': 'hola',
  'title': 'Saludo',
  'language': 'es',
  'body': 'Hola {customer_name}, soy {agent_name} de {utility_name}. ¿En qué le puedo ayudar?'},
 {'skill': None,
  'shortcut': 'bye',
  'title': 'Closing',
  'language': 'en',
  'body': 'Thanks for contacting {utility_name}, {customer_name}. If you need anything else, '
          'just text us back.'},
 {'skill': 'billing',
  'shortcut': 'bal',
  'title': 'Balance',
  'language': 'en',
  'body': 'Your current balance on account {account_number} is {balance}, due {due_date}.'},
 {'skill': 'billing',
  'shortcut': 'adj',
  'title': 'Adjustment posted',
  'language': 'en',
  'body': "I've applied a credit to account {account_number}. It will show on your next bill."},
 {'skill': 'collections',
  'shortcut': 'plan',
  'title': 'Arrangement offered',
  'language': 'en',
  'body': 'I can set up a payment arrangement on account {account_number} so your service '
          'stays on. Your balance is {balance}.'},
 {'skill': 'outage',
  'shortcut': 'etr',
  'title': 'Outage ETR',
  'language': 'en',
  'body': 'Crews are working on the outage at your address. The current estimated restoration '
          'time is {etr}.'},
 {'skill': 'emergency',
  'shortcut': 'safe',
  'title': 'Safety first',
  'language': 'en',
  'body': 'Please stay at least 35 feet away from any downed line and call 911 if anyone is in '
          'danger. Our crew has been dispatched.'},
 {'skill': 'commercial',
  'shortcut': 'dep',
  'title': 'Commercial deposit',
  'language': 'en',
  'body': "New commercial accounts need a deposit. For account {account_number} I'll explain "
          'the amount and how it is refunded.'}]


def upgrade() -> None:
    op.create_table('agents',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('display_name', sa.String(length=80), nullable=False),
    sa.Column('password_hash', sa.String(length=200), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('skills', sa.JSON(), nullable=False),
    sa.Column('capacity', sa.JSON(), nullable=False),
    sa.Column('presence', sa.String(length=12), nullable=False),
    sa.Column('presence_since', core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('idle_since', core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', core.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_agents')),
    sa.UniqueConstraint('username', name=op.f('uq_agents_username'))
    )
    op.create_table('canned_responses',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('skill', sa.String(length=16), nullable=True),
    sa.Column('shortcut', sa.String(length=32), nullable=False),
    sa.Column('title', sa.String(length=80), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('language', sa.String(length=5), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_canned_responses'))
    )
    op.create_index(op.f('ix_canned_responses_skill'), 'canned_responses', ['skill'], unique=False)
    op.create_table('console_event_counter',
    sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('last_id', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_console_event_counter'))
    )
    op.create_table('console_events',
    sa.Column('id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('audience', sa.String(length=40), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('conversation_id', sa.BigInteger(), nullable=True),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('at', core.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_console_events'))
    )
    op.create_index(op.f('ix_console_events_at'), 'console_events', ['at'], unique=False)
    op.create_index('ix_console_events_audience_id', 'console_events', ['audience', 'id'], unique=False)
    op.create_table('console_flags',
    sa.Column('key', sa.String(length=40), nullable=False),
    sa.Column('value', sa.JSON(), nullable=False),
    sa.Column('changed_by', sa.String(length=80), nullable=True),
    sa.Column('changed_at', core.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_console_flags'))
    )
    op.create_table('dispositions',
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('label', sa.String(length=80), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('code', name=op.f('pk_dispositions'))
    )
    op.create_table('conversation_notes',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('conversation_id', sa.BigInteger(), nullable=False),
    sa.Column('agent_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('created_at', core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['agent_id'], ['agents.id'], name=op.f('fk_conversation_notes_agent_id_agents')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_conversation_notes'))
    )
    op.create_index(op.f('ix_conversation_notes_conversation_id'), 'conversation_notes', ['conversation_id'], unique=False)
    op.create_table('queue_entries',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('conversation_id', sa.BigInteger(), nullable=False),
    sa.Column('live_key', sa.BigInteger(), nullable=True),
    sa.Column('skill', sa.String(length=16), nullable=False),
    sa.Column('channel', sa.String(length=12), nullable=False),
    sa.Column('priority', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=12), nullable=False),
    sa.Column('enqueued_at', core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('first_response_due', core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('sla_breached', sa.Boolean(), nullable=False),
    sa.Column('target_agent_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('transferred_by', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('transfer_note', sa.String(length=500), nullable=True),
    sa.Column('passed_agent_ids', sa.JSON(), nullable=False),
    sa.Column('offers_made', sa.Integer(), nullable=False),
    sa.Column('callback_number', sa.String(length=32), nullable=True),
    sa.Column('customer_note', sa.String(length=1000), nullable=True),
    sa.Column('ended_at', core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('handled_by', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.ForeignKeyConstraint(['handled_by'], ['agents.id'], name=op.f('fk_queue_entries_handled_by_agents')),
    sa.ForeignKeyConstraint(['target_agent_id'], ['agents.id'], name=op.f('fk_queue_entries_target_agent_id_agents')),
    sa.ForeignKeyConstraint(['transferred_by'], ['agents.id'], name=op.f('fk_queue_entries_transferred_by_agents')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_queue_entries')),
    sa.UniqueConstraint('live_key', name=op.f('uq_queue_entries_live_key'))
    )
    op.create_index(op.f('ix_queue_entries_conversation_id'), 'queue_entries', ['conversation_id'], unique=False)
    op.create_index('ix_queue_entries_state_priority', 'queue_entries', ['state', 'priority'], unique=False)
    op.create_table('assignments',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('conversation_id', sa.BigInteger(), nullable=False),
    sa.Column('live_key', sa.BigInteger(), nullable=True),
    sa.Column('agent_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('entry_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('skill', sa.String(length=16), nullable=False),
    sa.Column('channel', sa.String(length=12), nullable=False),
    sa.Column('state', sa.String(length=12), nullable=False),
    sa.Column('started_at', core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('first_response_due', core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('first_response_at', core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('first_response_breached', sa.Boolean(), nullable=False),
    sa.Column('resolution_due', core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('resolution_breached', sa.Boolean(), nullable=False),
    sa.Column('wrap_up_started_at', core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('wrap_up_due', core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('disposition', sa.String(length=32), nullable=True),
    sa.Column('wrap_up_notes', sa.Text(), nullable=True),
    sa.Column('ended_at', core.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['agent_id'], ['agents.id'], name=op.f('fk_assignments_agent_id_agents')),
    sa.ForeignKeyConstraint(['entry_id'], ['queue_entries.id'], name=op.f('fk_assignments_entry_id_queue_entries')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_assignments')),
    sa.UniqueConstraint('live_key', name=op.f('uq_assignments_live_key'))
    )
    op.create_index('ix_assignments_agent_id_state', 'assignments', ['agent_id', 'state'], unique=False)
    op.create_index(op.f('ix_assignments_conversation_id'), 'assignments', ['conversation_id'], unique=False)
    op.create_table('offers',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('entry_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('conversation_id', sa.BigInteger(), nullable=False),
    sa.Column('agent_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('channel', sa.String(length=12), nullable=False),
    sa.Column('offered_at', core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('outcome', sa.String(length=12), nullable=False),
    sa.Column('decided_at', core.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['agent_id'], ['agents.id'], name=op.f('fk_offers_agent_id_agents')),
    sa.ForeignKeyConstraint(['entry_id'], ['queue_entries.id'], name=op.f('fk_offers_entry_id_queue_entries')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_offers'))
    )
    op.create_index(op.f('ix_offers_agent_id'), 'offers', ['agent_id'], unique=False)
    op.create_index(op.f('ix_offers_entry_id'), 'offers', ['entry_id'], unique=False)
    op.create_index('ix_offers_outcome_expires_at', 'offers', ['outcome', 'expires_at'], unique=False)

    # The event counter's single row, the stock wrap-up codes and the stock canned responses.
    op.bulk_insert(sa.table("console_event_counter", sa.column("id", sa.Integer()),
                            sa.column("last_id", sa.BigInteger())), [{"id": 1, "last_id": 0}])
    op.bulk_insert(
        sa.table("dispositions", sa.column("code", sa.String()), sa.column("label", sa.String()),
                 sa.column("active", sa.Boolean())),
        [{"code": c, "label": label, "active": True} for c, label in DISPOSITIONS.items()],
    )
    op.bulk_insert(
        sa.table("canned_responses", sa.column("skill", sa.String()),
                 sa.column("shortcut", sa.String()), sa.column("title", sa.String()),
                 sa.column("body", sa.Text()), sa.column("language", sa.String()),
                 sa.column("active", sa.Boolean())),
        [dict(c, active=True) for c in CANNED_RESPONSES],
    )


def downgrade() -> None:
    op.drop_index('ix_offers_outcome_expires_at', table_name='offers')
    op.drop_index(op.f('ix_offers_entry_id'), table_name='offers')
    op.drop_index(op.f('ix_offers_agent_id'), table_name='offers')
    op.drop_table('offers')
    op.drop_index(op.f('ix_assignments_conversation_id'), table_name='assignments')
    op.drop_index('ix_assignments_agent_id_state', table_name='assignments')
    op.drop_table('assignments')
    op.drop_index('ix_queue_entries_state_priority', table_name='queue_entries')
    op.drop_index(op.f('ix_queue_entries_conversation_id'), table_name='queue_entries')
    op.drop_table('queue_entries')
    op.drop_index(op.f('ix_conversation_notes_conversation_id'), table_name='conversation_notes')
    op.drop_table('conversation_notes')
    op.drop_table('dispositions')
    op.drop_table('console_flags')
    op.drop_index('ix_console_events_audience_id', table_name='console_events')
    op.drop_index(op.f('ix_console_events_at'), table_name='console_events')
    op.drop_table('console_events')
    op.drop_table('console_event_counter')
    op.drop_index(op.f('ix_canned_responses_skill'), table_name='canned_responses')
    op.drop_table('canned_responses')
    op.drop_table('agents')
