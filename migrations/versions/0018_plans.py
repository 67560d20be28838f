"""installment plans: plans, the invoices they cover, installments, collection attempts, agreements

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-01

- `plans`: one per proposal (unique per customer and form token), its schedule's terms, status
  and failed-collection count; autopay plans name their saved card.
- `plan_invoices`: what a plan covers of each invoice.
- `plan_installments`: the schedule (dates in the customer's time zone), status, retry date and
  the payment of the latest attempt.
- `plan_installment_attempts`: one row per off-session charge, unique per (installment,
  attempt), each with its own card payment (and so its own idempotency key).
- `plan_agreements`: the terms the customer accepted, who, when, IP and user agent.

New tables only: nothing existing is copied on SQLite.
"""

from alembic import op
import sqlalchemy as sa
from portal.domain.core.types import UTCDateTime


revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('plans',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('proposed_by_contact_id', sa.Integer(), nullable=False),
    sa.Column('request_key', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('total_minor', sa.Integer(), nullable=False),
    sa.Column('installment_count', sa.Integer(), nullable=False),
    sa.Column('cadence', sa.String(length=10), nullable=False),
    sa.Column('first_due_on', sa.Date(), nullable=False),
    sa.Column('pay_by', sa.String(length=10), nullable=False),
    sa.Column('saved_method_id', sa.Integer(), nullable=True),
    sa.Column('policy_reasons', sa.Text(), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('decision_reason', sa.Text(), nullable=False),
    sa.Column('decided_by', sa.String(length=64), nullable=False),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.Column('updated_at', UTCDateTime(), nullable=False),
    sa.Column('decided_at', UTCDateTime(), nullable=True),
    sa.Column('ended_at', UTCDateTime(), nullable=True),
    sa.Column('public_id', sa.String(length=22), nullable=False),
    sa.CheckConstraint("cadence IN ('weekly', 'biweekly', 'monthly')", name=op.f('ck_plans_cadence_known')),
    sa.CheckConstraint("pay_by <> 'autopay' OR saved_method_id IS NOT NULL", name=op.f('ck_plans_autopay_has_method')),
    sa.CheckConstraint("pay_by IN ('autopay', 'myself')", name=op.f('ck_plans_pay_by_known')),
    sa.CheckConstraint("status IN ('pending_approval', 'countered', 'active', 'paused', 'completed', 'defaulted', 'declined', 'cancelled')", name=op.f('ck_plans_status_known')),
    sa.CheckConstraint('failures >= 0', name=op.f('ck_plans_failures_not_negative')),
    sa.CheckConstraint('installment_count BETWEEN 2 AND 12', name=op.f('ck_plans_count_in_range')),
    sa.CheckConstraint('total_minor > 0', name=op.f('ck_plans_total_positive')),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_plans_customer_id_customers')),
    sa.ForeignKeyConstraint(['proposed_by_contact_id'], ['contacts.id'], name=op.f('fk_plans_proposed_by_contact_id_contacts')),
    sa.ForeignKeyConstraint(['saved_method_id'], ['saved_methods.id'], name=op.f('fk_plans_saved_method_id_saved_methods')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_plans')),
    sa.UniqueConstraint('customer_id', 'request_key', name=op.f('uq_plans_customer_id_request_key')),
    sa.UniqueConstraint('public_id', name=op.f('uq_plans_public_id'))
    )
    with op.batch_alter_table('plans', schema=None) as batch_op:
        batch_op.create_index('ix_plans_customer_status', ['customer_id', 'status'], unique=False)
        batch_op.create_index('ix_plans_status', ['status'], unique=False)

    op.create_table('plan_agreements',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('plan_id', sa.Integer(), nullable=False),
    sa.Column('contact_id', sa.Integer(), nullable=False),
    sa.Column('terms_text', sa.Text(), nullable=False),
    sa.Column('ip', sa.String(length=64), nullable=False),
    sa.Column('user_agent', sa.String(length=500), nullable=False),
    sa.Column('accepted_at', UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['contact_id'], ['contacts.id'], name=op.f('fk_plan_agreements_contact_id_contacts')),
    sa.ForeignKeyConstraint(['plan_id'], ['plans.id'], name=op.f('fk_plan_agreements_plan_id_plans')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_plan_agreements'))
    )
    with op.batch_alter_table('plan_agreements', schema=None) as batch_op:
        batch_op.create_index('ix_plan_agreements_plan', ['plan_id'], unique=False)

    op.create_table('plan_installments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('plan_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('due_on', sa.Date(), nullable=False),
    sa.Column('amount_minor', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('retry_on', sa.Date(), nullable=True),
    sa.Column('failure_code', sa.String(length=80), nullable=False),
    sa.Column('payment_id', sa.Integer(), nullable=True),
    sa.Column('paid_at', UTCDateTime(), nullable=True),
    sa.Column('updated_at', UTCDateTime(), nullable=False),
    sa.Column('public_id', sa.String(length=22), nullable=False),
    sa.CheckConstraint("status IN ('scheduled', 'charging', 'paid', 'failed', 'action_required', 'cancelled')", name=op.f('ck_plan_installments_status_known')),
    sa.CheckConstraint('amount_minor > 0', name=op.f('ck_plan_installments_amount_positive')),
    sa.CheckConstraint('number >= 1', name=op.f('ck_plan_installments_number_positive')),
    sa.ForeignKeyConstraint(['payment_id'], ['payments.id'], name=op.f('fk_plan_installments_payment_id_payments')),
    sa.ForeignKeyConstraint(['plan_id'], ['plans.id'], name=op.f('fk_plan_installments_plan_id_plans')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_plan_installments')),
    sa.UniqueConstraint('plan_id', 'number', name=op.f('uq_plan_installments_plan_id_number')),
    sa.UniqueConstraint('public_id', name=op.f('uq_plan_installments_public_id'))
    )
    with op.batch_alter_table('plan_installments', schema=None) as batch_op:
        batch_op.create_index('ix_plan_installments_status_due', ['status', 'due_on'], unique=False)

    op.create_table('plan_invoices',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('plan_id', sa.Integer(), nullable=False),
    sa.Column('invoice_id', sa.Integer(), nullable=False),
    sa.Column('amount_minor', sa.Integer(), nullable=False),
    sa.CheckConstraint('amount_minor > 0', name=op.f('ck_plan_invoices_amount_positive')),
    sa.ForeignKeyConstraint(['invoice_id'], ['invoices.id'], name=op.f('fk_plan_invoices_invoice_id_invoices')),
    sa.ForeignKeyConstraint(['plan_id'], ['plans.id'], name=op.f('fk_plan_invoices_plan_id_plans')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_plan_invoices')),
    sa.UniqueConstraint('plan_id', 'invoice_id', name=op.f('uq_plan_invoices_plan_id_invoice_id'))
    )
    with op.batch_alter_table('plan_invoices', schema=None) as batch_op:
        batch_op.create_index('ix_plan_invoices_invoice', ['invoice_id'], unique=False)

    op.create_table('plan_installment_attempts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('installment_id', sa.Integer(), nullable=False),
    sa.Column('attempt', sa.Integer(), nullable=False),
    sa.Column('payment_id', sa.Integer(), nullable=False),
    sa.Column('outcome', sa.String(length=80), nullable=False),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.CheckConstraint('attempt >= 1', name=op.f('ck_plan_installment_attempts_attempt_positive')),
    sa.ForeignKeyConstraint(['installment_id'], ['plan_installments.id'], name=op.f('fk_plan_installment_attempts_installment_id_plan_installments')),
    sa.ForeignKeyConstraint(['payment_id'], ['payments.id'], name=op.f('fk_plan_installment_attempts_payment_id_payments')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_plan_installment_attempts')),
    sa.UniqueConstraint('installment_id', 'attempt', name=op.f('uq_plan_installment_attempts_installment_id_attempt')),
    sa.UniqueConstraint('payment_id', name=op.f('uq_plan_installment_attempts_payment_id'))
    )


def downgrade() -> None:
    op.drop_table('plan_installment_attempts')
    with op.batch_alter_table('plan_invoices', schema=None) as batch_op:
        batch_op.drop_index('ix_plan_invoices_invoice')

    op.drop_table('plan_invoices')
    with op.batch_alter_table('plan_installments', schema=None) as batch_op:
        batch_op.drop_index('ix_plan_installments_status_due')

    op.drop_table('plan_installments')
    with op.batch_alter_table('plan_agreements', schema=None) as batch_op:
        batch_op.drop_index('ix_plan_agreements_plan')

    op.drop_table('plan_agreements')
    with op.batch_alter_table('plans', schema=None) as batch_op:
        batch_op.drop_index('ix_plans_status')
        batch_op.drop_index('ix_plans_customer_status')

    op.drop_table('plans')
