"""erp: the ERP's own ids for what it imports, and the cash export's cursor column

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-01

- `erp_records`: one row per customer, contact, invoice, credit note or void the ERP imported,
  unique by (kind, ERP id), pointing at the portal's row and holding a fingerprint of the
  content last imported (an import run twice changes nothing).
- `invoice_entries.export_xid`: on PostgreSQL the writing transaction's id
  (`pg_current_xact_id()`, as the column's default; existing entries get this migration's
  transaction), indexed with the id: the cash export's cursor (see docs/erp-import.md). On
  SQLite the column stays NULL (writers are serialised, the id order is the commit order).
  A plain ADD COLUMN on both: no table is rebuilt, so the ledger's triggers stay as they are.
"""

from alembic import op
import sqlalchemy as sa
import portal.domain.core.types


revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('erp_records',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('erp_id', sa.String(length=64), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=True),
    sa.Column('contact_id', sa.Integer(), nullable=True),
    sa.Column('invoice_id', sa.Integer(), nullable=True),
    sa.Column('entry_id', sa.Integer(), nullable=True),
    sa.Column('fingerprint', sa.String(length=64), nullable=False),
    sa.Column('created_at', portal.domain.core.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', portal.domain.core.types.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("kind IN ('customer', 'contact', 'invoice', 'credit_note', 'void')",
                       name=op.f('ck_erp_records_kind_known')),
    sa.CheckConstraint('length(erp_id) > 0', name=op.f('ck_erp_records_erp_id_not_empty')),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_erp_records_customer_id_customers')),
    sa.ForeignKeyConstraint(['contact_id'], ['contacts.id'], name=op.f('fk_erp_records_contact_id_contacts')),
    sa.ForeignKeyConstraint(['invoice_id'], ['invoices.id'], name=op.f('fk_erp_records_invoice_id_invoices')),
    sa.ForeignKeyConstraint(['entry_id'], ['invoice_entries.id'],
                            name=op.f('fk_erp_records_entry_id_invoice_entries')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_erp_records')),
    sa.UniqueConstraint('kind', 'erp_id', name=op.f('uq_erp_records_kind_erp_id'))
    )
    op.create_index('ix_erp_records_invoice', 'erp_records', ['invoice_id'], unique=False)

    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE invoice_entries ADD COLUMN export_xid BIGINT "
                   "DEFAULT (pg_current_xact_id()::text::bigint)")
    else:
        op.add_column('invoice_entries', sa.Column('export_xid', sa.BigInteger(), nullable=True))
    op.create_index('ix_invoice_entries_export', 'invoice_entries', ['export_xid', 'id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_invoice_entries_export', table_name='invoice_entries')
    if op.get_bind().dialect.name == "postgresql":
        op.drop_column('invoice_entries', 'export_xid')
    else:
        # SQLite drops a column in place (3.35+); no batch rebuild, so the ledger triggers stay.
        op.execute("ALTER TABLE invoice_entries DROP COLUMN export_xid")
    op.drop_index('ix_erp_records_invoice', table_name='erp_records')
    op.drop_table('erp_records')
