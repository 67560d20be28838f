"""`check_ledger`: the entries stay the truth; the maintained figures are proved against them.

Every invoice's `balance_minor` is compared with the sum of its entries and its
`in_flight_minor` with the sum of the allocations of its payments still in flight. A
difference means something wrote past the triggers (a manual UPDATE, a restored backup of
one table, a migration bug); the report names each one so it can be looked into, and the CLI
exits non-zero. It reads the whole ledger once, with two grouped subqueries: a job, not a page.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from portal.domain.invoicing.models import Invoice
from portal.domain.ledger.models import InvoiceEntry
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
class LedgerReport:
    invoices_checked: int
    differences: list[LedgerDifference] = field(default_factory=list)

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
    checked = db.scalar(select(func.count()).select_from(Invoice))
    return LedgerReport(invoices_checked=int(checked), differences=differences)
