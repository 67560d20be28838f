"""Invoices and their lines, as the ERP issued them. Balances live in the ledger.

`balance_minor` (the sum of the invoice's ledger entries) and `in_flight_minor` (what payment
attempts still in flight have allocated to it) are maintained by database triggers in the same
transaction as the entry, allocation or payment status change that moves them (migration
0002), so a page reads two columns instead of summing an account's history. The ORM never
writes them; an `Invoice` loaded before a trigger fired holds stale values, so a read that
shows balances selects the columns themselves (see `ledger.queries`). Triggers on this table
in turn keep each customer's totals (`ledger.models.AccountTotal`, `AccountDueDate`).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    CheckConstraint, Date, ForeignKey, Index, Integer, Numeric, String, Text, UniqueConstraint, text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from portal.domain.core.types import Base, PublicIdMixin

# An invoice is open while something is owed on it: the customer pages ask for these.
OPEN_INVOICE_SQL = "balance_minor > 0"
PAID_INVOICE_SQL = "balance_minor <= 0"
HELD_INVOICE_SQL = "held_minor > 0"
MAINTAINED_COLUMNS = ("balance_minor", "in_flight_minor", "held_minor")


class Invoice(PublicIdMixin, Base):
    __tablename__ = "invoices"
    __table_args__ = (
        CheckConstraint("total_minor >= 0", name="total_not_negative"),
        CheckConstraint("length(currency) = 3", name="currency_code"),
        CheckConstraint("due_date >= issue_date", name="due_after_issue"),
        CheckConstraint("in_flight_minor >= 0", name="in_flight_not_negative"),
        CheckConstraint("held_minor >= 0", name="held_not_negative"),
        Index("ix_invoices_customer_due", "customer_id", "due_date"),
        # Overview, statement and "most overdue" read only a customer's open invoices.
        Index(
            "ix_invoices_customer_open_due", "customer_id", "due_date",
            postgresql_where=text(OPEN_INVOICE_SQL), sqlite_where=text(OPEN_INVOICE_SQL),
        ),
        # Tabs and counts per currency and status: answered from the index alone.
        Index("ix_invoices_customer_standing", "customer_id", "currency", "balance_minor", "due_date"),
        # The invoice list's sort orders: ORDER BY ... LIMIT reads an index range (migration 0006).
        Index("ix_invoices_customer_issued", "customer_id", "issue_date"),
        Index("ix_invoices_customer_number", "customer_id", "number"),
        Index("ix_invoices_customer_total", "customer_id", "total_minor"),
        Index("ix_invoices_customer_balance", "customer_id", "balance_minor"),
        # The paid part of the list's default order, newest due first (read backwards); the open
        # part has its own index below the class.
        Index(
            "ix_invoices_customer_paid_due", "customer_id", "due_date", "id",
            postgresql_where=text(PAID_INVOICE_SQL), sqlite_where=text(PAID_INVOICE_SQL),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    number: Mapped[str] = mapped_column(String(40), unique=True)
    po_number: Mapped[str | None] = mapped_column(String(60), index=True)
    currency: Mapped[str] = mapped_column(String(3))
    issue_date: Mapped[date] = mapped_column(Date)
    due_date: Mapped[date] = mapped_column(Date)
    terms: Mapped[str] = mapped_column(String(40), default="Net 30")
    total_minor: Mapped[int] = mapped_column(Integer)
    # The contact the ERP addressed it to; every contact of the company still sees it.
    sent_to_contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id"))
    notes: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime]
    # Maintained by database triggers only (see the module docstring).
    balance_minor: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    in_flight_minor: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    # What active disputes hold out of what is payable: kept by the dispute service (migration 0010).
    held_minor: Mapped[int] = mapped_column(Integer, server_default=text("0"))

    lines: Mapped[list[InvoiceLine]] = relationship(
        back_populates="invoice", order_by="InvoiceLine.position"
    )

    @validates(*MAINTAINED_COLUMNS)
    def _refuse_maintained_write(self, key: str, value):
        raise AttributeError(f"Invoice.{key} is maintained by the database; post a ledger entry instead")


# The overview's "Disputed" figure reads only the invoices that hold disputed money.
Index(
    "ix_invoices_customer_held", Invoice.customer_id, Invoice.currency,
    postgresql_where=text(HELD_INVOICE_SQL), sqlite_where=text(HELD_INVOICE_SQL),
)

# The open part of the list's default order: oldest due first, newest invoice first within a day.
Index(
    "ix_invoices_customer_open_priority", Invoice.customer_id, Invoice.due_date, Invoice.id.desc(),
    postgresql_where=text(OPEN_INVOICE_SQL), sqlite_where=text(OPEN_INVOICE_SQL),
)


class InvoiceLine(Base):
    __tablename__ = "invoice_lines"
    __table_args__ = (UniqueConstraint("invoice_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    sku: Mapped[str] = mapped_column(String(60), default="")
    description: Mapped[str] = mapped_column(String(500))
    quantity: Mapped[Decimal] = mapped_column(Numeric(14, 3))
    unit_price_minor: Mapped[int] = mapped_column(Integer)
    amount_minor: Mapped[int] = mapped_column(Integer)

    invoice: Mapped[Invoice] = relationship(back_populates="lines")


class InvoiceReissue(Base):
    """An issued invoice given a PO number (migration 0022): updated in place when nothing was
    paid, credited or disputed on it yet (`replacement_invoice_id` empty), otherwise credited
    what was open (`credit_minor`) and replaced by a new invoice carrying the PO. The invoice's
    history shows it; `followup_id` names the follow-up it answered, when there was one."""

    __tablename__ = "invoice_reissues"
    __table_args__ = (
        CheckConstraint("credit_minor >= 0", name="credit_not_negative"),
        CheckConstraint("replacement_invoice_id IS NOT NULL OR credit_minor = 0", name="in_place_credits_nothing"),
        Index("ix_invoice_reissues_invoice", "invoice_id"),
        UniqueConstraint("replacement_invoice_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id"))
    replacement_invoice_id: Mapped[int | None] = mapped_column(ForeignKey("invoices.id"))
    followup_id: Mapped[int | None] = mapped_column(ForeignKey("followups.id"))
    po_before: Mapped[str | None] = mapped_column(String(60))
    po_after: Mapped[str] = mapped_column(String(60))
    due_before: Mapped[date] = mapped_column(Date)
    due_after: Mapped[date] = mapped_column(Date)
    credit_minor: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime]
