"""Balances derived from the append-only entries, and money still in flight.

`open balance` = sum of an invoice's entries. `in flight` = what non-final payment attempts
(new, requires_action, processing: an ACH debit for days) have allocated to it. `payable` =
open balance - in flight: what may be charged now, so nothing is paid twice while money moves.
All three come from two grouped subqueries, so a page costs the same few queries whatever the
number of invoices.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.orm import Session

from portal.domain.payments.models import IN_FLIGHT_STATUSES, Payment, PaymentAllocation
from portal.domain.invoicing.models import Invoice
from portal.domain.ledger.models import InvoiceEntry
from portal.domain.core.money import Money


def balance_subquery(invoice_filter: ColumnElement[bool] | None = None):
    """Balance per invoice. `invoice_filter` (a WHERE clause on Invoice, e.g. `invoice_scope`)
    limits the grouping to those invoices, so one customer's page does not sum the entries of
    every customer in the database."""
    query = (
        select(InvoiceEntry.invoice_id.label("invoice_id"),
               func.sum(InvoiceEntry.amount_minor).label("balance_minor"))
        .group_by(InvoiceEntry.invoice_id)
    )
    if invoice_filter is not None:
        query = query.join(Invoice, Invoice.id == InvoiceEntry.invoice_id).where(invoice_filter)
    return query.subquery("balances")


def in_flight_subquery(exclude_payment_id: int | None = None,
                       invoice_filter: ColumnElement[bool] | None = None):
    query = (
        select(PaymentAllocation.invoice_id.label("invoice_id"),
               func.sum(PaymentAllocation.amount_minor).label("in_flight_minor"))
        .join(Payment, Payment.id == PaymentAllocation.payment_id)
        .where(Payment.status.in_(IN_FLIGHT_STATUSES))
        .group_by(PaymentAllocation.invoice_id)
    )
    if exclude_payment_id is not None:
        query = query.where(Payment.id != exclude_payment_id)
    if invoice_filter is not None:
        query = query.join(Invoice, Invoice.id == PaymentAllocation.invoice_id).where(invoice_filter)
    return query.subquery("in_flight")


@dataclass(frozen=True)
class Standing:
    """Where an invoice stands today."""

    invoice: Invoice
    balance: Money
    in_flight: Money
    today: date

    @property
    def total(self) -> Money:
        return Money(self.invoice.total_minor, self.invoice.currency)

    @property
    def payable(self) -> Money:
        return Money(max(self.balance.minor - self.in_flight.minor, 0), self.invoice.currency)

    @property
    def is_paid(self) -> bool:
        return self.balance.minor <= 0

    @property
    def is_overdue(self) -> bool:
        return not self.is_paid and self.invoice.due_date < self.today

    @property
    def is_partly_paid(self) -> bool:
        return 0 < self.balance.minor < self.invoice.total_minor

    @property
    def days_overdue(self) -> int:
        return max((self.today - self.invoice.due_date).days, 0) if not self.is_paid else 0

    @property
    def status(self) -> str:
        """paid | processing | overdue | open: the badge a person sees first."""
        if self.is_paid:
            return "paid"
        if self.payable.minor == 0 and self.in_flight.minor > 0:
            return "processing"
        return "overdue" if self.is_overdue else "open"


def standings_query(base: Select | None = None,
                    invoice_filter: ColumnElement[bool] | None = None) -> Select:
    """SELECT Invoice, balance, in_flight: add WHERE/ORDER BY/LIMIT to taste.

    `invoice_filter` narrows the two grouped subqueries (see `balance_subquery`); it does not
    filter the outer query: add the same clause with `.where(...)` for that.
    """
    balances = balance_subquery(invoice_filter)
    in_flight = in_flight_subquery(invoice_filter=invoice_filter)
    query = base if base is not None else select(Invoice)
    return (
        query.add_columns(
            func.coalesce(balances.c.balance_minor, 0).label("balance_minor"),
            func.coalesce(in_flight.c.in_flight_minor, 0).label("in_flight_minor"),
        )
        .outerjoin(balances, balances.c.invoice_id == Invoice.id)
        .outerjoin(in_flight, in_flight.c.invoice_id == Invoice.id)
    )


def to_standings(rows, today: date) -> list[Standing]:
    return [
        Standing(invoice, Money(int(balance), invoice.currency), Money(int(flight), invoice.currency), today)
        for invoice, balance, flight in rows
    ]


def standings_for(db: Session, invoice_ids: list[int], today: date) -> dict[int, Standing]:
    if not invoice_ids:
        return {}
    wanted = Invoice.id.in_(invoice_ids)
    # The same clause narrows the grouped subqueries: only these invoices' entries are summed.
    rows = db.execute(standings_query(invoice_filter=wanted).where(wanted)).all()
    return {s.invoice.id: s for s in to_standings(rows, today)}
