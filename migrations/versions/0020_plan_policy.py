"""plan policy, customers on hold, amended plan schedules

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-01

- `customers.on_hold` (with the reason, who set or cleared it and when): staff put a customer
  on hold; its installment plans then always wait for staff.
- `plan_policy`: the installment-plan policy an admin set (one row); without it the PLAN_*
  settings apply. Every value bounded by a CHECK, the same ranges as the admin page's.
- `plan_amendments`: a new schedule staff propose for what remains unpaid of a running plan,
  until the customer accepts or declines it; at most one proposed per plan (a partial unique
  index).

Added columns with server defaults and new tables: no table is copied on SQLite.
"""

from alembic import op
import sqlalchemy as sa
from portal.domain.core.types import UTCDateTime


revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

# Kept here as they were when this revision was written (plans.policy.POLICY_BOUNDS).
POLICY_BOUNDS = {
    "max_total_minor": (1, 10**12),
    "max_count": (2, 12),
    "max_length_days": (7, 3 * 366),
    "min_first_payment_minor": (0, 10**12),
    "default_lookback_months": (0, 60),
    "retry_after_days": (1, 30),
    "max_failures": (1, 10),
    "reminder_days_before": (1, 14),
}
BIG = ("max_total_minor", "min_first_payment_minor")
PROPOSED = "status = 'proposed'"


def upgrade() -> None:
    op.add_column("customers", sa.Column("on_hold", sa.Boolean(), server_default=sa.false(), nullable=False))
    op.add_column("customers", sa.Column("hold_reason", sa.Text(), server_default="", nullable=False))
    op.add_column("customers", sa.Column("hold_changed_by", sa.String(length=64), server_default="", nullable=False))
    op.add_column("customers", sa.Column("hold_changed_at", UTCDateTime(), nullable=True))

    op.create_table(
        "plan_policy",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        *(sa.Column(field, sa.BigInteger() if field in BIG else sa.Integer(), nullable=False)
          for field in POLICY_BOUNDS),
        sa.Column("updated_by", sa.String(length=64), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_plan_policy_single_row")),
        *(sa.CheckConstraint(f"{field} BETWEEN {low} AND {high}", name=op.f(f"ck_plan_policy_{field}_in_range"))
          for field, (low, high) in POLICY_BOUNDS.items()),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plan_policy")),
    )

    op.create_table(
        "plan_amendments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("installment_count", sa.Integer(), nullable=False),
        sa.Column("cadence", sa.String(length=10), nullable=False),
        sa.Column("first_due_on", sa.Date(), nullable=False),
        sa.Column("remaining_minor", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("proposed_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("answered_at", UTCDateTime(), nullable=True),
        sa.Column("answered_by_contact_id", sa.Integer(), nullable=True),
        sa.Column("public_id", sa.String(length=22), nullable=False),
        sa.CheckConstraint("status IN ('proposed', 'accepted', 'declined', 'superseded')",
                           name=op.f("ck_plan_amendments_status_known")),
        sa.CheckConstraint("cadence IN ('weekly', 'biweekly', 'monthly')", name=op.f("ck_plan_amendments_cadence_known")),
        sa.CheckConstraint("installment_count BETWEEN 2 AND 12", name=op.f("ck_plan_amendments_count_in_range")),
        sa.CheckConstraint("remaining_minor > 0", name=op.f("ck_plan_amendments_remaining_positive")),
        sa.ForeignKeyConstraint(["answered_by_contact_id"], ["contacts.id"],
                                name=op.f("fk_plan_amendments_answered_by_contact_id_contacts")),
        sa.ForeignKeyConstraint(["plan_id"], ["plans.id"], name=op.f("fk_plan_amendments_plan_id_plans")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plan_amendments")),
        sa.UniqueConstraint("public_id", name=op.f("uq_plan_amendments_public_id")),
    )
    op.create_index(op.f("ix_plan_amendments_plan_id"), "plan_amendments", ["plan_id"], unique=False)
    op.create_index("uq_plan_amendments_one_proposed", "plan_amendments", ["plan_id"], unique=True,
                    postgresql_where=sa.text(PROPOSED), sqlite_where=sa.text(PROPOSED))


def downgrade() -> None:
    op.drop_index("uq_plan_amendments_one_proposed", table_name="plan_amendments")
    op.drop_index(op.f("ix_plan_amendments_plan_id"), table_name="plan_amendments")
    op.drop_table("plan_amendments")
    op.drop_table("plan_policy")
    with op.batch_alter_table("customers") as batch:
        batch.drop_column("hold_changed_at")
        batch.drop_column("hold_changed_by")
        batch.drop_column("hold_reason")
        batch.drop_column("on_hold")
