"""promises to pay: the promise and the invoices it covers

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01

- `promises`: one per promise (customer, who made it and through which link, the form's token
  unique per customer, status, how they will pay, the note, the currency and total, the date
  promised now and first, how often it moved, when it was decided). Indexed by customer and
  status (the customer's list, the staff counts) and by status and date (check-promises).
- `promise_invoices`: each covered invoice and what was payable on it when promised; indexed
  by invoice (the account pages' "Promised for ...", the reminders' pause).

Two new tables: nothing existing is copied or changed.
"""

from alembic import op
import sqlalchemy as sa
import portal.domain.core.types


revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('promises',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('made_by_contact_id', sa.Integer(), nullable=False),
    sa.Column('link_id', sa.Integer(), nullable=True),
    sa.Column('request_key', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('method', sa.String(length=10), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('total_minor', sa.Integer(), nullable=False),
    sa.Column('promised_date', sa.Date(), nullable=False),
    sa.Column('original_date', sa.Date(), nullable=False),
    sa.Column('move_count', sa.Integer(), nullable=False),
    sa.Column('created_at', portal.domain.core.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', portal.domain.core.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('decided_at', portal.domain.core.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('public_id', sa.String(length=22), nullable=False),
    sa.CheckConstraint("method IN ('wire', 'ach', 'check', 'card')", name=op.f('ck_promises_method_known')),
    sa.CheckConstraint("status IN ('open', 'kept', 'broken', 'cancelled')", name=op.f('ck_promises_status_known')),
    sa.CheckConstraint('length(currency) = 3', name=op.f('ck_promises_currency_code')),
    sa.CheckConstraint('move_count >= 0', name=op.f('ck_promises_move_count_not_negative')),
    sa.CheckConstraint('total_minor > 0', name=op.f('ck_promises_total_positive')),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_promises_customer_id_customers')),
    sa.ForeignKeyConstraint(['link_id'], ['access_links.id'], name=op.f('fk_promises_link_id_access_links')),
    sa.ForeignKeyConstraint(['made_by_contact_id'], ['contacts.id'], name=op.f('fk_promises_made_by_contact_id_contacts')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_promises')),
    sa.UniqueConstraint('customer_id', 'request_key', name=op.f('uq_promises_customer_id_request_key')),
    sa.UniqueConstraint('public_id', name=op.f('uq_promises_public_id'))
    )
    with op.batch_alter_table('promises', schema=None) as batch_op:
        batch_op.create_index('ix_promises_customer_status', ['customer_id', 'status'], unique=False)
        batch_op.create_index('ix_promises_status_promised_date', ['status', 'promised_date'], unique=False)

    op.create_table('promise_invoices',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('promise_id', sa.Integer(), nullable=False),
    sa.Column('invoice_id', sa.Integer(), nullable=False),
    sa.Column('promised_minor', sa.Integer(), nullable=False),
    sa.CheckConstraint('promised_minor > 0', name=op.f('ck_promise_invoices_promised_positive')),
    sa.ForeignKeyConstraint(['invoice_id'], ['invoices.id'], name=op.f('fk_promise_invoices_invoice_id_invoices')),
    sa.ForeignKeyConstraint(['promise_id'], ['promises.id'], name=op.f('fk_promise_invoices_promise_id_promises')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_promise_invoices')),
    sa.UniqueConstraint('promise_id', 'invoice_id', name=op.f('uq_promise_invoices_promise_id_invoice_id'))
    )
    with op.batch_alter_table('promise_invoices', schema=None) as batch_op:
        batch_op.create_index('ix_promise_invoices_invoice', ['invoice_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('promise_invoices', schema=None) as batch_op:
        batch_op.drop_index('ix_promise_invoices_invoice')

    op.drop_table('promise_invoices')
    with op.batch_alter_table('promises', schema=None) as batch_op:
        batch_op.drop_index('ix_promises_status_promised_date')
        batch_op.drop_index('ix_promises_customer_status')

    op.drop_table('promises')
