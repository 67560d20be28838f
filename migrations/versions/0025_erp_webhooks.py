"""erp webhooks: the endpoints admins configure and the deliveries queued for them

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-01

- `webhook_endpoints`: URL, signing secret (stored as it is: the sender signs with it),
  the event types subscribed, enabled or not.
- `webhook_deliveries`: the outbox of outgoing webhooks, one row per (endpoint, event id),
  its JSON body built when first claimed, with attempts, lease, last answer and dead letters.

Two new tables: nothing existing changes.
"""

from alembic import op
import sqlalchemy as sa
import portal.domain.core.types


revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('webhook_endpoints',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('url', sa.String(length=500), nullable=False),
    sa.Column('description', sa.String(length=120), nullable=False),
    sa.Column('secret', sa.String(length=100), nullable=False),
    sa.Column('event_types', sa.Text(), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('created_at', portal.domain.core.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', portal.domain.core.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('public_id', sa.String(length=22), nullable=False),
    sa.CheckConstraint('length(url) > 0', name=op.f('ck_webhook_endpoints_url_not_empty')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_endpoints')),
    sa.UniqueConstraint('public_id', name=op.f('uq_webhook_endpoints_public_id'))
    )
    with op.batch_alter_table('webhook_endpoints', schema=None) as batch_op:
        batch_op.create_index('ix_webhook_endpoints_enabled', ['enabled'], unique=False)

    op.create_table('webhook_deliveries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('endpoint_id', sa.Integer(), nullable=False),
    sa.Column('event_id', sa.String(length=80), nullable=False),
    sa.Column('event_type', sa.String(length=40), nullable=False),
    sa.Column('entry_id', sa.Integer(), nullable=True),
    sa.Column('body', sa.Text(), nullable=True),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', portal.domain.core.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('lease_until', portal.domain.core.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_status', sa.Integer(), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=False),
    sa.Column('created_at', portal.domain.core.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('delivered_at', portal.domain.core.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('dead_at', portal.domain.core.types.UTCDateTime(timezone=True), nullable=True),
    sa.CheckConstraint("status IN ('pending', 'delivered', 'dead')", name=op.f('ck_webhook_deliveries_status_known')),
    sa.ForeignKeyConstraint(['endpoint_id'], ['webhook_endpoints.id'], name=op.f('fk_webhook_deliveries_endpoint_id_webhook_endpoints'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['entry_id'], ['invoice_entries.id'], name=op.f('fk_webhook_deliveries_entry_id_invoice_entries')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_deliveries')),
    sa.UniqueConstraint('endpoint_id', 'event_id', name=op.f('uq_webhook_deliveries_endpoint_id_event_id'))
    )
    with op.batch_alter_table('webhook_deliveries', schema=None) as batch_op:
        batch_op.create_index('ix_webhook_deliveries_due', ['status', 'next_attempt_at'], unique=False)
        batch_op.create_index('ix_webhook_deliveries_recent', ['endpoint_id', 'id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('webhook_deliveries', schema=None) as batch_op:
        batch_op.drop_index('ix_webhook_deliveries_recent')
        batch_op.drop_index('ix_webhook_deliveries_due')

    op.drop_table('webhook_deliveries')
    with op.batch_alter_table('webhook_endpoints', schema=None) as batch_op:
        batch_op.drop_index('ix_webhook_endpoints_enabled')

    op.drop_table('webhook_endpoints')
