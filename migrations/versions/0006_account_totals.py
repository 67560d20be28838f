"""account totals: what each customer owes, kept per currency and per due date

Revision ID: 0006
Revises: 0003
Create Date: 2026-12-02

The overview's totals and aging and the invoice list's tab counts used to add up every open
invoice of the account on each request. Two small tables now hold those sums, kept by
triggers on `invoices` in the same transaction as the invoice's own maintained columns
(which the triggers of 0002 move), on PostgreSQL and SQLite alike:

- `account_totals` (customer, currency): how many invoices, how many are open
  (`balance_minor > 0`), what they owe, what is in flight towards them and how many have money
  in flight; one row per currency the customer has invoices in.
- `account_due_dates` (customer, due date, currency): the open invoices grouped by due date,
  with their count and open balance; a row exists only while some invoice due that day is
  open, so the table holds the distinct due dates with money owed, not the invoices.

An invoice contributes its figures on INSERT; an UPDATE that moves its balance, money in
flight, due date, currency or customer adds the new contribution and takes back the old; a
DELETE takes it back. Rows that fall to zero are deleted. `ledger.jobs.check_ledger` proves
both tables against a recomputation from the invoices.

Indexes for the list's other sort orders (issued, number, total, balance) and for the paid
part of its default order are added with them. Existing rows are backfilled.
"""

from alembic import op
import sqlalchemy as sa


revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

OPEN_INVOICE = "balance_minor > 0"
PAID_INVOICE = "balance_minor <= 0"


def _figures(row: str) -> dict[str, str]:
    """What one invoice (`NEW` or `OLD`) adds to each column of the two tables."""
    is_open = f"{row}.balance_minor > 0"
    return {
        "open_count": f"CASE WHEN {is_open} THEN 1 ELSE 0 END",
        "open_minor": f"CASE WHEN {is_open} THEN {row}.balance_minor ELSE 0 END",
        "in_flight_minor": f"CASE WHEN {is_open} THEN {row}.in_flight_minor ELSE 0 END",
        "processing_count": f"CASE WHEN {is_open} AND {row}.in_flight_minor > 0 THEN 1 ELSE 0 END",
    }


TOTAL_COLUMNS = ("invoice_count", "open_count", "open_minor", "in_flight_minor", "processing_count")
DUE_DATE_COLUMNS = ("open_count", "open_minor")


def _add(row: str) -> list[str]:
    """Statements adding invoice `row`'s contribution (upserts)."""
    figures = {"invoice_count": "1", **_figures(row)}
    totals = ", ".join(figures[c] for c in TOTAL_COLUMNS)
    totals_set = ", ".join(f"{c} = account_totals.{c} + excluded.{c}" for c in TOTAL_COLUMNS)
    due = ", ".join(figures[c] for c in DUE_DATE_COLUMNS)
    due_set = ", ".join(f"{c} = account_due_dates.{c} + excluded.{c}" for c in DUE_DATE_COLUMNS)
    return [
        f"INSERT INTO account_totals (customer_id, currency, {', '.join(TOTAL_COLUMNS)})"
        f" VALUES ({row}.customer_id, {row}.currency, {totals})"
        f" ON CONFLICT (customer_id, currency) DO UPDATE SET {totals_set}",
        # SELECT ... WHERE: nothing to add for an invoice that is not open.
        f"INSERT INTO account_due_dates (customer_id, due_date, currency, {', '.join(DUE_DATE_COLUMNS)})"
        f" SELECT {row}.customer_id, {row}.due_date, {row}.currency, {due} WHERE {row}.balance_minor > 0"
        f" ON CONFLICT (customer_id, due_date, currency) DO UPDATE SET {due_set}",
    ]


def _take_back(row: str) -> list[str]:
    """Statements removing invoice `row`'s contribution, and rows left at zero."""
    figures = {"invoice_count": "1", **_figures(row)}
    totals_key = f"customer_id = {row}.customer_id AND currency = {row}.currency"
    due_key = f"customer_id = {row}.customer_id AND due_date = {row}.due_date AND currency = {row}.currency"
    totals_set = ", ".join(f"{c} = {c} - {figures[c]}" for c in TOTAL_COLUMNS)
    due_set = ", ".join(f"{c} = {c} - {figures[c]}" for c in DUE_DATE_COLUMNS)
    return [
        f"UPDATE account_totals SET {totals_set} WHERE {totals_key}",
        f"DELETE FROM account_totals WHERE {totals_key} AND invoice_count = 0",
        f"UPDATE account_due_dates SET {due_set} WHERE {due_key} AND {row}.balance_minor > 0",
        f"DELETE FROM account_due_dates WHERE {due_key} AND open_count = 0",
    ]


UPDATED_COLUMNS = ("balance_minor", "in_flight_minor", "due_date", "currency", "customer_id")
CHANGED = " OR ".join(f"OLD.{c} IS NOT NEW.{c}" for c in UPDATED_COLUMNS)
CHANGED_POSTGRES = " OR ".join(f"OLD.{c} IS DISTINCT FROM NEW.{c}" for c in UPDATED_COLUMNS)
UPDATE_EVENT = f"AFTER UPDATE OF {', '.join(UPDATED_COLUMNS)} ON invoices"

# (trigger name, event, condition, statements); on PostgreSQL each trigger gets a function of
# its name.
TRIGGERS = (
    ("invoices_add_to_account_totals", "AFTER INSERT ON invoices", None, _add("NEW")),
    ("invoices_move_account_totals", UPDATE_EVENT, CHANGED, _add("NEW") + _take_back("OLD")),
    ("invoices_remove_from_account_totals", "AFTER DELETE ON invoices", None, _take_back("OLD")),
)

