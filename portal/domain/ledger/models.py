"""The append-only history of entries that makes up an invoice's balance.

An invoice's open balance is the sum of its entries: `issued` is positive, settled payments
and credit notes are negative, reversals, refunds and chargebacks reopen it. Entries are never
updated or deleted (database triggers refuse it); a correction is another entry. The kinds and
their signs are `states.EntryKind`; `service.post_entry` is the one place that writes an entry,
and a trigger adds each new entry to its invoice's maintained `balance_minor`.

`AccountTotal` and `AccountDueDate` sum the invoices' maintained columns per customer: they
are written by triggers on `invoices` only (migration 0006), never by the ORM, and
`jobs.check_ledger` proves them against a recomputation from the invoices.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, CheckConstraint, Date, FetchedValue, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.domain.core.types import Base
from portal.domain.invoicing.models import Invoice
from portal.domain.ledger.states import kind_sign_check_sql
from portal.domain.payments import models as payments_models  # noqa: F401  (payments.id, a foreign key target)


class InvoiceEntry(Base):
    __tablename__ = "invoice_entries"
    __table_args__ = (
        CheckConstraint(kind_sign_check_sql(), name="kind_sign"),
        # A payment settles (or is reversed) on an invoice at most once: a database-level
        # guard behind the webhook deduplication.
        UniqueConstraint("payment_id", "invoice_id", "kind"),
        Index("ix_invoice_entries_invoice", "invoice_id"),
        # The cash export reads entries in (writing transaction, id) order (exports.queries).
        Index("ix_invoice_entries_export", "export_xid", "id"),
        # The AR dashboard reads the entries of the last two months (receivables back then).
        Index("ix_invoice_entries_created", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id"))
    kind: Mapped[str] = mapped_column(String(30))
    amount_minor: Mapped[int] = mapped_column(Integer)
    payment_id: Mapped[int | None] = mapped_column(ForeignKey("payments.id"))
    reference: Mapped[str] = mapped_column(String(120), default="")
    created_at: Mapped[datetime]
    # PostgreSQL: the id of the transaction that wrote the entry (`pg_current_xact_id()`, the
    # column's server default from migration 0021), so the cash export can tell entries that
    # are surely committed from ones a running transaction may still add below them. SQLite
    # serialises writers, so there it stays NULL and the id order is the commit order.
    export_xid: Mapped[int | None] = mapped_column(BigInteger, server_default=FetchedValue())

    invoice: Mapped[Invoice] = relationship()


class AccountTotal(Base):
    """One customer's invoices in one currency: how many, how many open, and what they owe.

    Open means `balance_minor > 0`; `in_flight_minor` and `processing_count` count only open
    invoices (what the overview shows). A row exists while the customer has an invoice in
    the currency.
    """

    __tablename__ = "account_totals"
    __table_args__ = (
        CheckConstraint("open_count >= 0 AND open_count <= invoice_count", name="open_count_in_range"),
        CheckConstraint("processing_count >= 0 AND processing_count <= open_count",
                        name="processing_count_in_range"),
    )

    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), primary_key=True)
    currency: Mapped[str] = mapped_column(String(3), primary_key=True)
    invoice_count: Mapped[int] = mapped_column(Integer)
    open_count: Mapped[int] = mapped_column(Integer)
    open_minor: Mapped[int] = mapped_column(BigInteger)
    in_flight_minor: Mapped[int] = mapped_column(BigInteger)
    processing_count: Mapped[int] = mapped_column(Integer)


class AccountDueDate(Base):
    """One customer's open invoices due on one day, in one currency: their count and balance.

    A row exists only while such an invoice is open, so a customer has as many rows as
    distinct due dates with money owed; the aging buckets and "overdue" are sums over a range
    of them (the primary key leads with customer and due date for that range).
    """

    __tablename__ = "account_due_dates"
    __table_args__ = (CheckConstraint("open_count >= 0", name="open_count_not_negative"),)

    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), primary_key=True)
    due_date: Mapped[date] = mapped_column(Date, primary_key=True)
    currency: Mapped[str] = mapped_column(String(3), primary_key=True)
    open_count: Mapped[int] = mapped_column(Integer)
    open_minor: Mapped[int] = mapped_column(BigInteger)
