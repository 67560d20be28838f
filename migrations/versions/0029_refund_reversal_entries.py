"""refund reversal entries

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-03

- `invoice_entries.kind` may be `refund_reversal` (negative, like a payment): the entry that
  undoes a posted refund Stripe later reported failed or canceled. Such refunds were undone
  with a `payment` entry before, which the invoice's history showed as "Payment received"
  and the cash export as a payment without a payment reference. Entries are append-only, so
  those already written stay as they are (their reference ends in "failed" or "canceled").

Only the CHECK `ck_invoice_entries_kind_sign` changes, and only to allow more: every row
already stored passes the new one. PostgreSQL swaps the constraint. SQLite cannot alter a
CHECK, so the table is rebuilt (batch mode: copy, drop, rename, indexes again); dropping the
table drops its triggers (append-only, and the maintained balance), so their SQL is read from
`sqlite_master` first and run again after the rebuild, unchanged. The copy runs before the
triggers exist, so no balance moves twice.
"""

from alembic import op
import sqlalchemy as sa


revision = "0029"
down_revision = "0028"
branch_labels = None
depends_on = None


BEFORE = ("(kind IN ('issued','payment_reversal','refund','chargeback') AND amount_minor > 0)"
          " OR (kind IN ('payment','credit_note','chargeback_reversal') AND amount_minor < 0)")
AFTER = ("(kind IN ('issued','payment_reversal','refund','chargeback') AND amount_minor > 0)"
         " OR (kind IN ('payment','credit_note','chargeback_reversal','refund_reversal') AND amount_minor < 0)")


def _replace_check(text: str) -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.drop_constraint(op.f("ck_invoice_entries_kind_sign"), "invoice_entries", type_="check")
        op.create_check_constraint(op.f("ck_invoice_entries_kind_sign"), "invoice_entries", sa.text(text))
        return
    triggers = bind.exec_driver_sql(
        "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'invoice_entries' ORDER BY name"
    ).scalars().all()
    with op.batch_alter_table("invoice_entries", recreate="always") as batch_op:
        batch_op.drop_constraint(op.f("ck_invoice_entries_kind_sign"), type_="check")
        batch_op.create_check_constraint(op.f("ck_invoice_entries_kind_sign"), sa.text(text))
    for sql in triggers:
        op.execute(sql)


def upgrade() -> None:
    _replace_check(AFTER)


def downgrade() -> None:
    # Fails (and changes nothing) while a refund_reversal entry exists: it would break the old CHECK.
    _replace_check(BEFORE)