BACKFILL = (
    """
    INSERT INTO account_totals (customer_id, currency, invoice_count, open_count, open_minor,
                                in_flight_minor, processing_count)
    SELECT customer_id, currency, COUNT(*),
           SUM(CASE WHEN balance_minor > 0 THEN 1 ELSE 0 END),
           SUM(CASE WHEN balance_minor > 0 THEN balance_minor ELSE 0 END),
           SUM(CASE WHEN balance_minor > 0 THEN in_flight_minor ELSE 0 END),
           SUM(CASE WHEN balance_minor > 0 AND in_flight_minor > 0 THEN 1 ELSE 0 END)
      FROM invoices GROUP BY customer_id, currency
    """,
    """
    INSERT INTO account_due_dates (customer_id, due_date, currency, open_count, open_minor)
    SELECT customer_id, due_date, currency, COUNT(*), SUM(balance_minor)
      FROM invoices WHERE balance_minor > 0 GROUP BY customer_id, due_date, currency
    """,
)

# The list's sort orders, each served by an index for ORDER BY ... LIMIT (see account.queries).
SORT_INDEXES = (
    ("ix_invoices_customer_issued", ["customer_id", "issue_date"]),
    ("ix_invoices_customer_number", ["customer_id", "number"]),
    ("ix_invoices_customer_total", ["customer_id", "total_minor"]),
    ("ix_invoices_customer_balance", ["customer_id", "balance_minor"]),
)


def _create_triggers(dialect: str) -> None:
    for name, event, condition, statements in TRIGGERS:
        if dialect == "postgresql":
            condition = CHANGED_POSTGRES if condition else None
            body = "".join(f"\n    {statement};" for statement in statements)
            op.execute(f"CREATE FUNCTION {name}() RETURNS trigger AS $$\nBEGIN{body}\n    RETURN NULL;\nEND;\n"
                       "$$ LANGUAGE plpgsql")
            when = f" WHEN ({condition})" if condition else ""
            op.execute(f"CREATE TRIGGER {name} {event} FOR EACH ROW{when} EXECUTE FUNCTION {name}()")
        else:
            when = f" WHEN {condition}" if condition else ""
            body = " ".join(f"{statement};" for statement in statements)
            op.execute(f"CREATE TRIGGER {name} {event} FOR EACH ROW{when} BEGIN {body} END")


def _drop_triggers(dialect: str) -> None:
    for name, *_rest in TRIGGERS:
        if dialect == "postgresql":
            op.execute(f"DROP TRIGGER IF EXISTS {name} ON invoices")
            op.execute(f"DROP FUNCTION IF EXISTS {name}()")
        else:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    op.create_table(
        "account_totals",
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("invoice_count", sa.Integer(), nullable=False),
        sa.Column("open_count", sa.Integer(), nullable=False),
        sa.Column("open_minor", sa.BigInteger(), nullable=False),
        sa.Column("in_flight_minor", sa.BigInteger(), nullable=False),
        sa.Column("processing_count", sa.Integer(), nullable=False),
        sa.CheckConstraint("open_count >= 0 AND open_count <= invoice_count",
                           name=op.f("ck_account_totals_open_count_in_range")),
        sa.CheckConstraint("processing_count >= 0 AND processing_count <= open_count",
                           name=op.f("ck_account_totals_processing_count_in_range")),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"],
                                name=op.f("fk_account_totals_customer_id_customers")),
        sa.PrimaryKeyConstraint("customer_id", "currency", name=op.f("pk_account_totals")),
    )
    op.create_table(
        "account_due_dates",
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("open_count", sa.Integer(), nullable=False),
        sa.Column("open_minor", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("open_count >= 0", name=op.f("ck_account_due_dates_open_count_not_negative")),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"],
                                name=op.f("fk_account_due_dates_customer_id_customers")),
        sa.PrimaryKeyConstraint("customer_id", "due_date", "currency", name=op.f("pk_account_due_dates")),
    )
    for statement in BACKFILL:
        op.execute(statement)
    _create_triggers(dialect)
    for name, columns in SORT_INDEXES:
        op.create_index(name, "invoices", columns, unique=False)
    op.create_index("ix_invoices_customer_paid_due", "invoices", ["customer_id", "due_date", "id"], unique=False,
                    postgresql_where=sa.text(PAID_INVOICE), sqlite_where=sa.text(PAID_INVOICE))
    # The open part of the default order: oldest due first, newest invoice first within a day.
    op.create_index("ix_invoices_customer_open_priority", "invoices", ["customer_id", "due_date", sa.text("id DESC")],
                    unique=False, postgresql_where=sa.text(OPEN_INVOICE), sqlite_where=sa.text(OPEN_INVOICE))


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    op.drop_index("ix_invoices_customer_open_priority", table_name="invoices",
                  postgresql_where=sa.text(OPEN_INVOICE), sqlite_where=sa.text(OPEN_INVOICE))
    op.drop_index("ix_invoices_customer_paid_due", table_name="invoices",
                  postgresql_where=sa.text(PAID_INVOICE), sqlite_where=sa.text(PAID_INVOICE))
    for name, _columns in reversed(SORT_INDEXES):
        op.drop_index(name, table_name="invoices")
    _drop_triggers(dialect)
    op.drop_table("account_due_dates")
    op.drop_table("account_totals")
