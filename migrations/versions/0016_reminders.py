"""reminders: the policy's steps, the supplier's holidays, customer overrides, steps sent

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-01

- `reminder_steps`: the admins' reminder policy, one row per step, unique by its offset in days
  from the due date (empty: the built-in default steps apply).
- `reminder_holidays`: days no reminder is sent.
- `customer_reminder_settings`: per customer, reminders paused and a minimum amount.
- `reminders_sent`: one row per (invoice, step) reminded, unique, written before the email is
  queued; indexed by customer and time (the admin page's latest reminders).

New tables only: nothing existing is copied or changed.
"""

from alembic import op
import sqlalchemy as sa
import portal.domain.core.types


revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('reminder_steps',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('offset_days', sa.Integer(), nullable=False),
    sa.Column('tone', sa.String(length=20), nullable=False),
    sa.Column('subject', sa.String(length=200), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('updated_at', portal.domain.core.types.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("tone IN ('friendly', 'firm', 'formal_demand', 'final_notice')", name=op.f('ck_reminder_steps_tone_known')),
    sa.CheckConstraint('offset_days BETWEEN -60 AND 365', name=op.f('ck_reminder_steps_offset_in_range')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reminder_steps')),
    sa.UniqueConstraint('offset_days', name=op.f('uq_reminder_steps_offset_days'))
    )
    op.create_table('reminder_holidays',
    sa.Column('day', sa.Date(), nullable=False),
    sa.PrimaryKeyConstraint('day', name=op.f('pk_reminder_holidays'))
    )
    op.create_table('customer_reminder_settings',
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('paused', sa.Boolean(), nullable=False),
    sa.Column('minimum_minor', sa.Integer(), nullable=False),
    sa.Column('minimum_currency', sa.String(length=3), nullable=True),
    sa.Column('updated_at', portal.domain.core.types.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('minimum_minor >= 0', name=op.f('ck_customer_reminder_settings_minimum_not_negative')),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_customer_reminder_settings_customer_id_customers')),
    sa.PrimaryKeyConstraint('customer_id', name=op.f('pk_customer_reminder_settings'))
    )
    op.create_table('reminders_sent',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('invoice_id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('offset_days', sa.Integer(), nullable=False),
    sa.Column('tone', sa.String(length=20), nullable=False),
    sa.Column('sent_at', portal.domain.core.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('dedupe_key', sa.String(length=120), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_reminders_sent_customer_id_customers')),
    sa.ForeignKeyConstraint(['invoice_id'], ['invoices.id'], name=op.f('fk_reminders_sent_invoice_id_invoices')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reminders_sent')),
    sa.UniqueConstraint('invoice_id', 'offset_days', name=op.f('uq_reminders_sent_invoice_id_offset_days'))
    )
    with op.batch_alter_table('reminders_sent', schema=None) as batch_op:
        batch_op.create_index('ix_reminders_sent_customer', ['customer_id', 'sent_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('reminders_sent', schema=None) as batch_op:
        batch_op.drop_index('ix_reminders_sent_customer')

    op.drop_table('reminders_sent')
    op.drop_table('customer_reminder_settings')
    op.drop_table('reminder_holidays')
    op.drop_table('reminder_steps')
