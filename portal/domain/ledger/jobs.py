"""`check_ledger`: the entries stay the truth; the maintained figures are proved against them.

Every invoice's `balance_minor` is compared with the sum of its entries and its
`in_flight_minor` with the sum of the allocations of its payments still in flight. A
difference means something wrote past the triggers (a manual UPDATE, a restored backup of
one table, a migration bug); the report names each one so it can be looked into, and the CLI
exits non-zero. It reads the whole ledger once, with two grouped subqueries: a job, not a page.

The per-customer sums the account pages read (`AccountTotal`, `AccountDueDate`, kept by
triggers on `invoices`) are compared in the same pass with a plain regrouping of the invoices'
columns: a missing, extra or wrong row is reported by customer, currency and due date.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import case, func, or_, select
from sqlalchemy.orm import Session

from portal.domain.customers.models import Customer
from portal.domain.invoicing.models import Invoice
from portal.domain.ledger.models import AccountDueDate, AccountTotal, InvoiceEntry
from portal.domain.payments.models import IN_FLIGHT_STATUSES, Payment, PaymentAllocation


@dataclass(frozen=True)
class LedgerDifference:
    """One maintained figure that disagrees with what its history adds up to."""

    invoice_number: str
    column: str  # "balance_minor" or "in_flight_minor"
    stored: int
    computed: int

    def __str__(self) -> str:
        return f"{self.invoice_number}: {self.column} is {self.stored}, its history adds up to {self.computed}"


@dataclass(frozen=True)
class AccountFigureDifference:
    """A customer's maintained total (per currency, or per due date) that disagrees with its invoices."""

    account_number: str
    currency: str
    due_date: date | None  # None: the customer's totals in the currency
    column: str
    stored: int
    computed: int

    def __str__(self) -> str:
        where = f"{self.account_number} {self.currency}"
        if self.due_date is not None:
            where += f" due {self.due_date.isoformat()}"
        return f"{where}: {self.column} is {self.stored}, its invoices add up to {self.computed}"


@dataclass(frozen=True)
class LedgerReport:
    invoices_checked: int
    differences: list[LedgerDifference | AccountFigureDifference] = field(default_factory=list)

    @property
    def is_consistent(self) -> bool:
        return not self.differences

    def __str__(self) -> str:
        if self.is_consistent:
            return f"ledger: {self.invoices_checked} invoices checked, no difference"
        return (f"ledger: {self.invoices_checked} invoices checked, "
                f"{len(self.differences)} difference{'s' if len(self.differences) != 1 else ''}")


def check_ledger(db: Session) -> LedgerReport:
    """Compare every invoice's maintained balance and money in flight with its history."""
    entries = (
        select(InvoiceEntry.invoice_id, func.sum(InvoiceEntry.amount_minor).label("total"))
        .group_by(InvoiceEntry.invoice_id)
        .subquery("entry_sums")
    )
    in_flight = (
        select(PaymentAllocation.invoice_id, func.sum(PaymentAllocation.amount_minor).label("total"))
        .join(Payment, Payment.id == PaymentAllocation.payment_id)
        .where(Payment.status.in_(IN_FLIGHT_STATUSES))
        .group_by(PaymentAllocation.invoice_id)
        .subquery("in_flight_sums")
    )
    computed_balance = func.coalesce(entries.c.total, 0)
    computed_in_flight = func.coalesce(in_flight.c.total, 0)
    rows = db.execute(
        select(Invoice.number, Invoice.balance_minor, computed_balance, Invoice.in_flight_minor, computed_in_flight)
        .outerjoin(entries, entries.c.invoice_id == Invoice.id)
        .outerjoin(in_flight, in_flight.c.invoice_id == Invoice.id)
        .where(or_(Invoice.balance_minor != computed_balance, Invoice.in_flight_minor != computed_in_flight))
        .order_by(Invoice.number)
    ).all()
    differences = []
    for number, balance, balance_sum, flight, flight_sum in rows:
        if balance != balance_sum:
            differences.append(LedgerDifference(number, "balance_minor", int(balance), int(balance_sum)))
        if flight != flight_sum:
            differences.append(LedgerDifference(number, "in_flight_minor", int(flight), int(flight_sum)))
    differences.extend(check_account_figures(db))
    checked = db.scalar(select(func.count()).select_from(Invoice))
    return LedgerReport(invoices_checked=int(checked), differences=differences)


TOTAL_COLUMNS = ("invoice_count", "open_count", "open_minor", "in_flight_minor", "processing_count")
DUE_DATE_COLUMNS = ("open_count", "open_minor")


def _compare(stored: dict[tuple, tuple], computed: dict[tuple, tuple], columns: tuple[str, ...]):
    """(key, column, stored, computed) for every figure that differs; a missing row counts as zeros."""
    zeros = (0,) * len(columns)
    for key in sorted(stored.keys() | computed.keys(), key=lambda k: tuple(str(part) for part in k)):
        for column, have, want in zip(columns, stored.get(key, zeros), computed.get(key, zeros), strict=True):
            if int(have) != int(want):
                yield key, column, int(have), int(want)


def check_account_figures(db: Session) -> list[AccountFigureDifference]:
    """Compare `account_totals` and `account_due_dates` with the invoices regrouped."""
    is_open = Invoice.balance_minor > 0
    recomputed_totals = select(
        Invoice.customer_id, Invoice.currency,
        func.count(),
        func.sum(case((is_open, 1), else_=0)),
        func.sum(case((is_open, Invoice.balance_minor), else_=0)),
        func.sum(case((is_open, Invoice.in_flight_minor), else_=0)),
        func.sum(case((is_open & (Invoice.in_flight_minor > 0), 1), else_=0)),
    ).group_by(Invoice.customer_id, Invoice.currency)
    recomputed_due_dates = (
        select(Invoice.customer_id, Invoice.currency, Invoice.due_date, func.count(), func.sum(Invoice.balance_minor))
        .where(is_open)
        .group_by(Invoice.customer_id, Invoice.currency, Invoice.due_date)
    )
    stored_totals = select(AccountTotal.customer_id, AccountTotal.currency,
                           *[getattr(AccountTotal, c) for c in TOTAL_COLUMNS])
    stored_due_dates = select(AccountDueDate.customer_id, AccountDueDate.currency, AccountDueDate.due_date,
                              *[getattr(AccountDueDate, c) for c in DUE_DATE_COLUMNS])

    def keyed(query, width: int) -> dict[tuple, tuple]:
        return {tuple(row[:width]): tuple(row[width:]) for row in db.execute(query)}

    found = [
        ((customer_id, currency, None), column, have, want)
        for (customer_id, currency), column, have, want in _compare(
            keyed(stored_totals, 2), keyed(recomputed_totals, 2), TOTAL_COLUMNS)
    ] + list(_compare(keyed(stored_due_dates, 3), keyed(recomputed_due_dates, 3), DUE_DATE_COLUMNS))
    if not found:
        return []
    customer_ids = {key[0] for key, *_rest in found}
    numbers = dict(db.execute(select(Customer.id, Customer.account_number).where(Customer.id.in_(customer_ids))).all())
    return [
        AccountFigureDifference(numbers.get(customer_id, str(customer_id)), currency, due_date, column, have, want)
        for (customer_id, currency, due_date), column, have, want in found
    ]
