"""outbox dead letters and the AR dashboard's reads

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-01

- `outbox_messages.dead_at`: when the sender gave up on a message (staff see it in the dead
  letters and may retry it); null for the messages that died before this revision.
- `ix_outbox_messages_to_address`: a customer's timeline lists the emails sent to its contacts.
- `ix_invoice_entries_created`: the dashboard reads the last two months of ledger entries.

A nullable column and two indexes: nothing existing is copied on SQLite.
"""

from alembic import op
import sqlalchemy as sa
import portal.domain.core.types


revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('outbox_messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('dead_at', portal.domain.core.types.UTCDateTime(timezone=True), nullable=True))
        batch_op.create_index('ix_outbox_messages_to_address', ['to_address', 'created_at'], unique=False)
    with op.batch_alter_table('invoice_entries', schema=None) as batch_op:
        batch_op.create_index('ix_invoice_entries_created', ['created_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('invoice_entries', schema=None) as batch_op:
        batch_op.drop_index('ix_invoice_entries_created')
    with op.batch_alter_table('outbox_messages', schema=None) as batch_op:
        batch_op.drop_index('ix_outbox_messages_to_address')
        batch_op.drop_column('dead_at')
