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
- `ix_disputes_active_assignee_due` and `ix_disputes_active_team_due`: the staff queues
  ("mine", "unassigned", "my team's") list a member's or a team's active disputes by resolution
  due date, then age, a page at a time; partial (active disputes only), so a page reads its 25
  rows in index order instead of sorting every active dispute of the member.

A plain added column and indexes: no table is copied on SQLite.
"""

from alembic import op
import sqlalchemy as sa


revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


ACTIVE_DISPUTE = "status IN ('open', 'under_review', 'awaiting_customer', 'awaiting_approval')"
QUEUE_INDEXES = {"ix_disputes_active_assignee_due": "assignee_id", "ix_disputes_active_team_due": "team_id"}


def upgrade() -> None:
    op.add_column("disputes", sa.Column("proposed_explanation", sa.Text(), nullable=True))
    op.create_index("ix_disputes_status_resolution_due", "disputes", ["status", "resolution_due_at"], unique=False)
    for name, owner in QUEUE_INDEXES.items():
        op.create_index(name, "disputes", [owner, "resolution_due_at", "created_at", "id"], unique=False,
                        postgresql_where=sa.text(ACTIVE_DISPUTE), sqlite_where=sa.text(ACTIVE_DISPUTE))


def downgrade() -> None:
    for name in QUEUE_INDEXES:
        op.drop_index(name, table_name="disputes")
    op.drop_index("ix_disputes_status_resolution_due", table_name="disputes")
    with op.batch_alter_table("disputes") as batch:
        batch.drop_column("proposed_explanation")
