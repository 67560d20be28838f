"""maintained balances

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01

Each invoice carries its open balance (`balance_minor`, the sum of its entries) and the money
in flight towards it (`in_flight_minor`, the allocations of payments that are new,
requires_action or processing). Triggers keep both in the transaction that changes them, on
PostgreSQL and SQLite alike:

- AFTER INSERT on invoice_entries adds the entry's amount to the balance;
- AFTER INSERT on payment_allocations adds the amount while its payment is in flight;
- AFTER UPDATE OF status on payments subtracts a payment's allocations when it leaves the
  in-flight statuses and adds them back when it enters them again (failed -> processing);
- payment allocations become immutable, like the entries, so nothing else can move the sums.

Existing rows are backfilled from the entries and allocations. The status list is written out
here rather than imported: a migration is a snapshot of the schema at its time.
"""

from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None

IN_FLIGHT = "('new', 'requires_action', 'processing')"
OPEN_INVOICE = "balance_minor > 0"

BACKFILL = f"""
UPDATE invoices SET
    balance_minor = COALESCE(
        (SELECT SUM(e.amount_minor) FROM invoice_entries e WHERE e.invoice_id = invoices.id), 0),
    in_flight_minor = COALESCE(
        (SELECT SUM(a.amount_minor) FROM payment_allocations a
           JOIN payments p ON p.id = a.payment_id
          WHERE a.invoice_id = invoices.id AND p.status IN {IN_FLIGHT}), 0)
"""

# (trigger name, function body) on PostgreSQL; every function is named after its trigger.
POSTGRES_TRIGGERS = (
    ("invoice_entries_maintain_balance", "AFTER INSERT ON invoice_entries", None, """
        UPDATE invoices SET balance_minor = balance_minor + NEW.amount_minor
         WHERE id = NEW.invoice_id;
        RETURN NULL;
    """),
    ("payment_allocations_maintain_in_flight", "AFTER INSERT ON payment_allocations", None, f"""
        UPDATE invoices SET in_flight_minor = in_flight_minor + NEW.amount_minor
         WHERE id = NEW.invoice_id
           AND EXISTS (SELECT 1 FROM payments p
                        WHERE p.id = NEW.payment_id AND p.status IN {IN_FLIGHT});
        RETURN NULL;
    """),
    ("payments_maintain_in_flight", "AFTER UPDATE OF status ON payments",
     f"(OLD.status IN {IN_FLIGHT}) IS DISTINCT FROM (NEW.status IN {IN_FLIGHT})", f"""
        UPDATE invoices
           SET in_flight_minor = in_flight_minor
               + CASE WHEN NEW.status IN {IN_FLIGHT} THEN a.amount_minor ELSE -a.amount_minor END
          FROM payment_allocations a
         WHERE a.payment_id = NEW.id AND invoices.id = a.invoice_id;
        RETURN NULL;
    """),
    ("payment_allocations_immutable", "BEFORE UPDATE OR DELETE ON payment_allocations", None, """
        RAISE EXCEPTION 'payment_allocations are immutable';
    """),
)

_ALLOCATED = ("(SELECT a.amount_minor FROM payment_allocations a"
              " WHERE a.payment_id = NEW.id AND a.invoice_id = invoices.id)")
_ALLOCATED_INVOICES = "(SELECT a.invoice_id FROM payment_allocations a WHERE a.payment_id = NEW.id)"

