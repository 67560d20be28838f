"""payment references ("PAY-2026-000123") and the card a payment was made with

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01

- payments.reference: the human-readable reference of each attempt, unique. Existing rows are
  numbered per UTC year of `created_at`, in the order they were started (created_at, id).
- payment_reference_counters: the last number given per year, so new attempts continue
  where the back-fill stopped.
- payments.card_brand, payments.card_last4: the card as the processor reported it, for the
  receipt (unknown, NULL, for payments made before).

Plain ADD COLUMNs (no batch copy on SQLite, so `payments` keeps its shape and any trigger);
`reference` gets a server default of '' only so it can be NOT NULL on a table with rows.
"""

from alembic import op
import sqlalchemy as sa

from portal.domain.core.types import UTCDateTime

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

REFERENCE_DIGITS = 6  # portal.domain.payments.policy.REFERENCE_DIGITS at the time of writing


def upgrade() -> None:
    op.add_column("payments", sa.Column("reference", sa.String(length=20), server_default=sa.text("''"),
                                        nullable=False))
    op.add_column("payments", sa.Column("card_brand", sa.String(length=20), nullable=True))
    op.add_column("payments", sa.Column("card_last4", sa.String(length=4), nullable=True))
    op.create_table(
        "payment_reference_counters",
        sa.Column("year", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("last_number", sa.Integer(), nullable=False),
        sa.CheckConstraint("last_number > 0", name=op.f("ck_payment_reference_counters_last_number_positive")),
        sa.PrimaryKeyConstraint("year", name=op.f("pk_payment_reference_counters")),
    )

    connection = op.get_bind()
    payments = sa.table("payments", sa.column("id", sa.Integer()), sa.column("created_at", UTCDateTime()),
                        sa.column("reference", sa.String()))
    counters = sa.table("payment_reference_counters", sa.column("year", sa.Integer()),
                        sa.column("last_number", sa.Integer()))
    last_numbers: dict[int, int] = {}
    updates = []
    rows = connection.execute(
        sa.select(payments.c.id, payments.c.created_at).order_by(payments.c.created_at, payments.c.id)
    )
    for payment_id, created_at in rows:
        year = created_at.year
        last_numbers[year] = last_numbers.get(year, 0) + 1
        updates.append({"row_id": payment_id, "new_reference": f"PAY-{year:04d}-{last_numbers[year]:0{REFERENCE_DIGITS}d}"})
    if updates:
        connection.execute(
            payments.update().where(payments.c.id == sa.bindparam("row_id"))
            .values(reference=sa.bindparam("new_reference")),
            updates,
        )
        connection.execute(counters.insert(), [{"year": y, "last_number": n} for y, n in sorted(last_numbers.items())])

    op.create_index("uq_payments_reference", "payments", ["reference"], unique=True)


def downgrade() -> None:
    op.drop_index("uq_payments_reference", table_name="payments")
    op.drop_table("payment_reference_counters")
    op.drop_column("payments", "card_last4")
    op.drop_column("payments", "card_brand")
    op.drop_column("payments", "reference")
