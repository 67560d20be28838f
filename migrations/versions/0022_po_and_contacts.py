"""PO numbers given after issue, contacts who left or whose address bounces, files with emails

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-01

- `invoice_reissues`: an invoice given a PO number, in place or credited and replaced by a new
  invoice (the link between the two), with the follow-up it answered.
- `contacts.left_at`, `contacts.email_failing_at`, `contacts.email_failure`: a contact who left
  gets no reminders and cannot sign in; a bounced address gets no reminders.
- `outbox_attachments`: files sent with an outbox message (a re-issued invoice's PDF).

New tables and nullable columns (one with a default): nothing existing is copied on SQLite.
"""

from alembic import op
import sqlalchemy as sa

from portal.domain.core.types import UTCDateTime


revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "invoice_reissues",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("invoice_id", sa.Integer(), nullable=False),
        sa.Column("replacement_invoice_id", sa.Integer(), nullable=True),
        sa.Column("followup_id", sa.Integer(), nullable=True),
        sa.Column("po_before", sa.String(length=60), nullable=True),
        sa.Column("po_after", sa.String(length=60), nullable=False),
        sa.Column("due_before", sa.Date(), nullable=False),
        sa.Column("due_after", sa.Date(), nullable=False),
        sa.Column("credit_minor", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.CheckConstraint("credit_minor >= 0", name=op.f("ck_invoice_reissues_credit_not_negative")),
        sa.CheckConstraint("replacement_invoice_id IS NOT NULL OR credit_minor = 0",
                           name=op.f("ck_invoice_reissues_in_place_credits_nothing")),
        sa.ForeignKeyConstraint(["followup_id"], ["followups.id"],
                                name=op.f("fk_invoice_reissues_followup_id_followups")),
        sa.ForeignKeyConstraint(["invoice_id"], ["invoices.id"], name=op.f("fk_invoice_reissues_invoice_id_invoices")),
        sa.ForeignKeyConstraint(["replacement_invoice_id"], ["invoices.id"],
                                name=op.f("fk_invoice_reissues_replacement_invoice_id_invoices")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invoice_reissues")),
        sa.UniqueConstraint("replacement_invoice_id", name=op.f("uq_invoice_reissues_replacement_invoice_id")),
    )
    op.create_index("ix_invoice_reissues_invoice", "invoice_reissues", ["invoice_id"], unique=False)
    op.create_table(
        "outbox_attachments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=False),
        sa.Column("filename", sa.String(length=120), nullable=False),
        sa.Column("content_type", sa.String(length=100), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["message_id"], ["outbox_messages.id"],
                                name=op.f("fk_outbox_attachments_message_id_outbox_messages")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox_attachments")),
    )
    op.create_index("ix_outbox_attachments_message", "outbox_attachments", ["message_id"], unique=False)
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("left_at", UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("email_failing_at", UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("email_failure", sa.String(length=200), server_default="", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.drop_column("email_failure")
        batch_op.drop_column("email_failing_at")
        batch_op.drop_column("left_at")
    op.drop_index("ix_outbox_attachments_message", table_name="outbox_attachments")
    op.drop_table("outbox_attachments")
    op.drop_index("ix_invoice_reissues_invoice", table_name="invoice_reissues")
    op.drop_table("invoice_reissues")
