"""Where invoices stand: open balance, money in flight and what may be paid now.

`open balance` = the sum of an invoice's entries. `in flight` = what non-final payment
attempts (new, requires_action, processing: an ACH debit for days) have allocated to it.
`held` = what active disputes hold out of it (`disputes`). `payable` = open balance - in flight
- held: what may be charged now, so nothing is paid twice while money moves and disputed money
waits for its dispute. Both figures are columns of `invoices` kept by database triggers (migration
0002), so a page reads them from the rows it shows and never sums an account's history;
`jobs.check_ledger` proves them against the entries.

The columns are selected explicitly next to the `Invoice` entity: an `Invoice` already in the
session may have been loaded before a trigger moved its figures, and the identity map would
hand back its stale attributes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from portal.domain.core.money import Money
from portal.domain.invoicing.models import Invoice


@dataclass(frozen=True)
class Standing:
    """Where an invoice stands today."""

    invoice: Invoice
    balance: Money
    in_flight: Money
    today: date
    held: Money | None = None  # None: nothing disputed

    @property
    def disputed(self) -> Money:
        """What active disputes hold, never more than the open balance."""
        held = self.held.minor if self.held is not None else 0
        return Money(max(min(held, self.balance.minor), 0), self.invoice.currency)

    @property
    def total(self) -> Money:
        return Money(self.invoice.total_minor, self.invoice.currency)

    @property
    def payable(self) -> Money:
        return Money(max(self.balance.minor - self.in_flight.minor - self.disputed.minor, 0), self.invoice.currency)

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


def standings_query(base: Select | None = None) -> Select:
    """SELECT Invoice, balance_minor, in_flight_minor, held_minor: add WHERE/ORDER BY/LIMIT to taste."""
    query = base if base is not None else select(Invoice)
    return query.add_columns(
        Invoice.balance_minor.label("balance_minor"),
        Invoice.in_flight_minor.label("in_flight_minor"),
        Invoice.held_minor.label("held_minor"),
    )


def to_standings(rows, today: date) -> list[Standing]:
    return [
        Standing(invoice, Money(int(balance), invoice.currency), Money(int(flight), invoice.currency), today,
                 Money(int(held), invoice.currency))
        for invoice, balance, flight, held in rows
    ]


def standings_for(db: Session, invoice_ids: list[int], today: date) -> dict[int, Standing]:
    if not invoice_ids:
        return {}
    rows = db.execute(standings_query().where(Invoice.id.in_(invoice_ids))).all()
    return {s.invoice.id: s for s in to_standings(rows, today)}
