"""follow-ups: why an invoice is not paid, and who does something about it

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-01

- `followups`: one per reason (reported by a clerk, or raised by the system), its kind, queue,
  status, team, assignee and due time; unique per customer and form token, and per dedupe key
  (a system event raises it once).
- `followup_invoices`, `followup_events` (its thread), `followup_files` (a remittance advice).
- `teams.followup_queues`: the queues a team works (empty for the existing teams: the
  fallback team takes every queue until an admin says otherwise).

New tables and one column with a default: nothing existing is copied on SQLite.
"""

from alembic import op
import sqlalchemy as sa
import portal.domain.core.types


revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('followups',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=30), nullable=False),
    sa.Column('queue', sa.String(length=30), nullable=False),
    sa.Column('source', sa.String(length=10), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('team_id', sa.Integer(), nullable=True),
    sa.Column('assignee_id', sa.Integer(), nullable=True),
    sa.Column('reported_by_contact_id', sa.Integer(), nullable=True),
    sa.Column('link_id', sa.Integer(), nullable=True),
    sa.Column('request_key', sa.String(length=64), nullable=True),
    sa.Column('dedupe_key', sa.String(length=120), nullable=True),
    sa.Column('details', sa.JSON(), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('outcome', sa.String(length=30), nullable=False),
    sa.Column('due_at', portal.domain.core.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', portal.domain.core.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', portal.domain.core.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('resolved_at', portal.domain.core.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('public_id', sa.String(length=22), nullable=False),
    sa.CheckConstraint("kind IN ('already_paid', 'needs_po', 'awaiting_approval', 'wrong_contact', 'bank_debit_failed', 'promise_broken', 'plan_defaulted', 'email_bounced')", name=op.f('ck_followups_kind_known')),
    sa.CheckConstraint("queue IN ('cash_application', 'billing', 'collections')", name=op.f('ck_followups_queue_known')),
    sa.CheckConstraint("source = 'system' OR reported_by_contact_id IS NOT NULL", name=op.f('ck_followups_customer_reports_name_contact')),
    sa.CheckConstraint("source IN ('customer', 'system')", name=op.f('ck_followups_source_known')),
    sa.CheckConstraint("status IN ('open', 'waiting', 'resolved', 'dismissed')", name=op.f('ck_followups_status_known')),
    sa.ForeignKeyConstraint(['assignee_id'], ['staff_members.id'], name=op.f('fk_followups_assignee_id_staff_members')),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_followups_customer_id_customers')),
    sa.ForeignKeyConstraint(['link_id'], ['access_links.id'], name=op.f('fk_followups_link_id_access_links')),
    sa.ForeignKeyConstraint(['reported_by_contact_id'], ['contacts.id'], name=op.f('fk_followups_reported_by_contact_id_contacts')),
    sa.ForeignKeyConstraint(['team_id'], ['teams.id'], name=op.f('fk_followups_team_id_teams')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_followups')),
    sa.UniqueConstraint('customer_id', 'request_key', name=op.f('uq_followups_customer_id_request_key')),
    sa.UniqueConstraint('public_id', name=op.f('uq_followups_public_id'))
    )
    with op.batch_alter_table('followups', schema=None) as batch_op:
        batch_op.create_index('ix_followups_active_assignee_due', ['assignee_id', 'due_at'], unique=False, sqlite_where=sa.text("status IN ('open', 'waiting')"), postgresql_where=sa.text("status IN ('open', 'waiting')"))
        batch_op.create_index('ix_followups_customer_status', ['customer_id', 'status'], unique=False)
        batch_op.create_index('ix_followups_queue_status_due', ['queue', 'status', 'due_at'], unique=False)
        batch_op.create_index('uq_followups_dedupe_key', ['dedupe_key'], unique=True, sqlite_where=sa.text('dedupe_key IS NOT NULL'), postgresql_where=sa.text('dedupe_key IS NOT NULL'))

    op.create_table('followup_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('followup_id', sa.Integer(), nullable=False),
    sa.Column('action', sa.String(length=30), nullable=False),
    sa.Column('staff_id', sa.Integer(), nullable=True),
    sa.Column('contact_id', sa.Integer(), nullable=True),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('for_customer', sa.Boolean(), nullable=False),
    sa.Column('created_at', portal.domain.core.types.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('staff_id IS NULL OR contact_id IS NULL', name=op.f('ck_followup_events_one_author')),
    sa.ForeignKeyConstraint(['contact_id'], ['contacts.id'], name=op.f('fk_followup_events_contact_id_contacts')),
    sa.ForeignKeyConstraint(['followup_id'], ['followups.id'], name=op.f('fk_followup_events_followup_id_followups')),
    sa.ForeignKeyConstraint(['staff_id'], ['staff_members.id'], name=op.f('fk_followup_events_staff_id_staff_members')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_followup_events'))
    )
    with op.batch_alter_table('followup_events', schema=None) as batch_op:
        batch_op.create_index('ix_followup_events_followup', ['followup_id', 'id'], unique=False)

    op.create_table('followup_invoices',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('followup_id', sa.Integer(), nullable=False),
    sa.Column('invoice_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['followup_id'], ['followups.id'], name=op.f('fk_followup_invoices_followup_id_followups')),
    sa.ForeignKeyConstraint(['invoice_id'], ['invoices.id'], name=op.f('fk_followup_invoices_invoice_id_invoices')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_followup_invoices')),
    sa.UniqueConstraint('followup_id', 'invoice_id', name=op.f('uq_followup_invoices_followup_id_invoice_id'))
    )
    with op.batch_alter_table('followup_invoices', schema=None) as batch_op:
        batch_op.create_index('ix_followup_invoices_invoice', ['invoice_id'], unique=False)

    op.create_table('followup_files',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('followup_id', sa.Integer(), nullable=False),
    sa.Column('event_id', sa.Integer(), nullable=True),
    sa.Column('file_id', sa.Integer(), nullable=False),
    sa.Column('created_at', portal.domain.core.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['event_id'], ['followup_events.id'], name=op.f('fk_followup_files_event_id_followup_events')),
    sa.ForeignKeyConstraint(['file_id'], ['stored_files.id'], name=op.f('fk_followup_files_file_id_stored_files')),
    sa.ForeignKeyConstraint(['followup_id'], ['followups.id'], name=op.f('fk_followup_files_followup_id_followups')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_followup_files')),
    sa.UniqueConstraint('followup_id', 'file_id', name=op.f('uq_followup_files_followup_id_file_id'))
    )
    with op.batch_alter_table('teams', schema=None) as batch_op:
        batch_op.add_column(sa.Column('followup_queues', sa.JSON(), server_default=sa.text("'[]'"), nullable=False))



def downgrade() -> None:
    with op.batch_alter_table('teams', schema=None) as batch_op:
        batch_op.drop_column('followup_queues')

    op.drop_table('followup_files')
    with op.batch_alter_table('followup_invoices', schema=None) as batch_op:
        batch_op.drop_index('ix_followup_invoices_invoice')

    op.drop_table('followup_invoices')
    with op.batch_alter_table('followup_events', schema=None) as batch_op:
        batch_op.drop_index('ix_followup_events_followup')

    op.drop_table('followup_events')
    with op.batch_alter_table('followups', schema=None) as batch_op:
        batch_op.drop_index('uq_followups_dedupe_key', sqlite_where=sa.text('dedupe_key IS NOT NULL'), postgresql_where=sa.text('dedupe_key IS NOT NULL'))
        batch_op.drop_index('ix_followups_queue_status_due')
        batch_op.drop_index('ix_followups_customer_status')
        batch_op.drop_index('ix_followups_active_assignee_due', sqlite_where=sa.text("status IN ('open', 'waiting')"), postgresql_where=sa.text("status IN ('open', 'waiting')"))

    op.drop_table('followups')
