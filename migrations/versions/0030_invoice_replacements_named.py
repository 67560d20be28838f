"""invoices name what they replace in the reader's language

Revision ID: 0030
Revises: 0029
Create Date: 2026-12-06

- The invoice page and PDF say which invoice one replaces and is replaced by, read from the
  records that link them (`invoice_reissues.replacement_invoice_id`, a re-issue with a PO;
  `dispute_invoices.rebilled_invoice_id`, a dispute's re-bill) and worded in the reader's
  language. The second is now looked up from the replacement's side:
  `ix_dispute_invoices_rebilled` (partial: only re-billed rows).
- Replacements no longer carry an English note saying so. The notes written before ("Replaces
  invoice INV-7, re-issued with PO PO-9." / "Replaces invoice INV-7 (dispute D-...).") are
  cleared on the invoices those records name as replacements: the portal wrote them, and the
  page now says the same in the reader's words. Notes on other invoices are untouched.
"""

from alembic import op
import sqlalchemy as sa


revision = "0030"
down_revision = "0029"
branch_labels = None
depends_on = None


REBILLED = "rebilled_invoice_id IS NOT NULL"


def upgrade() -> None:
    op.create_index("ix_dispute_invoices_rebilled", "dispute_invoices", ["rebilled_invoice_id"], unique=False,
                    postgresql_where=sa.text(REBILLED), sqlite_where=sa.text(REBILLED))
    op.execute(
        "UPDATE invoices SET notes = '' WHERE notes LIKE 'Replaces invoice %' AND ("
        " id IN (SELECT replacement_invoice_id FROM invoice_reissues WHERE replacement_invoice_id IS NOT NULL)"
        " OR id IN (SELECT rebilled_invoice_id FROM dispute_invoices WHERE rebilled_invoice_id IS NOT NULL))"
    )


def downgrade() -> None:
    op.drop_index("ix_dispute_invoices_rebilled", table_name="dispute_invoices")
