"""a partial index of the customer messages not handled yet

The handler's "oldest unhandled message of this conversation" walked the conversation's whole
(conversation_id, id) index, handled rows and replies included, fetching each row to test it:
a customer with a long history made each new text slower. The sweep range-scanned a day of
created_at every 30 s. This index holds only the rows still to handle.

Revision ID: 0008
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0002"  # the messages table
branch_labels = None
depends_on = None

# Written out here, not imported from the model: a migration must keep meaning what it meant.
UNHANDLED_INBOUND = "direction = 'inbound' AND handled_at IS NULL"


def upgrade() -> None:
    op.create_index("ix_messages_unhandled_inbound", "messages", ["conversation_id", "id"],
                    postgresql_where=sa.text(UNHANDLED_INBOUND),
                    sqlite_where=sa.text(UNHANDLED_INBOUND))


def downgrade() -> None:
    op.drop_index("ix_messages_unhandled_inbound", table_name="messages")