SQLITE_TRIGGERS = (
    ("invoice_entries_maintain_balance", "AFTER INSERT ON invoice_entries", None,
     "UPDATE invoices SET balance_minor = balance_minor + NEW.amount_minor WHERE id = NEW.invoice_id;"),
    ("payment_allocations_maintain_in_flight", "AFTER INSERT ON payment_allocations",
     f"(SELECT status FROM payments WHERE id = NEW.payment_id) IN {IN_FLIGHT}",
     "UPDATE invoices SET in_flight_minor = in_flight_minor + NEW.amount_minor WHERE id = NEW.invoice_id;"),
    ("payments_leave_in_flight", "AFTER UPDATE OF status ON payments",
     f"OLD.status IN {IN_FLIGHT} AND NEW.status NOT IN {IN_FLIGHT}",
     f"UPDATE invoices SET in_flight_minor = in_flight_minor - {_ALLOCATED} WHERE id IN {_ALLOCATED_INVOICES};"),
    ("payments_enter_in_flight", "AFTER UPDATE OF status ON payments",
     f"OLD.status NOT IN {IN_FLIGHT} AND NEW.status IN {IN_FLIGHT}",
     f"UPDATE invoices SET in_flight_minor = in_flight_minor + {_ALLOCATED} WHERE id IN {_ALLOCATED_INVOICES};"),
    ("payment_allocations_no_update", "BEFORE UPDATE ON payment_allocations", None,
     "SELECT RAISE(ABORT, 'payment_allocations are immutable');"),
    ("payment_allocations_no_delete", "BEFORE DELETE ON payment_allocations", None,
     "SELECT RAISE(ABORT, 'payment_allocations are immutable');"),
)


def _create_triggers(dialect: str) -> None:
    if dialect == "postgresql":
        for name, event, condition, body in POSTGRES_TRIGGERS:
            op.execute(f"CREATE FUNCTION {name}() RETURNS trigger AS $$\nBEGIN{body}END;\n$$ LANGUAGE plpgsql")
            when = f" WHEN ({condition})" if condition else ""
            op.execute(f"CREATE TRIGGER {name} {event} FOR EACH ROW{when} EXECUTE FUNCTION {name}()")
    else:
        for name, event, condition, body in SQLITE_TRIGGERS:
            when = f" WHEN {condition}" if condition else ""
            op.execute(f"CREATE TRIGGER {name} {event} FOR EACH ROW{when} BEGIN {body} END")


def _drop_triggers(dialect: str) -> None:
    if dialect == "postgresql":
        for name, event, _condition, _body in POSTGRES_TRIGGERS:
            table = event.rsplit(" ", 1)[1]
            op.execute(f"DROP TRIGGER IF EXISTS {name} ON {table}")
            op.execute(f"DROP FUNCTION IF EXISTS {name}()")
    else:
        for name, *_rest in SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.add_column('invoices', sa.Column('balance_minor', sa.Integer(), server_default=sa.text('0'), nullable=False))
        op.add_column('invoices', sa.Column('in_flight_minor', sa.Integer(), server_default=sa.text('0'), nullable=False))
        op.create_check_constraint(op.f('ck_invoices_in_flight_not_negative'), 'invoices', 'in_flight_minor >= 0')
    else:
        # SQLite adds a column with its own CHECK in place; a table CHECK would need the table
        # copied (and every table that refers to it with it).
        op.execute("ALTER TABLE invoices ADD COLUMN balance_minor INTEGER DEFAULT 0 NOT NULL")
        op.execute("ALTER TABLE invoices ADD COLUMN in_flight_minor INTEGER DEFAULT 0 NOT NULL"
                   " CONSTRAINT ck_invoices_in_flight_not_negative CHECK (in_flight_minor >= 0)")
    op.execute(BACKFILL)
    op.create_index('ix_invoices_customer_open_due', 'invoices', ['customer_id', 'due_date'], unique=False,
                    postgresql_where=sa.text(OPEN_INVOICE), sqlite_where=sa.text(OPEN_INVOICE))
    op.create_index('ix_invoices_customer_standing', 'invoices',
                    ['customer_id', 'currency', 'balance_minor', 'due_date'], unique=False)
    _create_triggers(dialect)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    _drop_triggers(dialect)
    op.drop_index('ix_invoices_customer_standing', table_name='invoices')
    op.drop_index('ix_invoices_customer_open_due', table_name='invoices',
                  postgresql_where=sa.text(OPEN_INVOICE), sqlite_where=sa.text(OPEN_INVOICE))
    if dialect == "postgresql":
        op.drop_constraint(op.f('ck_invoices_in_flight_not_negative'), 'invoices', type_='check')
        op.drop_column('invoices', 'in_flight_minor')
        op.drop_column('invoices', 'balance_minor')
    else:
        op.execute("ALTER TABLE invoices DROP COLUMN in_flight_minor")
        op.execute("ALTER TABLE invoices DROP COLUMN balance_minor")
