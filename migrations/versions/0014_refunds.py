"""refunds and card chargebacks

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-01

- `refunds`: a staff refund of a settled card payment (amount, reason, who), with the form's
  request key (unique per payment: a double submit finds the same row) and the Stripe
  idempotency key committed before Stripe is called; `refund_allocations` splits it over the
  payment's invoices (what its ledger entries reopen).
- `chargebacks`: the staff case a `charge.dispute.created` event opens on one of our payments,
  with Stripe's evidence deadline; its money is on the ledger as `chargeback` entries.

New tables only: nothing existing is copied on SQLite. Stripe refund and dispute events that
earlier versions stored unprocessed (`stripe_events.outcome` "unprocessed: ...", with their
verified body) are applied by `flask --app wsgi replay-stripe-events` once this is deployed
(README); the migration itself calls no outside service.
"""

from alembic import op
import sqlalchemy as sa
import portal.domain.core.types


revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('chargebacks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('payment_id', sa.Integer(), nullable=False),
    sa.Column('stripe_dispute_id', sa.String(length=255), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('amount_minor', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('stripe_status', sa.String(length=40), nullable=False),
    sa.Column('reason', sa.String(length=60), nullable=False),
    sa.Column('evidence_due_at', portal.domain.core.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('opened_at', portal.domain.core.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('closed_at', portal.domain.core.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('public_id', sa.String(length=22), nullable=False),
    sa.CheckConstraint("status IN ('open', 'won', 'lost')", name=op.f('ck_chargebacks_status_known')),
    sa.CheckConstraint('amount_minor > 0', name=op.f('ck_chargebacks_amount_positive')),
    sa.ForeignKeyConstraint(['payment_id'], ['payments.id'], name=op.f('fk_chargebacks_payment_id_payments')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_chargebacks')),
    sa.UniqueConstraint('public_id', name=op.f('uq_chargebacks_public_id')),
    sa.UniqueConstraint('stripe_dispute_id', name=op.f('uq_chargebacks_stripe_dispute_id'))
    )
    with op.batch_alter_table('chargebacks', schema=None) as batch_op:
        batch_op.create_index('ix_chargebacks_payment', ['payment_id'], unique=False)
        batch_op.create_index('ix_chargebacks_status_due', ['status', 'evidence_due_at'], unique=False)

    op.create_table('refunds',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('payment_id', sa.Integer(), nullable=False),
    sa.Column('staff_id', sa.Integer(), nullable=True),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('amount_minor', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('reason', sa.String(length=500), nullable=False),
    sa.Column('request_key', sa.String(length=64), nullable=False),
    sa.Column('idempotency_key', sa.String(length=64), nullable=False),
    sa.Column('stripe_refund_id', sa.String(length=255), nullable=True),
    sa.Column('failure_reason', sa.String(length=200), nullable=False),
    sa.Column('created_at', portal.domain.core.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', portal.domain.core.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('gateway_call_until', portal.domain.core.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('public_id', sa.String(length=22), nullable=False),
    sa.CheckConstraint("status IN ('requested', 'pending', 'succeeded', 'failed', 'canceled')", name=op.f('ck_refunds_status_known')),
    sa.CheckConstraint('amount_minor > 0', name=op.f('ck_refunds_amount_positive')),
    sa.ForeignKeyConstraint(['payment_id'], ['payments.id'], name=op.f('fk_refunds_payment_id_payments')),
    sa.ForeignKeyConstraint(['staff_id'], ['staff_members.id'], name=op.f('fk_refunds_staff_id_staff_members')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_refunds')),
    sa.UniqueConstraint('idempotency_key', name=op.f('uq_refunds_idempotency_key')),
    sa.UniqueConstraint('payment_id', 'request_key', name=op.f('uq_refunds_payment_id_request_key')),
    sa.UniqueConstraint('public_id', name=op.f('uq_refunds_public_id')),
    sa.UniqueConstraint('stripe_refund_id', name=op.f('uq_refunds_stripe_refund_id'))
    )
    op.create_table('refund_allocations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('refund_id', sa.Integer(), nullable=False),
    sa.Column('invoice_id', sa.Integer(), nullable=False),
    sa.Column('amount_minor', sa.Integer(), nullable=False),
    sa.CheckConstraint('amount_minor > 0', name=op.f('ck_refund_allocations_amount_positive')),
    sa.ForeignKeyConstraint(['invoice_id'], ['invoices.id'], name=op.f('fk_refund_allocations_invoice_id_invoices')),
    sa.ForeignKeyConstraint(['refund_id'], ['refunds.id'], name=op.f('fk_refund_allocations_refund_id_refunds')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_refund_allocations')),
    sa.UniqueConstraint('refund_id', 'invoice_id', name=op.f('uq_refund_allocations_refund_id_invoice_id'))
    )


def downgrade() -> None:
    op.drop_table('refund_allocations')
    op.drop_table('refunds')
    with op.batch_alter_table('chargebacks', schema=None) as batch_op:
        batch_op.drop_index('ix_chargebacks_status_due')
        batch_op.drop_index('ix_chargebacks_payment')

    op.drop_table('chargebacks')
