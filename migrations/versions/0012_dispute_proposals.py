"""dispute proposals: the explanation a credit waiting for approval will carry; active disputes by SLA date

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01

- `disputes.proposed_explanation`: what the analyst wrote to the customer with a credit that
  waits for approval; the approver sends it (or their own words) when approving, so the
  customer reads why the credit was given. Empty once the proposal is approved or sent back.
- `ix_disputes_status_resolution_due` (status, resolution_due_at): the SLA warnings, the "SLA
  at risk" queue and the supervisors' numbers read the active disputes by their due dates;
  most disputes are closed, so the status leads.

A plain added column and an index: no table is copied on SQLite.
"""

from alembic import op
import sqlalchemy as sa


revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("disputes", sa.Column("proposed_explanation", sa.Text(), nullable=True))
    op.create_index("ix_disputes_status_resolution_due", "disputes", ["status", "resolution_due_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_disputes_status_resolution_due", table_name="disputes")
    with op.batch_alter_table("disputes") as batch:
        batch.drop_column("proposed_explanation")
