"""disputes: the disputes a customer raises and the amount they hold on each invoice

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01

- `dispute_reasons`: the supplier's list of reasons, seeded with the defaults.
- `disputes` (status, reason, description, routing: `team_id`, `assignee_id` and a message's
  `staff_id` are plain integers until the staff tables exist, `priority`, SLA dates), the
  invoices each covers (`dispute_invoices`: disputed, held and credited amounts), the chosen
  lines (`dispute_lines`), the thread (`dispute_messages`, internal notes flagged), the history
  (`dispute_events`), the SLA clock's pauses and attached files (`dispute_attachments.file_id`,
  a plain integer until the attachments table exists).
- `invoices.held_minor`: what active disputes hold out of what is payable, kept by the dispute
  service in the same transaction as the dispute that moves it. It is not in the UPDATE OF
  column lists of the account-totals triggers (0006), so it moves none of them. Added as a
  plain column (with its CHECK inline on SQLite: no table copy, the triggers stay).
"""

from alembic import op
import sqlalchemy as sa
import portal.domain.core.types


revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

HELD_INVOICE = "held_minor > 0"
DEFAULT_REASONS = (
    ("pricing", "Pricing"),
    ("quantity_short", "Quantity short"),
    ("not_received", "Not received"),
    ("damaged", "Damaged"),
    ("po_missing", "PO missing or wrong"),
    ("duplicate_billing", "Duplicate billing"),
    ("tax", "Tax"),
    ("service_quality", "Service quality"),
    ("other", "Other"),
)


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    op.create_table('dispute_reasons',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('label', sa.String(length=80), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dispute_reasons')),
    sa.UniqueConstraint('code', name=op.f('uq_dispute_reasons_code'))
    )
    op.create_table('disputes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('raised_by_contact_id', sa.Integer(), nullable=False),
    sa.Column('link_id', sa.Integer(), nullable=True),
    sa.Column('reason_id', sa.Integer(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=30), nullable=False),
    sa.Column('request_key', sa.String(length=64), nullable=False),
    sa.Column('priority', sa.String(length=10), nullable=False),
    sa.Column('team_id', sa.Integer(), nullable=True),
    sa.Column('assignee_id', sa.Integer(), nullable=True),
    sa.Column('first_response_due_at', portal.domain.core.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('resolution_due_at', portal.domain.core.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('first_responded_at', portal.domain.core.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('resolved_at', portal.domain.core.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', portal.domain.core.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', portal.domain.core.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('public_id', sa.String(length=22), nullable=False),
    sa.CheckConstraint("priority IN ('low', 'normal', 'high', 'urgent')", name=op.f('ck_disputes_priority_known')),
    sa.CheckConstraint("status IN ('open', 'under_review', 'awaiting_customer', 'awaiting_approval', 'resolved_accepted', 'resolved_partial', 'rejected', 'rebilled', 'withdrawn')", name=op.f('ck_disputes_status_known')),
    sa.CheckConstraint('length(currency) = 3', name=op.f('ck_disputes_currency_code')),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_disputes_customer_id_customers')),
    sa.ForeignKeyConstraint(['link_id'], ['access_links.id'], name=op.f('fk_disputes_link_id_access_links')),
    sa.ForeignKeyConstraint(['raised_by_contact_id'], ['contacts.id'], name=op.f('fk_disputes_raised_by_contact_id_contacts')),
    sa.ForeignKeyConstraint(['reason_id'], ['dispute_reasons.id'], name=op.f('fk_disputes_reason_id_dispute_reasons')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_disputes')),
    sa.UniqueConstraint('customer_id', 'request_key', name=op.f('uq_disputes_customer_id_request_key')),
    sa.UniqueConstraint('public_id', name=op.f('uq_disputes_public_id'))
    )
    op.create_index(op.f('ix_disputes_assignee_id'), 'disputes', ['assignee_id'], unique=False)
    op.create_index('ix_disputes_customer_created', 'disputes', ['customer_id', 'created_at'], unique=False)
    op.create_index(op.f('ix_disputes_team_id'), 'disputes', ['team_id'], unique=False)

    op.create_table('dispute_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('dispute_id', sa.Integer(), nullable=False),
    sa.Column('at', portal.domain.core.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('kind', sa.String(length=30), nullable=False),
    sa.Column('actor_type', sa.String(length=20), nullable=False),
    sa.Column('actor_id', sa.String(length=64), nullable=False),
    sa.Column('from_status', sa.String(length=30), nullable=True),
    sa.Column('to_status', sa.String(length=30), nullable=True),
    sa.Column('detail', sa.String(length=500), nullable=False),
    sa.CheckConstraint("kind IN ('raised', 'message', 'note', 'information_requested', 'answered', 'review_started', 'assigned', 'approval_requested', 'approval_declined', 'credited', 'rejected', 'rebilled', 'withdrawn')", name=op.f('ck_dispute_events_kind_known')),
    sa.ForeignKeyConstraint(['dispute_id'], ['disputes.id'], name=op.f('fk_dispute_events_dispute_id_disputes')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dispute_events'))
    )
    op.create_index('ix_dispute_events_dispute', 'dispute_events', ['dispute_id', 'at'], unique=False)

    op.create_table('dispute_invoices',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('dispute_id', sa.Integer(), nullable=False),
    sa.Column('invoice_id', sa.Integer(), nullable=False),
    sa.Column('disputed_minor', sa.Integer(), nullable=False),
    sa.Column('held_minor', sa.Integer(), nullable=False),
    sa.Column('credited_minor', sa.Integer(), nullable=False),
    sa.Column('proposed_credit_minor', sa.Integer(), nullable=True),
    sa.Column('rebilled_invoice_id', sa.Integer(), nullable=True),
    sa.CheckConstraint('credited_minor >= 0 AND credited_minor <= disputed_minor', name=op.f('ck_dispute_invoices_credited_in_range')),
    sa.CheckConstraint('disputed_minor > 0', name=op.f('ck_dispute_invoices_disputed_positive')),
    sa.CheckConstraint('held_minor >= 0 AND held_minor <= disputed_minor', name=op.f('ck_dispute_invoices_held_in_range')),
    sa.CheckConstraint('proposed_credit_minor IS NULL OR (proposed_credit_minor >= 0 AND proposed_credit_minor <= disputed_minor)', name=op.f('ck_dispute_invoices_proposed_in_range')),
    sa.ForeignKeyConstraint(['dispute_id'], ['disputes.id'], name=op.f('fk_dispute_invoices_dispute_id_disputes')),
    sa.ForeignKeyConstraint(['invoice_id'], ['invoices.id'], name=op.f('fk_dispute_invoices_invoice_id_invoices')),
    sa.ForeignKeyConstraint(['rebilled_invoice_id'], ['invoices.id'], name=op.f('fk_dispute_invoices_rebilled_invoice_id_invoices')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dispute_invoices')),
    sa.UniqueConstraint('dispute_id', 'invoice_id', name=op.f('uq_dispute_invoices_dispute_id_invoice_id'))
    )
    op.create_index('ix_dispute_invoices_invoice', 'dispute_invoices', ['invoice_id'], unique=False)

    op.create_table('dispute_messages',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('dispute_id', sa.Integer(), nullable=False),
    sa.Column('author_kind', sa.String(length=10), nullable=False),
    sa.Column('contact_id', sa.Integer(), nullable=True),
    sa.Column('staff_id', sa.Integer(), nullable=True),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('internal', sa.Boolean(), nullable=False),
    sa.Column('created_at', portal.domain.core.types.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("author_kind = 'staff' OR NOT internal", name=op.f('ck_dispute_messages_only_staff_notes_internal')),
    sa.CheckConstraint("author_kind IN ('customer', 'staff')", name=op.f('ck_dispute_messages_author_kind_known')),
    sa.ForeignKeyConstraint(['contact_id'], ['contacts.id'], name=op.f('fk_dispute_messages_contact_id_contacts')),
    sa.ForeignKeyConstraint(['dispute_id'], ['disputes.id'], name=op.f('fk_dispute_messages_dispute_id_disputes')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dispute_messages'))
    )
    op.create_index('ix_dispute_messages_dispute', 'dispute_messages', ['dispute_id', 'created_at'], unique=False)

    op.create_table('dispute_sla_pauses',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('dispute_id', sa.Integer(), nullable=False),
    sa.Column('started_at', portal.domain.core.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('ended_at', portal.domain.core.types.UTCDateTime(timezone=True), nullable=True),
    sa.CheckConstraint('ended_at IS NULL OR ended_at >= started_at', name=op.f('ck_dispute_sla_pauses_ends_after_start')),
    sa.ForeignKeyConstraint(['dispute_id'], ['disputes.id'], name=op.f('fk_dispute_sla_pauses_dispute_id_disputes')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dispute_sla_pauses'))
    )
    op.create_index('ix_dispute_sla_pauses_dispute', 'dispute_sla_pauses', ['dispute_id'], unique=False)

    op.create_table('dispute_attachments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('dispute_id', sa.Integer(), nullable=False),
    sa.Column('message_id', sa.Integer(), nullable=True),
    sa.Column('file_id', sa.Integer(), nullable=False),
    sa.Column('created_at', portal.domain.core.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['dispute_id'], ['disputes.id'], name=op.f('fk_dispute_attachments_dispute_id_disputes')),
    sa.ForeignKeyConstraint(['message_id'], ['dispute_messages.id'], name=op.f('fk_dispute_attachments_message_id_dispute_messages')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dispute_attachments'))
    )
    op.create_index('ix_dispute_attachments_dispute', 'dispute_attachments', ['dispute_id'], unique=False)

    op.create_table('dispute_lines',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('dispute_invoice_id', sa.Integer(), nullable=False),
    sa.Column('invoice_line_id', sa.Integer(), nullable=False),
    sa.Column('quantity', sa.Numeric(precision=14, scale=3), nullable=True),
    sa.Column('amount_minor', sa.Integer(), nullable=False),
    sa.CheckConstraint('amount_minor > 0', name=op.f('ck_dispute_lines_amount_positive')),
    sa.CheckConstraint('quantity IS NULL OR quantity > 0', name=op.f('ck_dispute_lines_quantity_positive')),
    sa.ForeignKeyConstraint(['dispute_invoice_id'], ['dispute_invoices.id'], name=op.f('fk_dispute_lines_dispute_invoice_id_dispute_invoices')),
    sa.ForeignKeyConstraint(['invoice_line_id'], ['invoice_lines.id'], name=op.f('fk_dispute_lines_invoice_line_id_invoice_lines')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dispute_lines')),
    sa.UniqueConstraint('dispute_invoice_id', 'invoice_line_id', name=op.f('uq_dispute_lines_dispute_invoice_id_invoice_line_id'))
    )
    reasons = sa.table("dispute_reasons", sa.column("code", sa.String), sa.column("label", sa.String),
                       sa.column("position", sa.Integer), sa.column("active", sa.Boolean))
    op.bulk_insert(reasons, [{"code": code, "label": label, "position": n, "active": True}
                             for n, (code, label) in enumerate(DEFAULT_REASONS, start=1)])
    if dialect == "postgresql":
        op.add_column("invoices", sa.Column("held_minor", sa.Integer(), server_default=sa.text("0"), nullable=False))
        op.create_check_constraint(op.f("ck_invoices_held_not_negative"), "invoices", "held_minor >= 0")
    else:
        op.execute("ALTER TABLE invoices ADD COLUMN held_minor INTEGER DEFAULT 0 NOT NULL"
                   " CONSTRAINT ck_invoices_held_not_negative CHECK (held_minor >= 0)")
    op.create_index("ix_invoices_customer_held", "invoices", ["customer_id", "currency"], unique=False,
                    postgresql_where=sa.text(HELD_INVOICE), sqlite_where=sa.text(HELD_INVOICE))


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    op.drop_index("ix_invoices_customer_held", table_name="invoices",
                  postgresql_where=sa.text(HELD_INVOICE), sqlite_where=sa.text(HELD_INVOICE))
    if dialect == "postgresql":
        op.drop_constraint(op.f("ck_invoices_held_not_negative"), "invoices", type_="check")
    op.execute("ALTER TABLE invoices DROP COLUMN held_minor")
    for table in ("dispute_lines", "dispute_attachments", "dispute_sla_pauses", "dispute_messages",
                  "dispute_invoices", "dispute_events", "disputes", "dispute_reasons"):
        op.drop_table(table)  # their indexes go with them
